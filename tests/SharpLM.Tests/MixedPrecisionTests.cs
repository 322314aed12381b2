using System.Text.Json;
using SharpLM.Models;
using SharpLM.Models.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Tests;

/// <summary>bf16 mixed precision: closeness to fp32, fp32 master weights and gradients, exact resume, refusals.</summary>
[Collection(TorchCollection.Name)]
public class MixedPrecisionTests
{
    static readonly Lazy<Task<string>> Data = new(() =>
        TrainingTests.PreparedData(string.Concat(Enumerable.Repeat(ServingModels.Text, 60)))
    );

    static Gpt NewModel()
    {
        Runtime.TorchRuntime.EnsureLoaded();
        manual_seed(11);
        return new Gpt(
            new GptConfig
            {
                VocabSize = 50,
                NPositions = 32,
                NEmbd = 64,
                NLayer = 2,
                NHead = 4,
            }.WithDropout(0)
        );
    }

    [Fact]
    public void Bf16LogitsAndLossStayCloseToFp32AndGradientsReachTheFp32Weights()
    {
        using var model = NewModel();
        using var scope = NewDisposeScope();
        var ids = randint(0, 50, [4, 32]);
        var targets = ids.roll(-1, 1);
        var fp32 = model.forward(ids);
        var fp32Loss = Gpt.Loss(fp32, targets).item<float>();
        model.Precision = Precision.Bf16;
        var bf16 = model.forward(ids);
        Assert.Equal(ScalarType.Float32, bf16.dtype); // logits come back in fp32 for the loss and the samplers
        var loss = Gpt.Loss(bf16, targets);
        double gap = bf16.sub(fp32).abs().max().item<float>();
        double scale = fp32.abs().max().item<float>();
        // bf16 keeps 8 significant bits (relative rounding 2^-9 ≈ 0.2%); a few layers of products stay within a few percent.
        Assert.True(gap < 0.05 * scale, $"largest logit difference {gap} of {scale}");
        Assert.True(Math.Abs(loss.item<float>() - fp32Loss) < 0.01 * fp32Loss, $"bf16 loss {loss.item<float>()} vs fp32 {fp32Loss}");
        Assert.False(bf16.allclose(fp32, rtol: 0, atol: 1e-6)); // it really computed in bf16

        loss.backward();
        foreach (var (name, p) in model.named_parameters())
        {
            Assert.Equal(ScalarType.Float32, p.dtype);
            Assert.True(p.grad is not null && p.grad.dtype == ScalarType.Float32, name);
        }
        using var cache = model.NewCache(1);
        Assert.Equal(ScalarType.BFloat16, cache.Stored(0).Keys.dtype); // the KV cache holds what attention reads: bf16
    }

    [Fact]
    public void Bf16TrainingAttentionWithDropoutIsCausalAndMatchesFp32WhenNothingIsDropped()
    {
        Runtime.TorchRuntime.EnsureLoaded();
        manual_seed(12);
        // A dropout probability above zero takes the written-out bf16 attention; 1e-12 drops nothing in practice.
        using var model = new Gpt(
            new GptConfig
            {
                VocabSize = 50,
                NPositions = 32,
                NEmbd = 64,
                NLayer = 2,
                NHead = 4,
                AttnPdrop = 1e-12,
                EmbdPdrop = 0,
                ResidPdrop = 0,
            }
        );
        model.train();
        using var scope = NewDisposeScope();
        var ids = randint(0, 50, [2, 32]);
        var fp32 = model.forward(ids);
        model.Precision = Precision.Bf16;
        var bf16 = model.forward(ids);
        double gap = bf16.sub(fp32).abs().max().item<float>();
        Assert.True(gap < 0.05 * fp32.abs().max().item<float>(), $"largest logit difference {gap}");
        // Causal: a later token never changes an earlier position's logits.
        var values = ids.data<long>().ToArray();
        foreach (int row in new[] { 0, 1 })
            values[row * 32 + 20] = (values[row * 32 + 20] + 1) % 50;
        var changed = tensor(values, [2, 32]);
        var after = model.forward(changed);
        Assert.True(after[.., ..20].eq(bf16[.., ..20]).all().item<bool>());
        Assert.False(after[.., 20..].eq(bf16[.., 20..]).all().item<bool>());
    }

    static Task<(int Code, string Out, string Err)> Train(string data, string run, int steps, params string[] extra) =>
        Cli.Run([
            "train",
            "--data",
            data,
            "--output",
            run,
            "--preset",
            "tiny",
            "--n-embd",
            "64",
            "--block-size",
            "32",
            "--decay-steps",
            "300",
            "--max-steps",
            $"{steps}",
            "--eval-interval",
            "20",
            "--json",
            .. extra,
        ]);

    [Fact]
    public async Task ABf16RunResumesExactlyAndRecordsItsPrecision()
    {
        string data = await Data.Value;
        string straight = Path.Combine(TestData.TempDir(), "bf16"),
            resumed = Path.Combine(TestData.TempDir(), "bf16"),
            fp32 = Path.Combine(TestData.TempDir(), "fp32");
        var a = await Train(data, straight, 60, "--precision", "bf16");
        Assert.True(a.Code == 0, a.Err);
        var b = await Train(data, resumed, 40, "--precision", "bf16");
        Assert.True(b.Code == 0, b.Err);
        var c = await Cli.Run("train", "--output", resumed, "--resume", "--max-steps", "60", "--json");
        Assert.True(c.Code == 0, c.Err);
        Assert.Equal(
            File.ReadAllBytes(Path.Combine(straight, "checkpoint", "model.safetensors")),
            File.ReadAllBytes(Path.Combine(resumed, "checkpoint", "model.safetensors"))
        );
        using var training = JsonDocument.Parse(File.ReadAllText(Path.Combine(straight, "training.json")));
        Assert.Equal("bf16", training.RootElement.GetProperty("precision").GetString());

        // The same run in fp32 learns as much (within a few percent) but not the same bits.
        var d = await Train(data, fp32, 60);
        Assert.True(d.Code == 0, d.Err);
        double Best(string json) => JsonDocument.Parse(json).RootElement.GetProperty("bestValLoss").GetDouble();
        Assert.True(Math.Abs(Best(a.Out) - Best(d.Out)) < 0.03 * Best(d.Out), $"bf16 {Best(a.Out)} vs fp32 {Best(d.Out)}");
        Assert.NotEqual(
            File.ReadAllBytes(Path.Combine(straight, "checkpoint", "model.safetensors")),
            File.ReadAllBytes(Path.Combine(fp32, "checkpoint", "model.safetensors"))
        );

        // Inference in bf16: eval and generate.
        var e = await Cli.Run("eval", "--model", straight, "--precision", "bf16", "--json");
        Assert.True(e.Code == 0, e.Err);
        var g = await Cli.Run("generate", "--model", straight, "--prompt", "User:", "--max-new-tokens", "5", "--precision", "bf16");
        Assert.True(g.Code == 0, g.Err);
        Assert.StartsWith("User:", g.Out);

        // A resumed run keeps its precision; models without bf16 say so.
        var f = await Cli.Run("train", "--output", resumed, "--resume", "--max-steps", "80", "--precision", "fp32");
        Assert.Equal(1, f.Code);
        Assert.Contains("--precision fp32 contradicts the run's training.json (bf16)", f.Err);
        var lstm = await Train(data, Path.Combine(TestData.TempDir(), "lstm"), 10, "--model", "lstm", "--precision", "bf16");
        Assert.Equal(1, lstm.Code);
        Assert.Contains("precision bf16 is supported for GPT language models", lstm.Err);
        Assert.DoesNotContain("   at ", lstm.Err); // a message, not a stack trace
    }
}
