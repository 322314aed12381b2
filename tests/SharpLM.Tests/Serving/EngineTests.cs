using SharpLM.Generation;
using SharpLM.Models;
using SharpLM.Serving;

namespace SharpLM.Tests;

/// <summary>The continuous-batching engine gives what the plain generator gives, alone or batched with others.</summary>
[Collection(TorchCollection.Name)]
public class EngineTests
{
    static async Task<(int[] Ids, Finished End)> Generate(GenerationEngine engine, string prompt, GenerationOptions options)
    {
        var ids = new List<int>();
        var handle = engine.Submit(new EngineRequest { PromptIds = engine.Tokenizer.Encode(prompt), Options = options });
        var end = await handle.CompleteAsync(t =>
        {
            if (t.Id >= 0)
                ids.Add(t.Id);
        });
        return (ids.ToArray(), end);
    }

    [Fact]
    public async Task GreedyDecodingMatchesTheGeneratorAloneAndBatched()
    {
        using var model = ModelRegistry.Load(await ServingModels.TrainedGpt());
        using var engine = new GenerationEngine(model, new EngineOptions { MaxBatch = 4 });
        var options = new GenerationOptions
        {
            MaxNewTokens = 30,
            Temperature = 0,
            StopAtEndOfText = false,
        };
        string[] prompts = ["Call me", "Some years ago, never", "User: Call"];
        var generator = new TextGenerator(model.As<Gpt>("a test"), model.Tokenizer);
        var expected = prompts.Select(p => generator.Generate([p], options with { UseKvCache = false })[0]).ToArray();

        foreach (var (p, e) in prompts.Zip(expected))
        {
            var (ids, end) = await Generate(engine, p, options);
            Assert.Equal(e.TokenIds, ids);
            Assert.Equal(e.Text, end.Text);
            Assert.Equal("length", end.Reason);
        }
        // Together: the sequences join and leave the same batch at different steps, each at its own position.
        var batched = await Task.WhenAll(prompts.Select(p => Generate(engine, p, options)));
        for (int i = 0; i < prompts.Length; i++)
            Assert.Equal(expected[i].TokenIds, batched[i].Ids);
    }

    [Fact]
    public async Task SequencesLeavingMidBatchDoNotDisturbTheOthers()
    {
        // Rows that finish early hand their slot to the last row (its cache is moved): the others must not notice.
        using var model = ModelRegistry.Load(await ServingModels.TrainedGpt());
        using var engine = new GenerationEngine(model, new EngineOptions { MaxBatch = 3 });
        var greedy = new GenerationOptions { Temperature = 0, StopAtEndOfText = false };
        var jobs = new (string Prompt, GenerationOptions Options)[]
        {
            ("Call me", greedy with { MaxNewTokens = 4 }),
            ("Some years ago", greedy with { MaxNewTokens = 40 }),
            ("User: Call", greedy with { MaxNewTokens = 9 }),
            ("Assistant:", greedy with { MaxNewTokens = 25, RepetitionPenalty = 1.3 }),
            ("never mind", greedy with { MaxNewTokens = 2 }),
            ("Call me", greedy with { MaxNewTokens = 30, Temperature = 1.5, Seed = 7 }),
            ("how long", greedy with { MaxNewTokens = 17 }),
        };
        var alone = new List<int[]>();
        foreach (var (prompt, options) in jobs)
            alone.Add((await Generate(engine, prompt, options)).Ids);
        var together = await Task.WhenAll(jobs.Select(j => Generate(engine, j.Prompt, j.Options)));
        for (int i = 0; i < jobs.Length; i++)
        {
            Assert.Equal(jobs[i].Options.MaxNewTokens, together[i].Ids.Length);
            Assert.Equal(alone[i], together[i].Ids);
        }
        Assert.Equal(0, engine.Running);
    }

    [Fact]
    public async Task ASeededRequestGetsTheSameTokensAloneOrBatched()
    {
        using var model = ModelRegistry.Load(await ServingModels.TrainedGpt());
        using var engine = new GenerationEngine(model, new EngineOptions { MaxBatch = 8 });
        // A high temperature, so that the seed (not the model's certainty) decides the tokens.
        var seeded = new GenerationOptions
        {
            MaxNewTokens = 40,
            Temperature = 2.5,
            Seed = 42,
            StopAtEndOfText = false,
        };
        var alone = await Generate(engine, "Call me", seeded);
        var others = Enumerable.Range(0, 5).Select(i => Generate(engine, "Some years", seeded with { Seed = 100 + i })).ToList();
        var together = await Generate(engine, "Call me", seeded);
        await Task.WhenAll(others);
        Assert.Equal(alone.Ids, together.Ids);
        Assert.NotEqual(alone.Ids, (await Generate(engine, "Call me", seeded with { Seed = 43 })).Ids);
    }

    [Fact]
    public async Task StopSequencesTheContextAndTheSafetyFilterEndSequences()
    {
        using var model = ModelRegistry.Load(await ServingModels.TrainedGpt());
        var safety = new SafetyFilter(["precisely"]);
        using var engine = new GenerationEngine(model, new EngineOptions { MaxBatch = 2, Safety = safety });
        var greedy = new GenerationOptions
        {
            MaxNewTokens = 200,
            Temperature = 0,
            StopAtEndOfText = false,
        };
        var (_, stopped) = await Generate(engine, "Call me", greedy with { StopSequences = ["years"] });
        Assert.Equal("stop", stopped.Reason);
        Assert.DoesNotContain("years", stopped.Text);
        var (_, full) = await Generate(engine, "Assistant:", greedy);
        Assert.Equal("content_filter", full.Reason); // the text it has learned says "precisely"
        Assert.EndsWith("how long ", full.Text);
        var (ids, _) = await Generate(
            engine,
            "Some",
            greedy with
            {
                StopSequences = [],
                MaxNewTokens = 500,
                Safety = new SafetyFilter(["zzz"]),
            }
        );
        Assert.Equal(128 - model.Tokenizer.Encode("Some").Length + 1, ids.Length); // up to the context (128 positions), one token past it
    }
}
