using System.Diagnostics;
using SharpLM.Models;
using SharpLM.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Bench;

public sealed record TrainThroughput(
    string Preset,
    string Precision,
    int Threads,
    long Parameters,
    long TokensPerStep,
    double SecondsPerStep,
    double TokensPerSecond,
    double ModelGflops,
    double PeakGflops,
    double Utilisation,
    double Fp32PeakGflops,
    double Fp32Utilisation,
    double RssStartMb,
    double RssEndMb
);

public sealed record TrainBenchmarkResult(IReadOnlyList<TrainThroughput> Runs, int FastestThreadsBaby, int FastestThreadsSmall);

/// <summary>
/// `sharplm-bench train`: training throughput of full optimiser steps (forward, backward, clipping, AdamW) for the
/// presets and precisions, and model FLOPs utilisation = 6 · parameters · tokens/s ÷ the peak matmul rate measured in
/// the same run with the same thread count, both against the peak of the run's own precision and against the fp32 peak.
/// Each thread count is measured so that the default policy is chosen by data.
/// </summary>
public static class TrainBenchmark
{
    public const int CharVocabulary = 83; // moby-dick's character set; the throughput does not depend on the text

    /// <summary>Best-of-N GFLOP/s of a square matmul in <paramref name="dtype"/> (the machine's practical peak).</summary>
    public static double PeakMatmulGflops(int n = 1024, int repeats = 10, ScalarType dtype = ScalarType.Float32)
    {
        using var scope = NewDisposeScope();
        var a = randn(n, n).to(dtype);
        var b = randn(n, n).to(dtype);
        for (int i = 0; i < 3; i++)
            a.matmul(b).Dispose();
        double best = double.MaxValue;
        for (int i = 0; i < repeats; i++)
        {
            var sw = Stopwatch.StartNew();
            a.matmul(b).Dispose();
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return 2.0 * n * n * n / best / 1e9;
    }

    public static TrainThroughput Measure(
        string preset,
        int threads,
        int steps,
        Models.Layers.Precision precision = Models.Layers.Precision.Fp32,
        IProgress<string>? status = null
    )
    {
        torch.set_num_threads(threads);
        double fp32Peak = PeakMatmulGflops();
        double peak =
            precision == Models.Layers.Precision.Fp32
                ? fp32Peak
                : PeakMatmulGflops(dtype: Models.Layers.MixedPrecision.ComputeType(precision));
        var (shape, o) = TrainingPreset.Get(preset);
        int block = shape.Context;
        torch.manual_seed(1);
        using var model = new Gpt(
            new GptConfig
            {
                VocabSize = CharVocabulary,
                NPositions = block,
                NEmbd = shape.Width,
                NLayer = shape.Layers,
                NHead = shape.Heads,
            }.WithDropout(shape.Dropout)
        );
        model.train();
        model.Precision = precision;
        string label = $"{preset} {Models.Layers.MixedPrecision.Name(precision)}, {threads} thread(s)";
        using var optimizer = new TrainingOptimizer(model, o);
        var rng = new Data.SplitMix64(7);
        double Step()
        {
            var sw = Stopwatch.StartNew();
            using var scope = NewDisposeScope();
            using var s = new Runtime.Scalars();
            optimizer.ZeroGrad();
            for (int micro = 0; micro < o.GradAccumulation; micro++)
            {
                var x = tensor(
                    Enumerable.Range(0, o.BatchSize * block).Select(_ => (long)(rng.Next() % CharVocabulary)).ToArray(),
                    [o.BatchSize, block]
                );
                Gpt.Loss(model.forward(x), x.roll(-1, 1)).div(s[(long)o.GradAccumulation]).backward();
            }
            nn.utils.clip_grad_norm_(optimizer.Parameters, o.GradClip);
            optimizer.Step();
            return sw.Elapsed.TotalSeconds;
        }
        status?.Report($"{label}: warming up");
        Step();
        Step();
        double rssStart = Process.GetCurrentProcess().WorkingSet64 / 1e6;
        var times = new List<double>();
        for (int i = 0; i < steps; i++)
        {
            times.Add(Step());
            status?.Report($"{label}: step {i + 1}/{steps} {times[^1]:F3} s");
        }
        double rssEnd = Process.GetCurrentProcess().WorkingSet64 / 1e6;
        double perStep = times.Order().ElementAt(times.Count / 2); // median: robust to a noisy neighbour
        long tokens = (long)o.BatchSize * block * o.GradAccumulation;
        double tps = tokens / perStep;
        long parameters = model.ParameterCount;
        double modelGflops = 6.0 * parameters * tps / 1e9;
        return new TrainThroughput(
            preset,
            Models.Layers.MixedPrecision.Name(precision),
            threads,
            parameters,
            tokens,
            perStep,
            tps,
            modelGflops,
            peak,
            modelGflops / peak,
            fp32Peak,
            modelGflops / fp32Peak,
            rssStart,
            rssEnd
        );
    }

    public static TrainBenchmarkResult Run(
        IReadOnlyList<string> presets,
        IReadOnlyList<int> threadCounts,
        int babySteps,
        int smallSteps,
        IReadOnlyList<Models.Layers.Precision>? precisions = null,
        IProgress<string>? status = null
    )
    {
        int before = torch.get_num_threads();
        try
        {
            var runs = new List<TrainThroughput>();
            foreach (var preset in presets)
            foreach (int t in threadCounts)
            foreach (var precision in precisions ?? [Models.Layers.Precision.Fp32])
                runs.Add(Measure(preset, t, preset == "small" ? smallSteps : babySteps, precision, status));
            int Fastest(string preset) =>
                runs.Where(r => r.Preset == preset && r.Precision == "fp32")
                    .OrderByDescending(r => r.TokensPerSecond)
                    .Select(r => r.Threads)
                    .FirstOrDefault();
            return new TrainBenchmarkResult(runs, Fastest("baby"), Fastest("small"));
        }
        finally
        {
            torch.set_num_threads(before);
        }
    }
}
