using System.Text.Json;
using SharpLM.Generation;
using SharpLM.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Tests;

/// <summary>The LSTM language model: carried state, exact resume, generation through the pipeline, evaluation.</summary>
[Collection(TorchCollection.Name)]
public class LstmTests
{
    static readonly Lazy<Task<string>> Data = new(() =>
        TrainingTests.PreparedData(string.Concat(Enumerable.Repeat(ServingModels.Text, 60)))
    );

    static Task<(int Code, string Out, string Err)> Train(string data, string run, int steps, bool resume = false) =>
        resume
            ? Cli.Run("train", "--output", run, "--resume", "--max-steps", $"{steps}", "--json")
            : Cli.Run(
                "train",
                "--model",
                "lstm",
                "--data",
                data,
                "--output",
                run,
                "--preset",
                "tiny",
                "--n-layer",
                "2",
                "--n-embd",
                "48",
                "--block-size",
                "32",
                "--decay-steps",
                "300",
                "--batch-size",
                "8",
                "--max-steps",
                $"{steps}",
                "--eval-interval",
                "20",
                "--lr",
                "1e-2",
                "--json"
            );

    [Fact]
    public void TheStateCarriesAWindowIntoTheNext()
    {
        manual_seed(2);
        using var model = new LstmLanguageModel(
            new LstmConfig
            {
                VocabSize = 20,
                EmbeddingDim = 16,
                HiddenSize = 16,
                NumLayers = 2,
                Bptt = 8,
            }
        );
        model.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = randint(0, 20, [2, 12]);
        var whole = model.Forward(ids, null).Logits;
        var (first, state) = model.Forward(ids[.., ..5], null);
        var (second, _) = model.Forward(ids[.., 5..], state);
        Assert.True(cat([first, second], 1).allclose(whole, rtol: 1e-5, atol: 1e-6));
        // Starting the second window from zeros instead is not the same.
        Assert.False(model.Forward(ids[.., 5..], null).Logits.allclose(whole[.., 5..], rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public async Task AResumedRunEndsWithTheSameWeightsAndState()
    {
        string data = await Data.Value;
        string straight = Path.Combine(TestData.TempDir(), "lstm"),
            resumed = Path.Combine(TestData.TempDir(), "lstm");
        var a = await Train(data, straight, 60);
        Assert.True(a.Code == 0, a.Err);
        var b = await Train(data, resumed, 30);
        Assert.True(b.Code == 0, b.Err);
        var c = await Train(data, resumed, 60, resume: true);
        Assert.True(c.Code == 0, c.Err);
        Assert.Equal(
            File.ReadAllBytes(Path.Combine(straight, "checkpoint", "model.safetensors")),
            File.ReadAllBytes(Path.Combine(resumed, "checkpoint", "model.safetensors"))
        );
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(straight, "config.json")));
        Assert.Equal("sharplm-lstm", config.RootElement.GetProperty("model_type").GetString());
        var names = IO.Safetensors.File.Open(Path.Combine(straight, "checkpoint", "model.safetensors")).Entries.Keys;
        Assert.Contains("training_state.hidden", names); // the carried state travels with the checkpoint
        using var result = JsonDocument.Parse(a.Out);
        Assert.True(result.RootElement.GetProperty("bestValLoss").GetDouble() < 2.0, a.Out); // ln(vocabulary ≈ 30) ≈ 3.4 untrained
    }

    [Fact]
    public async Task GenerateAndEvalWorkThroughThePipeline()
    {
        string data = await Data.Value;
        string run = Path.Combine(TestData.TempDir(), "lstm");
        var t = await Train(data, run, 300);
        Assert.True(t.Code == 0, t.Err);
        var (code, output, err) = await Cli.Run(
            "generate",
            "--model",
            run,
            "--prompt",
            "User: Call me",
            "--max-new-tokens",
            "9",
            "--temperature",
            "0"
        );
        Assert.True(code == 0, err);
        Assert.StartsWith("User: Call me Ishmael.", output);

        // Prompts of different lengths together give what each gives alone (greedy and beams).
        using var pipeline = Pipelines.TextGenerationPipeline.Load(run);
        string[] prompts = ["User: Call", "Assistant: Some years ago", "n"];
        foreach (
            var options in new[]
            {
                new GenerationOptions { MaxNewTokens = 12, Temperature = 0 },
                new GenerationOptions
                {
                    MaxNewTokens = 8,
                    Beams = new BeamSearchOptions { NumBeams = 3 },
                },
            }
        )
        {
            var together = pipeline.Generate(prompts, options);
            for (int i = 0; i < prompts.Length; i++)
                Assert.Equal(pipeline.Generate([prompts[i]], options)[0].TokenIds, together[i].TokenIds);
        }

        (code, output, err) = await Cli.Run("eval", "--model", run, "--json");
        Assert.True(code == 0, err);
        using var eval = JsonDocument.Parse(output);
        Assert.True(eval.RootElement.GetProperty("loss").GetDouble() < 2.0, output);
    }

    [Fact]
    public async Task TheComparisonBenchmarkRuns()
    {
        string output = TestData.TempDir();
        var (code, json, err) = await Cli.RunBench("lstm", "--steps", "10", "--output", output, "--json");
        Assert.True(code == 0, err);
        using var r = JsonDocument.Parse(json);
        long gpt = r.RootElement.GetProperty("gpt").GetProperty("parameters").GetInt64(),
            lstm = r.RootElement.GetProperty("lstm").GetProperty("parameters").GetInt64();
        Assert.InRange((double)lstm / gpt, 0.95, 1.05); // the same size, within the step of one unit of width
        Assert.True(r.RootElement.GetProperty("lstm").GetProperty("tokensPerSecond").GetDouble() > 0);
    }
}
