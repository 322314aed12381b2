using System.Text.Json;
using SharpLM.Compression;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Tests;

/// <summary>Int8 weights: the per-channel error bound, the file layout, a quantized run in eval and generate, refusals.</summary>
[Collection(TorchCollection.Name)]
public class QuantizationTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void EachChannelIsWithinHalfAStepOfItsScale(int channelDim)
    {
        Runtime.TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        manual_seed(2);
        // Channels of very different magnitudes, and one all-zero channel.
        var magnitudes = tensor(new float[] { 1e-3f, 1f, 50f, 0f, 3f });
        var w = channelDim == 0 ? randn(5, 40).mul(magnitudes.unsqueeze(1)) : randn(40, 5).mul(magnitudes.unsqueeze(0));
        var (q, scale) = Int8Quantization.Quantize(w, channelDim);
        Assert.Equal(ScalarType.Int8, q.dtype);
        Assert.Equal(channelDim == 0 ? new long[] { 5, 1 } : [1, 5], scale.shape);
        var back = q.to(ScalarType.Float32).mul(scale);
        var step = scale.expand_as(w);
        // Round to nearest: never more than half a quantization step (plus fp32 rounding) from the original.
        var gap = w.sub(back).abs().data<float>().ToArray();
        var half = step.contiguous().data<float>().ToArray();
        Assert.All(Enumerable.Range(0, gap.Length), i => Assert.True(gap[i] <= 0.5 * half[i] + 1e-6, $"element {i}: {gap[i]}"));
        var largest = q.to(ScalarType.Float32).abs().amax([1 - channelDim]);
        Assert.Equal(new float[] { 127, 127, 127, 0, 127 }, largest.data<float>().ToArray()); // each channel uses the full range
        Assert.Equal(1f, scale.flatten()[3].item<float>()); // a zero channel keeps scale 1 and exact zeros
        Assert.Equal(50f * w.abs().amax([1 - channelDim]).flatten()[2].item<float>() / 50f / 127f, scale.flatten()[2].item<float>(), 5);
    }

    [Fact]
    public async Task AQuantizedRunIsSmallerAndEvaluatesAndGeneratesLikeTheOriginal()
    {
        string run = await ServingModels.TrainedGpt();
        string dir = TestData.TempDir();
        string int8 = Path.Combine(dir, "int8");
        var (code, output, err) = await Cli.Run("quantize", "--model", run, "--output", int8, "--json");
        Assert.True(code == 0, err);
        using var report = JsonDocument.Parse(output);
        // A tiny model's biases and LayerNorms (kept in fp32) weigh more than a real model's.
        Assert.True(report.RootElement.GetProperty("sizeRatio").GetDouble() > 2.5, output);
        Assert.True(report.RootElement.GetProperty("maxRelativeError").GetDouble() <= 1 / 254.0 + 1e-6, output);

        var file = IO.Safetensors.File.Open(Path.Combine(int8, "model.safetensors"));
        Assert.Equal("I8", file.Entries["transformer.h.0.attn.c_attn.weight"].DType);
        Assert.Equal(new long[] { 1, 96 }, file.Entries["transformer.h.0.attn.c_attn.weight_scale"].Shape); // Conv1D: per column
        Assert.Equal(new long[] { file.Entries["transformer.wte.weight"].Shape[0], 1 }, file.Entries["transformer.wte.weight_scale"].Shape);
        Assert.Equal("F32", file.Entries["transformer.h.0.ln_1.weight"].DType);
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(int8, "config.json")));
        Assert.Equal("int8-weight", config.RootElement.GetProperty("quantization_config").GetProperty("scheme").GetString());

        double Loss(string json) => JsonDocument.Parse(json).RootElement.GetProperty("loss").GetDouble();
        var a = await Cli.Run("eval", "--model", run, "--json");
        var b = await Cli.Run("eval", "--model", int8, "--json");
        Assert.True(a.Code == 0 && b.Code == 0, a.Err + b.Err);
        Assert.True(Math.Abs(Loss(b.Out) - Loss(a.Out)) < 0.01 * Loss(a.Out) + 1e-3, $"int8 {Loss(b.Out)} vs fp32 {Loss(a.Out)}");

        var g = await Cli.Run("generate", "--model", int8, "--prompt", "User: Call me", "--max-new-tokens", "9", "--temperature", "0");
        Assert.True(g.Code == 0, g.Err);
        Assert.StartsWith("User: Call me Ishmael.", g.Out);

        // Refusals: a quantized run again, a folder of the user's, an existing run without --overwrite.
        var again = await Cli.Run("quantize", "--model", int8, "--output", Path.Combine(dir, "int8-again"));
        Assert.Equal(1, again.Code);
        Assert.Contains("is already quantized", again.Err);
        Assert.Single(again.Err.Trim().Split('\n'));
        string users = Path.Combine(dir, "mine");
        Directory.CreateDirectory(users);
        File.WriteAllText(Path.Combine(users, "notes.txt"), "keep");
        var foreign = await Cli.Run("quantize", "--model", run, "--output", users);
        Assert.Equal(1, foreign.Code);
        Assert.Contains("SharpLM did not write", foreign.Err);
        Assert.Equal("keep", File.ReadAllText(Path.Combine(users, "notes.txt")));
        var exists = await Cli.Run("quantize", "--model", run, "--output", int8);
        Assert.Equal(1, exists.Code);
        Assert.Contains("already holds a run; choose another --output or replace it with --overwrite", exists.Err);
        var replaced = await Cli.Run("quantize", "--model", run, "--output", int8, "--overwrite");
        Assert.True(replaced.Code == 0, replaced.Err);
        Assert.DoesNotContain(Directory.GetDirectories(dir).Select(Path.GetFileName), n => n!.StartsWith("int8.")); // no temporary left
    }

    [Fact]
    public async Task TheBenchmarksCompareEveryVariantWithTheOriginalInOneRun()
    {
        string run = await ServingModels.TrainedGpt();
        var (code, json, err) = await Cli.RunBench(
            "quantize",
            "--model",
            run,
            "--new-tokens",
            "8",
            "--repeats",
            "1",
            "--max-windows",
            "4",
            "--json"
        );
        Assert.True(code == 0, err);
        using var q = JsonDocument.Parse(json);
        var variants = q.RootElement.GetProperty("variants").EnumerateArray().ToList();
        Assert.Equal(
            ["fp32/fp32", "int8/fp32", "fp32/bf16", "int8/bf16"],
            variants.Select(v => $"{v.GetProperty("weights")}/{v.GetProperty("precision")}")
        );
        Assert.Equal(1.0, variants[0].GetProperty("decodeRatio").GetDouble());
        Assert.True(q.RootElement.GetProperty("sizeRatio").GetDouble() > 2.5);

        (code, json, err) = await Cli.RunBench(
            "prune",
            "--model",
            run,
            "--methods",
            "heads",
            "--sparsity",
            "0",
            "0.5",
            "--windows",
            "2",
            "--repeats",
            "1",
            "--json"
        );
        Assert.True(code == 0, err);
        using var p = JsonDocument.Parse(json);
        var rows = p.RootElement.GetProperty("rows").EnumerateArray().ToList();
        Assert.Equal(2, rows.Count);
        Assert.True(rows[1].GetProperty("parameters").GetInt64() < rows[0].GetProperty("parameters").GetInt64());
        Assert.Equal(p.RootElement.GetProperty("valLossDense").GetDouble(), rows[0].GetProperty("valLossPruned").GetDouble(), 6);
    }

    [Fact]
    public async Task AQuantizedClassifierClassifiesAsTheOriginalDoes()
    {
        string run = await ServingModels.TrainedClassifier();
        string int8 = Path.Combine(TestData.TempDir(), "int8");
        var q = await Cli.Run("quantize", "--model", run, "--output", int8);
        Assert.True(q.Code == 0, q.Err);
        string[] texts = ["--text", "the room was superb", "--text", "very room was grim"];
        var a = await Cli.Run(["classify", "--model", run, .. texts, "--json"]);
        var b = await Cli.Run(["classify", "--model", int8, .. texts, "--json"]);
        Assert.True(a.Code == 0 && b.Code == 0, a.Err + b.Err);
        string[] Labels(string json) =>
            [
                .. JsonDocument
                    .Parse(json)
                    .RootElement.GetProperty("predictions")
                    .EnumerateArray()
                    .Select(x => x.GetProperty("label").GetString()!),
            ];
        Assert.Equal(["pos", "neg"], Labels(b.Out));
        Assert.Equal(Labels(a.Out), Labels(b.Out));
    }
}
