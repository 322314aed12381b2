using System.Diagnostics;
using SharpLM.Generation;
using SharpLM.Models;
using SharpLM.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Bench;

public sealed record DecodeThroughput(
    int Context,
    int NewTokens,
    double CachedTokensPerSecond,
    double UncachedTokensPerSecond,
    double Ratio,
    bool SameTokens
);

public sealed record GenerateBenchmarkResult(string Model, long Parameters, int Threads, IReadOnlyList<DecodeThroughput> Runs);

/// <summary>
/// `sharplm-bench generate`: greedy decoding speed with the KV cache (prefill once, then one token per step) against
/// recomputing the whole context every step, for a prompt of a given context length, same model, same run.
/// </summary>
public static class GenerateBenchmark
{
    public static GenerateBenchmarkResult Run(IReadOnlyList<int> contexts, int newTokens, IProgress<string>? status = null)
    {
        // The `small` preset's shape with a 1024-token context; weights are random (speed does not depend on them).
        var o = Training.TrainingPreset.Get("small").Shape;
        torch.manual_seed(1);
        using var model = new Gpt(
            new GptConfig
            {
                VocabSize = TrainBenchmark.CharVocabulary,
                NPositions = 1024,
                NEmbd = o.Width,
                NLayer = o.Layers,
                NHead = o.Heads,
            }.WithDropout(0)
        );
        model.eval();
        var tokenizer = CharTokenizer.FromTexts([
            string.Concat(Enumerable.Range(0, TrainBenchmark.CharVocabulary).Select(i => (char)('!' + i))),
        ]);
        var generator = new TextGenerator(model, tokenizer);
        var runs = new List<DecodeThroughput>();
        foreach (int context in contexts)
        {
            var rng = new Random(context);
            string prompt = new(Enumerable.Range(0, context).Select(_ => (char)('!' + rng.Next(TrainBenchmark.CharVocabulary))).ToArray());
            var options = new GenerationOptions
            {
                MaxNewTokens = newTokens,
                Temperature = 0,
                StopAtEndOfText = false,
            };
            (double Tps, int[] Ids) Time(bool cache)
            {
                generator.Generate([prompt], options with { MaxNewTokens = 4, UseKvCache = cache }); // warm-up
                var sw = Stopwatch.StartNew();
                var r = generator.Generate([prompt], options with { UseKvCache = cache })[0];
                return (r.TokenIds.Length / sw.Elapsed.TotalSeconds, r.TokenIds);
            }
            status?.Report($"context {context}: with KV cache");
            var cached = Time(true);
            status?.Report($"context {context}: recomputing");
            var full = Time(false);
            runs.Add(
                new DecodeThroughput(context, newTokens, cached.Tps, full.Tps, cached.Tps / full.Tps, cached.Ids.SequenceEqual(full.Ids))
            );
        }
        return new GenerateBenchmarkResult(
            $"small preset shape ({o.Layers} layers, {o.Width} wide), context 1024",
            model.ParameterCount,
            torch.get_num_threads(),
            runs
        );
    }
}
