using System.Diagnostics;
using SharpLM.Export;
using SharpLM.Generation;
using SharpLM.Kinds;
using SharpLM.Models;

namespace SharpLM.Bench;

public sealed record ExportRuntimeRow(string Runtime, string Weights, double DecodeTokensPerSecond, double Ratio, double GreedyAgreement);

public sealed record ExportBenchmarkResult(
    string Model,
    long Parameters,
    int Threads,
    int PromptTokens,
    int NewTokens,
    IReadOnlyList<ExportRuntimeRow> Rows
);

/// <summary>
/// `sharplm-bench export`: greedy decoding of one GPT run in SharpLM (TorchSharp, KV cache) and in the runtimes its
/// exports target — onnxruntime on model.onnx (KV-cache inputs fed back each step) and llama.cpp on model.gguf (f32
/// and q8_0) — with the same prompt ids, the same number of new tokens, the same thread count, a warm-up, and the
/// median of repeated timings; each row's greedy tokens are compared with SharpLM's.
/// </summary>
public static class ExportBenchmark
{
    public static ExportBenchmarkResult Run(string run, int newTokens, int repeats, int threads, IProgress<string>? status = null)
    {
        string scratch = Path.Combine(Path.GetTempPath(), $"sharplm-bench-export-{Guid.NewGuid():N}");
        try
        {
            using var loaded = ModelRegistry.Load(run);
            var gpt = loaded.As<Gpt>("the export benchmark");
            var c = gpt.Config;
            long[] seed = Enumerable.Range(0, Math.Min(16, c.NPositions / 4)).Select(i => (long)(i * 7 % c.VocabSize)).ToArray();
            string text = loaded.Tokenizer.Decode(seed.Select(i => (int)i).ToArray());
            int[] prompt = loaded.Tokenizer.Encode(text); // ids every runtime's tokenizer agrees on
            long[] promptIds = prompt.Select(i => (long)i).ToArray();
            int steps = Math.Min(newTokens, c.NPositions - prompt.Length);

            status?.Report("SharpLM (TorchSharp)");
            var generator = new TextGenerator(gpt, loaded.Tokenizer);
            var options = new GenerationOptions
            {
                MaxNewTokens = steps,
                Temperature = 0,
                StopAtEndOfText = false,
            };
            int[] reference = [];
            double torchTps = Median(
                repeats,
                () => reference = generator.Generate([text], options)[0].TokenIds,
                () => generator.Generate([text], options with { MaxNewTokens = 8 })
            );
            var rows = new List<ExportRuntimeRow> { new("SharpLM (TorchSharp)", "fp32", torchTps, 1, 1) };

            status?.Report("onnxruntime");
            string onnx = Path.Combine(scratch, "onnx");
            ModelExport.Run(
                new ExportRequest
                {
                    Model = run,
                    Output = onnx,
                    Format = ExportFormat.Onnx,
                }
            );
            using (var session = new OnnxGptSession(Path.Combine(onnx, OnnxExport.FileName), threads))
            {
                int[] ids = [];
                double tps = Median(repeats, () => ids = session.Greedy(promptIds, steps), () => session.Greedy(promptIds, 8));
                string version = typeof(Microsoft.ML.OnnxRuntime.InferenceSession).Assembly.GetName().Version!.ToString(3);
                rows.Add(new("onnxruntime " + version, "fp32", tps, tps / torchTps, Agreement(reference, ids)));
            }

            foreach (string type in new[] { "f32", "q8_0" })
            {
                status?.Report($"llama.cpp {type}");
                string gguf = Path.Combine(scratch, "gguf-" + type);
                ModelExport.Run(
                    new ExportRequest
                    {
                        Model = run,
                        Output = gguf,
                        Format = ExportFormat.Gguf,
                        GgufType = type,
                    }
                );
                var (weights, context) = ExportRuntimes.OpenLlama(Path.Combine(gguf, GgufExport.FileName), (uint)c.NPositions, threads);
                using (weights)
                using (context)
                {
                    int[] ids = [];
                    double tps = Median(
                        repeats,
                        () => ids = ExportRuntimes.LlamaGreedy(context, prompt, steps),
                        () => ExportRuntimes.LlamaGreedy(context, prompt, 8)
                    );
                    rows.Add(new("llama.cpp (LLamaSharp 0.30.0)", type, tps, tps / torchTps, Agreement(reference, ids)));
                }
            }
            return new ExportBenchmarkResult(run, loaded.Parameters, threads, prompt.Length, steps, rows);
        }
        finally
        {
            if (Directory.Exists(scratch))
                Directory.Delete(scratch, recursive: true); // the benchmark's own scratch folder
        }
    }

    /// <summary>Median tokens/s of <paramref name="repeats"/> timings of <paramref name="decode"/>, after a warm-up.</summary>
    static double Median(int repeats, Func<int[]> decode, Action warmUp)
    {
        warmUp();
        var rates = new List<double>();
        for (int i = 0; i < repeats; i++)
        {
            var sw = Stopwatch.StartNew();
            int n = decode().Length;
            rates.Add(n / sw.Elapsed.TotalSeconds);
        }
        return rates.Order().ElementAt(rates.Count / 2);
    }

    static double Agreement(int[] reference, int[] ids) =>
        reference.Length == 0 ? 0 : reference.Zip(ids).Count(p => p.First == p.Second) / (double)reference.Length;
}
