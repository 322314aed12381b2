using System.Text.Json;
using SharpLM.Compression;
using SharpLM.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Tests;

/// <summary>Pruning: structured pruning equals masking, magnitude pruning's count, the command with recovery, refusals.</summary>
[Collection(TorchCollection.Name)]
public class PruningTests
{
    static Gpt NewModel(int seed = 3)
    {
        Runtime.TorchRuntime.EnsureLoaded();
        manual_seed(seed);
        var gpt = new Gpt(
            new GptConfig
            {
                VocabSize = 40,
                NPositions = 16,
                NEmbd = 48,
                NLayer = 2,
                NHead = 4,
            }.WithDropout(0)
        );
        // Random biases too, so that a dropped neuron's GELU(bias) would show if it leaked through.
        using var noGrad = no_grad();
        foreach (var (name, p) in gpt.named_parameters().Where(p => p.name.EndsWith(".bias")))
            p.normal_(0, 0.1);
        gpt.eval();
        return gpt;
    }

    [Theory]
    [InlineData(PruningMethod.Heads, 0.5, 2)]
    [InlineData(PruningMethod.Heads, 0.25, 3)]
    [InlineData(PruningMethod.Neurons, 0.75, 48)]
    public void AStructurallyPrunedModelGivesExactlyTheMaskedModelsLogits(PruningMethod method, double sparsity, int remaining)
    {
        using var gpt = NewModel();
        using var small = Pruning.Structured(gpt, method, sparsity);
        small.eval();
        if (method == PruningMethod.Heads)
            Assert.Equal((remaining, 12), (small.Config.NHead, small.Config.HeadDim));
        else
            Assert.Equal(remaining, small.Config.InnerDim);
        Assert.True(small.ParameterCount < gpt.ParameterCount);
        Assert.Equal(small.Config.ParameterCount, small.ParameterCount);

        using var scope = NewDisposeScope();
        var ids = randint(0, 40, [3, 16]);
        var original = gpt.forward(ids);
        Pruning.MaskInPlace(gpt, method, sparsity);
        var masked = gpt.forward(ids);
        var pruned = small.forward(ids);
        Assert.True(pruned.allclose(masked, rtol: 1e-5, atol: 1e-5), $"largest gap {pruned.sub(masked).abs().max().item<float>()}");
        Assert.False(masked.allclose(original, rtol: 1e-3, atol: 1e-3)); // the masking did remove something

        // The smaller model decodes with its KV cache as it computes without one.
        using var cache = small.NewCache(3);
        var first = small.Forward(ids[.., ..10], cache);
        var rest = small.Forward(ids[.., 10..], cache);
        Assert.True(cat([first, rest], 1).allclose(pruned, rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void MagnitudePruningZeroesTheGloballySmallestBlockWeights()
    {
        using var gpt = NewModel();
        var before = gpt.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        var (config, masks) = Pruning.Prune(gpt, PruningMethod.Magnitude, 0.6);
        Assert.Equal(gpt.Config, config);
        Assert.NotNull(masks);
        long total = masks!.Values.Sum(m => m.numel());
        long kept = masks.Values.Sum(m => m.sum().item<long>());
        Assert.Equal((long)Math.Round(0.4 * total), kept);
        using var scope = NewDisposeScope();
        var p = gpt.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        double largestPruned = 0,
            smallestKept = double.MaxValue;
        foreach (var (name, mask) in masks)
        {
            Assert.True(p[name].detach().masked_select(mask.logical_not()).abs().sum().item<float>() == 0);
            // kept weights unchanged
            Assert.True(p[name].detach().masked_select(mask).eq(before[name].masked_select(mask)).all().item<bool>());
            var pruned = before[name].masked_select(mask.logical_not()).abs();
            if (pruned.numel() > 0)
                largestPruned = Math.Max(largestPruned, pruned.max().item<float>());
            smallestKept = Math.Min(smallestKept, before[name].masked_select(mask).abs().min().item<float>());
        }
        Assert.True(largestPruned <= smallestKept); // global: no kept weight is smaller than a pruned one
        Assert.True(p["wte.weight"].detach().eq(before["wte.weight"]).all().item<bool>()); // embeddings are not pruned
        foreach (var m in masks.Values)
            m.Dispose();
    }

    [Fact]
    public async Task PruneTrainsARecoveryKeepingTheZerosAndTheSmallerRunWorks()
    {
        string run = await ServingModels.TrainedGpt();
        string dir = TestData.TempDir();
        string magnitude = Path.Combine(dir, "magnitude"),
            heads = Path.Combine(dir, "heads");
        var (code, output, err) = await Cli.Run(
            "prune",
            "--model",
            run,
            "--output",
            magnitude,
            "--sparsity",
            "0.5",
            "--finetune-steps",
            "30",
            "--json"
        );
        Assert.True(code == 0, err);
        using (var r = JsonDocument.Parse(output))
        {
            var root = r.RootElement;
            Assert.Equal(root.GetProperty("parametersBefore").GetInt64(), root.GetProperty("parametersAfter").GetInt64());
            // recovery helped
            Assert.True(root.GetProperty("valLossRecovered").GetDouble() < root.GetProperty("valLossPruned").GetDouble(), output);
        }
        // After recovery training the pruned half is still zero in the saved weights.
        using (var loaded = Kinds.ModelRegistry.Load(magnitude))
        {
            var gpt = loaded.As<Gpt>("a test");
            using var scope = NewDisposeScope();
            var blocks = gpt.named_parameters().Where(p => p.name.StartsWith("h.") && p.name.EndsWith(".weight") && p.parameter.dim() == 2);
            long zeros = blocks.Sum(p => p.parameter.data<float>().ToArray().LongCount(x => x == 0)),
                all = blocks.Sum(p => p.parameter.numel());
            Assert.True(zeros >= all / 2, $"{zeros} of {all} zero");
        }

        (code, output, err) = await Cli.Run("prune", "--model", run, "--output", heads, "--method", "heads", "--sparsity", "0.5", "--json");
        Assert.True(code == 0, err);
        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(heads, "config.json"))))
        {
            var c = config.RootElement;
            Assert.Equal(c.GetProperty("n_embd").GetInt32() / 2, c.GetProperty("head_dim").GetInt32());
            Assert.Equal(1, c.GetProperty("n_head").GetInt32());
        }
        var g = await Cli.Run("generate", "--model", heads, "--prompt", "User:", "--max-new-tokens", "4");
        Assert.True(g.Code == 0, g.Err);
        var e = await Cli.Run("eval", "--model", heads, "--json");
        Assert.True(e.Code == 0, e.Err);

        foreach (
            var (args, message) in new[]
            {
                (new[] { "--sparsity", "1" }, "sparsity must be in [0, 1)"),
                (["--sparsity", "-0.1"], "sparsity must be in [0, 1)"),
                (["--sparsity", "0.9", "--method", "heads"], "would remove all 2 heads"),
                (["--sparsity", "0.5", "--finetune-steps", "-1"], "--finetune-steps must not be negative"),
            }
        )
        {
            var bad = await Cli.Run(["prune", "--model", run, "--output", Path.Combine(dir, "bad"), .. args]);
            Assert.Equal(1, bad.Code);
            Assert.Contains(message, bad.Err);
            Assert.Single(bad.Err.Trim().Split('\n'));
        }
        var mlm = await ServingModels.TrainedMlm();
        var notGpt = await Cli.Run("prune", "--model", mlm, "--output", Path.Combine(dir, "bad"), "--sparsity", "0.5");
        Assert.Equal(1, notGpt.Code);
        Assert.Contains("pruning applies to GPT language models", notGpt.Err);
    }
}
