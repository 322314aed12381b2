using System.Diagnostics;
using SharpLM.Models;
using SharpLM.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Bench;

public sealed record TrainThroughput(
    string Preset,
    int Threads,
    long Parameters,
    long TokensPerStep,
    double SecondsPerStep,
    double TokensPerSecond,
    double ModelGflops,
    double PeakGflops,
    double Utilisation,
    double RssStartMb,
    double RssEndMb
);

public sealed record TrainBenchmarkResult(IReadOnlyList<TrainThroughput> Runs, int FastestThreadsBaby, int FastestThreadsSmall);

/// <summary>
/// `sharplm-bench train`: training throughput of full optimiser steps (forward, backward, clipping, AdamW) for the
/// presets, and model FLOPs utilisation = 6 · parameters · tokens/s ÷ the peak fp32 matmul rate measured in the same
/// run with the same thread count. Each thread count is measured so that the default policy is chosen by data.
/// </summary>
public static class TrainBenchmark
{
    public const int CharVocabulary = 83; // moby-dick's character set; the throughput does not depend on the text

    /// <summary>Best-of-N GFLOP/s of a square fp32 matmul (the machine's practical peak).</summary>
    public static double PeakMatmulGflops(int n = 1024, int repeats = 10)
    {
        using var scope = NewDisposeScope();
        var a = randn(n, n);
        var b = randn(n, n);
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

    public static TrainThroughput Measure(string preset, int threads, int steps, IProgress<string>? status = null)
    {
        torch.set_num_threads(threads);
        double peak = PeakMatmulGflops();
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
        status?.Report($"{preset}, {threads} thread(s): warming up");
        Step();
        Step();
        double rssStart = Process.GetCurrentProcess().WorkingSet64 / 1e6;
        var times = new List<double>();
        for (int i = 0; i < steps; i++)
        {
            times.Add(Step());
            status?.Report($"{preset}, {threads} thread(s): step {i + 1}/{steps} {times[^1]:F3} s");
        }
        double rssEnd = Process.GetCurrentProcess().WorkingSet64 / 1e6;
        double perStep = times.Order().ElementAt(times.Count / 2); // median: robust to a noisy neighbour
        long tokens = (long)o.BatchSize * block * o.GradAccumulation;
        double tps = tokens / perStep;
        long parameters = model.ParameterCount;
        double modelGflops = 6.0 * parameters * tps / 1e9;
        return new TrainThroughput(
            preset,
            threads,
            parameters,
            tokens,
            perStep,
            tps,
            modelGflops,
            peak,
            modelGflops / peak,
            rssStart,
            rssEnd
        );
    }

    public static TrainBenchmarkResult Run(
        IReadOnlyList<string> presets,
        IReadOnlyList<int> threadCounts,
        int babySteps,
        int smallSteps,
        IProgress<string>? status = null
    )
    {
        int before = torch.get_num_threads();
        try
        {
            var runs = new List<TrainThroughput>();
            foreach (var preset in presets)
            foreach (int t in threadCounts)
                runs.Add(Measure(preset, t, preset == "small" ? smallSteps : babySteps, status));
            int Fastest(string preset) =>
                runs.Where(r => r.Preset == preset).OrderByDescending(r => r.TokensPerSecond).Select(r => r.Threads).FirstOrDefault();
            return new TrainBenchmarkResult(runs, Fastest("baby"), Fastest("small"));
        }
        finally
        {
            torch.set_num_threads(before);
        }
    }
}
