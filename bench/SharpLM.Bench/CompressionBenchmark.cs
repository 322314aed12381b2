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

    /// <summary>A run's GPT with its validation split, its covering windows (up to maxWindows) and the token bytes.</summary>
    sealed class Validation : IDisposable
    {
        public Gpt Gpt { get; }
        public long[] Starts { get; }
        readonly TokenDataset _data;
        readonly int[] _bytes;

        public Validation(LoadedModel loaded, int? maxWindows)
        {
            Gpt = loaded.As<Gpt>("the benchmark");
            _data = TokenDataset.Open(loaded.Run.DataDir(), "val", Gpt.Config.VocabSize);
            Starts = LanguageModelEvaluator.CoveringWindows(_data, Gpt.Config.NPositions, maxWindows);
            _bytes = LanguageModelMetrics.TokenBytes(loaded.Tokenizer, Gpt.Config.VocabSize);
        }

        public LanguageModelMetrics Evaluate(IReadOnlyList<long> starts) =>
            LanguageModelEvaluator.Evaluate(Gpt, _data, starts, Gpt.Config.NPositions, 8, _bytes);

        public void Dispose() => _data.Dispose();
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
            int windows = 0;
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
                double loss;
                using (var val = new Validation(loaded, maxWindows))
                    (loss, windows) = (val.Evaluate(val.Starts).Loss, val.Starts.Length);
                status?.Report($"{name} weights, {precision.Name()} products: decoding");
                var (tps, ids) = Decode(loaded, prompt, newTokens, repeats);
                if (variants.Count == 0)
                    (baseline, reference) = (tps, ids);
                variants.Add(
                    new QuantizedVariant(name, precision.Name(), loss, Math.Exp(loss), tps, tps / baseline, ids.SequenceEqual(reference))
                );
            }
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
        using var val = new Validation(loaded, windows);
        val.Evaluate(val.Starts.Take(8).ToList());
        var speeds = new List<double>();
        for (int i = 0; i < repeats; i++)
        {
            var sw = Stopwatch.StartNew();
            var m = val.Evaluate(val.Starts);
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
