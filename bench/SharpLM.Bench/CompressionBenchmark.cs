using System.Diagnostics;
using SharpLM.Compression;
using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Generation;
using SharpLM.Kinds;
using SharpLM.Models;
using SharpLM.Models.Layers;
using SharpLM.Training;
using TorchSharp;

namespace SharpLM.Bench;

public sealed record QuantizedVariant(
    string Weights,
    string Precision,
    double ValLoss,
    double Perplexity,
    double DecodeTokensPerSecond,
    double DecodeRatio,
    bool SameGreedyTokens
);

public sealed record QuantizeBenchmarkResult(
    string Model,
    long Parameters,
    int Threads,
    long Fp32Bytes,
    long Int8Bytes,
    double SizeRatio,
    int ValWindows,
    int NewTokens,
    IReadOnlyList<QuantizedVariant> Variants
);

public sealed record PruningRow(
    string Method,
    double Sparsity,
    long Parameters,
    long ZeroWeights,
    double ValLossPruned,
    double? ValLossRecovered,
    double ForwardTokensPerSecond,
    double SpeedRatio
);

public sealed record PruneBenchmarkResult(
    string Model,
    double ValLossDense,
    int FinetuneSteps,
    int Threads,
    IReadOnlyList<PruningRow> Rows
);

/// <summary>
/// `sharplm-bench quantize` and `sharplm-bench prune`: what compression costs and gains on a trained GPT run, every
/// variant against the fp32 original measured in the same process, same threads, same windows, after a warm-up.
/// </summary>
public static class CompressionBenchmark
{
    static string Scratch(string name) => Path.Combine(Path.GetTempPath(), $"sharplm-bench-{name}-{Guid.NewGuid():N}");

    /// <summary>Full validation loss of a run's model, in its current precision, over the run's data.</summary>
    static double ValLoss(LoadedModel loaded, int? maxWindows)
    {
        var gpt = loaded.As<Gpt>("the benchmark");
        using var data = TokenDataset.Open(loaded.Run.DataDir(), "val", gpt.Config.VocabSize);
        var starts = LanguageModelEvaluator.CoveringWindows(data, gpt.Config.NPositions, maxWindows);
        var bytes = LanguageModelMetrics.TokenBytes(loaded.Tokenizer, gpt.Config.VocabSize);
        return LanguageModelEvaluator.Evaluate(gpt, data, starts, gpt.Config.NPositions, 8, bytes).Loss;
    }

    /// <summary>The first tokens of the run's validation split, as text: a prompt the model's vocabulary can encode.</summary>
    static string ValidationPrompt(LoadedModel loaded, int tokens)
    {
        using var data = TokenDataset.Open(loaded.Run.DataDir(), "val");
        using var scope = torch.NewDisposeScope();
        var (x, _) = data.Windows([0L], tokens);
        return loaded.Tokenizer.Decode(x.data<long>().Select(i => (int)i).ToArray());
    }

    static (double Tps, int[] Ids) Decode(LoadedModel loaded, string prompt, int newTokens, int repeats)
    {
        var generator = new TextGenerator(loaded.As<Gpt>("the benchmark"), loaded.Tokenizer);
        var options = new GenerationOptions
        {
            MaxNewTokens = newTokens,
            Temperature = 0,
            StopAtEndOfText = false,
        };
        generator.Generate([prompt], options with { MaxNewTokens = 8 }); // warm-up
        var times = new List<double>();
        int[] ids = [];
        for (int i = 0; i < repeats; i++)
        {
            var sw = Stopwatch.StartNew();
            ids = generator.Generate([prompt], options)[0].TokenIds;
            times.Add(ids.Length / sw.Elapsed.TotalSeconds);
        }
        return (times.Order().ElementAt(times.Count / 2), ids);
    }

    public static QuantizeBenchmarkResult Quantize(
        string run,
        int newTokens,
        int repeats,
        int? maxWindows,
        IProgress<string>? status = null
    )
    {
        string output = Scratch("int8");
        try
        {
            status?.Report("quantizing");
            var report = Int8Quantization.QuantizeRun(run, output);
            using var fp32 = ModelRegistry.Load(run);
            using var int8 = ModelRegistry.Load(output);
            string prompt = ValidationPrompt(fp32, 16);
            var variants = new List<QuantizedVariant>();
            double baseline = 0;
            int[] reference = [];
            foreach (
                var (name, loaded, precision) in new[]
                {
                    ("fp32", fp32, Precision.Fp32),
                    ("int8", int8, Precision.Fp32),
                    ("fp32", fp32, Precision.Bf16),
                    ("int8", int8, Precision.Bf16),
                }
            )
            {
                loaded.UsePrecision(precision);
                status?.Report($"{name} weights, {precision.Name()} products: validation loss");
                double loss = ValLoss(loaded, maxWindows);
                status?.Report($"{name} weights, {precision.Name()} products: decoding");
                var (tps, ids) = Decode(loaded, prompt, newTokens, repeats);
                if (variants.Count == 0)
                    (baseline, reference) = (tps, ids);
                variants.Add(
                    new QuantizedVariant(name, precision.Name(), loss, Math.Exp(loss), tps, tps / baseline, ids.SequenceEqual(reference))
                );
            }
            int windows = 0;
            using (var data = TokenDataset.Open(fp32.Run.DataDir(), "val"))
                windows = LanguageModelEvaluator.CoveringWindows(data, fp32.As<Gpt>("x").Config.NPositions, maxWindows).Length;
            return new QuantizeBenchmarkResult(
                fp32.Run.Path,
                fp32.Parameters,
                torch.get_num_threads(),
                report.OriginalBytes,
                report.QuantizedBytes,
                report.SizeRatio,
                windows,
                newTokens,
                variants
            );
        }
        finally
        {
            if (Directory.Exists(output))
                IO.OutputFolder.Delete(output, IO.FolderKind.Run);
        }
    }

    /// <summary>Forward-pass tokens/s over the same validation windows (median of <paramref name="repeats"/>, after a warm-up).</summary>
    static double ForwardSpeed(LoadedModel loaded, int windows, int repeats)
    {
        var gpt = loaded.As<Gpt>("the benchmark");
        using var data = TokenDataset.Open(loaded.Run.DataDir(), "val", gpt.Config.VocabSize);
        var starts = LanguageModelEvaluator.CoveringWindows(data, gpt.Config.NPositions, windows);
        var bytes = LanguageModelMetrics.TokenBytes(loaded.Tokenizer, gpt.Config.VocabSize);
        LanguageModelEvaluator.Evaluate(gpt, data, starts.Take(8).ToList(), gpt.Config.NPositions, 8, bytes);
        var speeds = new List<double>();
        for (int i = 0; i < repeats; i++)
        {
            var sw = Stopwatch.StartNew();
            var m = LanguageModelEvaluator.Evaluate(gpt, data, starts, gpt.Config.NPositions, 8, bytes);
            speeds.Add(m.Tokens / sw.Elapsed.TotalSeconds);
        }
        return speeds.Order().ElementAt(speeds.Count / 2);
    }

    public static PruneBenchmarkResult Prune(
        string run,
        IReadOnlyList<PruningMethod> methods,
        IReadOnlyList<double> sparsities,
        int finetuneSteps,
        int windows,
        int repeats,
        IProgress<string>? status = null
    )
    {
        var rows = new List<PruningRow>();
        double dense = double.NaN,
            baseline = double.NaN;
        using (var original = ModelRegistry.Load(run))
        {
            status?.Report("dense model: speed");
            ForwardSpeed(original, windows, 1); // a whole warm-up pass: the first one in a process is slower
            baseline = ForwardSpeed(original, windows, repeats);
        }
        foreach (var method in methods)
        foreach (double sparsity in sparsities)
        {
            string output = Scratch("pruned");
            try
            {
                status?.Report($"{method} {sparsity:P0}: pruning{(finetuneSteps > 0 ? $" and {finetuneSteps} recovery steps" : "")}");
                var r = Pruning.Run(
                    new PruningRequest
                    {
                        Model = run,
                        Output = output,
                        Method = method,
                        Sparsity = sparsity,
                        // sparsity 0 trains the same steps too: recovery is also more training, and this row says how much
                        FinetuneSteps = finetuneSteps,
                    }
                );
                dense = r.ValLossBefore;
                using var pruned = ModelRegistry.Load(output);
                status?.Report($"{method} {sparsity:P0}: speed");
                double speed = ForwardSpeed(pruned, windows, repeats);
                rows.Add(
                    new PruningRow(
                        r.Method,
                        sparsity,
                        r.ParametersAfter,
                        r.ZeroWeights,
                        r.ValLossPruned,
                        r.ValLossRecovered,
                        speed,
                        speed / baseline
                    )
                );
            }
            finally
            {
                if (Directory.Exists(output))
                    IO.OutputFolder.Delete(output, IO.FolderKind.Run);
            }
        }
        return new PruneBenchmarkResult(Path.GetFullPath(run), dense, finetuneSteps, torch.get_num_threads(), rows);
    }
}
