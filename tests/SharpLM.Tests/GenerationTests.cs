using SharpLM.Generation;
using SharpLM.Models;
using SharpLM.Tokenization;
using SharpLM.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Tests;

[Collection(TorchCollection.Name)]
public class GenerationTests
{
    static readonly Lazy<Task<(Gpt Model, Tokenizer Tokenizer)>> Trained = new(async () =>
    {
        // A small model trained for a few seconds on moby-dick-like text: its predictions are confident enough
        // that greedy decoding is not decided by rounding noise.
        string data = await TrainingTests.PreparedData(
            string.Concat(
                Enumerable.Repeat("Call me Ishmael. Some years ago, never mind how long precisely, having little money in my purse. ", 60)
            )
        );
        string run = TestData.TempDir();
        var o = Tiny.Options with { MaxSteps = 150, LearningRate = 3e-3, EvalInterval = 150 };
        using (var task = Tiny.LanguageModel(data, o, Tiny.Shape with { Context = 24 }))
            Tiny.Train(task, run);
        return Tiny.LoadGpt(run);
    });

    [Fact]
    public void TopKKeepsTheKLargestLogits()
    {
        using var scope = NewDisposeScope();
        var logits = tensor(new float[] { 1, 4, 2, 3, 0, 4, 2, 1 }, [2, 4]);
        var k2 = LogitsProcessor.TopK(logits, 2);
        float ninf = float.NegativeInfinity;
        Assert.Equal(new float[] { ninf, 4, ninf, 3, ninf, 4, 2, ninf }, k2.data<float>().ToArray());
        Assert.True(GptTests.Same(logits, LogitsProcessor.TopK(logits, 0)));
        Assert.True(GptTests.Same(logits, LogitsProcessor.TopK(logits, 10)));
    }

    [Fact]
    public void TopPKeepsTheSmallestSetReachingP()
    {
        using var scope = NewDisposeScope();
        // probabilities 0.05, 0.5, 0.15, 0.3 (unsorted on purpose)
        var logits = tensor(new[] { 0.05, 0.5, 0.15, 0.3 }.Select(p => (float)Math.Log(p)).ToArray(), [1, 4]);
        bool[] Kept(double p) => LogitsProcessor.TopP(logits, p).data<float>().ToArray().Select(float.IsFinite).ToArray();
        Assert.Equal(new[] { false, true, false, false }, Kept(0.4)); // 0.5 alone reaches 0.4
        Assert.Equal(new[] { false, true, false, true }, Kept(0.75)); // 0.5 + 0.3
        Assert.Equal(new[] { false, true, true, true }, Kept(0.9)); // + 0.15 = 0.95
        Assert.Equal(new[] { true, true, true, true }, Kept(1.0));
        Assert.Equal(new[] { false, true, false, false }, Kept(1e-9)); // always at least one token
    }

    [Fact]
    public void RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogits()
    {
        using var scope = NewDisposeScope();
        var logits = tensor(new float[] { 2, -2, 1, 3 }, [1, 4]);
        var penalised = LogitsProcessor.RepetitionPenalty(
            logits,
            [
                [0, 1, 1],
            ],
            2.0
        );
        Assert.Equal(new float[] { 1, -4, 1, 3 }, penalised.data<float>().ToArray());
        Assert.Equal(new float[] { 2, -2, 1, 3 }, logits.data<float>().ToArray()); // input untouched
    }

    [Fact]
    public void GreedyIsArgmaxAndTemperatureSamplingFollowsTheDistribution()
    {
        using var scope = NewDisposeScope();
        var logits = tensor(new[] { 0.1, 0.6, 0.3 }.Select(p => (float)Math.Log(p)).ToArray(), [1, 3]).expand(4000, 3);
        using var g = new torch.Generator(7);
        var none = Enumerable.Range(0, 4000).Select(_ => (IReadOnlyList<int>)[]).ToArray();
        Assert.All(LogitsProcessor.Sample(logits, new GenerationOptions { Temperature = 0 }, none, g), t => Assert.Equal(1, t));
        var draws = LogitsProcessor.Sample(logits, new GenerationOptions { Temperature = 1 }, none, g);
        Assert.Equal(0.6, draws.Count(t => t == 1) / 4000.0, 0.03);
        Assert.Equal(0.1, draws.Count(t => t == 0) / 4000.0, 0.02);
        var topK1 = LogitsProcessor.Sample(logits, new GenerationOptions { Temperature = 1, TopK = 1 }, none, g);
        Assert.All(topK1, t => Assert.Equal(1, t));
    }

    [Fact]
    public async Task SameSeedSameTextDifferentSeedDifferentText()
    {
        var (model, tok) = await Trained.Value;
        var gen = new TextGenerator(model, tok);
        var o = new GenerationOptions
        {
            MaxNewTokens = 60,
            Temperature = 1.2,
            Seed = 3,
        };
        string a = gen.Generate(["Call me"], o)[0].Text;
        Assert.Equal(a, gen.Generate(["Call me"], o)[0].Text);
        Assert.NotEqual(a, gen.Generate(["Call me"], o with { Seed = 4 })[0].Text);
        Assert.Equal(60, gen.Generate(["Call me"], o)[0].TokenIds.Length);
    }

    [Fact]
    public async Task KvCacheDecodingEqualsFullRecomputation()
    {
        var (model, tok) = await Trained.Value;
        var gen = new TextGenerator(model, tok);
        // 80 new tokens with a 24-token context: the cache fills and the window slides.
        foreach (
            var o in new[]
            {
                new GenerationOptions { MaxNewTokens = 80, Temperature = 0 },
                new GenerationOptions
                {
                    MaxNewTokens = 80,
                    Temperature = 0.9,
                    Seed = 11,
                },
            }
        )
        {
            var cached = gen.Generate(["Some years"], o)[0];
            var full = gen.Generate(["Some years"], o with { UseKvCache = false })[0];
            Assert.Equal(full.TokenIds, cached.TokenIds);
        }
    }

    [Fact]
    public async Task CachedLogitsMatchAFullForwardPass()
    {
        var (model, _) = await Trained.Value;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = randint(0, model.Config.VocabSize, [2, 20]);
        var full = model.forward(ids);
        using var cache = model.NewCache(2);
        var prefix = model.Forward(ids[.., ..12], cache);
        var steps = new List<Tensor> { prefix };
        for (int t = 12; t < 20; t++)
            steps.Add(model.Forward(ids[.., t..(t + 1)], cache));
        Assert.True(full.allclose(cat(steps, 1), rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public async Task BatchedPromptsOfDifferentLengthsMatchSinglePrompts()
    {
        var (model, tok) = await Trained.Value;
        var gen = new TextGenerator(model, tok);
        var o = new GenerationOptions { MaxNewTokens = 30, Temperature = 0 };
        string[] prompts = ["C", "Some years ago, never", "having little"];
        var batched = gen.Generate(prompts, o);
        for (int i = 0; i < prompts.Length; i++)
            Assert.Equal(gen.Generate([prompts[i]], o)[0].TokenIds, batched[i].TokenIds);
    }

    [Fact]
    public async Task StopSequencesCutTheTextAndStreamingAddsUpToIt()
    {
        var (model, tok) = await Trained.Value;
        var gen = new TextGenerator(model, tok);
        var o = new GenerationOptions { MaxNewTokens = 100, Temperature = 0 };
        string free = gen.Generate(["Call me"], o)[0].Text;
        int cut = free.IndexOf('.');
        Assert.True(cut > 0, free);
        var streamed = new System.Text.StringBuilder();
        gen.TextProduced += (_, text) => streamed.Append(text);
        var stopped = gen.Generate(["Call me"], o with { StopSequences = [". ", "zzz"] })[0];
        Assert.Equal("stop", stopped.FinishReason);
        Assert.Equal(free[..cut], stopped.Text);
        Assert.Equal(stopped.Text, streamed.ToString());
    }

    [Fact]
    public async Task LongPromptsAreCroppedFromTheLeftWithAWarning()
    {
        var (model, tok) = await Trained.Value;
        var gen = new TextGenerator(model, tok);
        var warnings = new List<string>();
        gen.Warning += warnings.Add;
        string longPrompt = string.Concat(Enumerable.Repeat("money in my purse. ", 5));
        var r = gen.Generate([longPrompt], new GenerationOptions { MaxNewTokens = 5, Temperature = 0 })[0];
        Assert.True(r.PromptCropped);
        Assert.Equal(24, r.PromptTokens);
        Assert.Contains("using its last 24 tokens", Assert.Single(warnings));
        Assert.Equal(
            gen.Generate([longPrompt[^24..]], new GenerationOptions { MaxNewTokens = 5, Temperature = 0 })[0].TokenIds,
            r.TokenIds
        );
    }

    [Theory]
    [InlineData(-1.0, 0, 1.0, 1.0, "temperature must be")]
    [InlineData(1.0, -1, 1.0, 1.0, "top_k must be")]
    [InlineData(1.0, 0, 0.0, 1.0, "top_p must be")]
    [InlineData(1.0, 0, 1.5, 1.0, "top_p must be")]
    [InlineData(1.0, 0, 1.0, 0.0, "repetition_penalty must be")]
    public void BadGenerationOptionsAreRejected(double temperature, int topK, double topP, double penalty, string expected)
    {
        var o = new GenerationOptions
        {
            Temperature = temperature,
            TopK = topK,
            TopP = topP,
            RepetitionPenalty = penalty,
        };
        Assert.Contains(expected, Assert.Throws<SharpLMException>(() => o.Validate()).Message);
    }

    [Fact]
    public async Task GenerateWithASafetyListCutsOutputAndRefusesPrompts()
    {
        string run = await ServingModels.TrainedGpt(); // learned "User: Call me Ishmael.\nAssistant: Some years ago, ..."
        string list = Path.Combine(TestData.TempDir(), "blocked.txt");
        File.WriteAllLines(list, ["# one entry per line", "never mind", "re:whal(e|ing)"]);
        string[] args = ["generate", "--model", run, "--temperature", "0", "--max-new-tokens", "40", "--safety", list];
        var r = await Cli.Run([.. args, "--prompt", "User: Call me Ishmael.\nAssistant:", "--json"]);
        Assert.True(r.Code == 0, r.Err);
        var result = System.Text.Json.JsonDocument.Parse(r.Out).RootElement.GetProperty("results")[0];
        Assert.Equal(" Some years ago, ", result.GetProperty("text").GetString());
        Assert.Equal("content_filter", result.GetProperty("finishReason").GetString());

        var refused = await Cli.Run([.. args, "--prompt", "the whaling voyage"]);
        Assert.Equal(1, refused.Code);
        Assert.Equal("error: Prompt 1 was refused: it matches an entry of the safety filter.", refused.Err.Trim());
        var missing = await Cli.Run([.. args[..^1], "nope.txt", "--prompt", "x"]);
        Assert.Equal(1, missing.Code);
        Assert.Contains("Safety filter file nope.txt does not exist", missing.Err);
    }
}
