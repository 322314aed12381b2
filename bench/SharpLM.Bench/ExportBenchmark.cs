using System.Diagnostics;
using LLama;
using LLama.Common;
using LLama.Native;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
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
            long[] prompt = Enumerable
                .Range(0, Math.Min(16, gpt.Config.NPositions / 4))
                .Select(i => (long)(i * 7 % gpt.Config.VocabSize))
                .ToArray();
            int steps = Math.Min(newTokens, gpt.Config.NPositions - prompt.Length);
            string text = loaded.Tokenizer.Decode(prompt.Select(i => (int)i).ToArray());
            prompt = loaded.Tokenizer.Encode(text).Select(i => (long)i).ToArray(); // ids every runtime's tokenizer agrees on

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
            using (
                var session = new InferenceSession(
                    Path.Combine(onnx, OnnxExport.FileName),
                    new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 }
                )
            )
            {
                int[] ids = [];
                double tps = Median(
                    repeats,
                    () => ids = OrtGreedy(session, gpt.Config, prompt, steps),
                    () => OrtGreedy(session, gpt.Config, prompt, 8)
                );
                rows.Add(
                    new(
                        "onnxruntime " + typeof(InferenceSession).Assembly.GetName().Version,
                        "fp32",
                        tps,
                        tps / torchTps,
                        Agreement(reference, ids)
                    )
                );
            }

            NativeLibraryConfig.All.WithLogCallback((_, _) => { });
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
                var parameters = new ModelParams(Path.Combine(gguf, GgufExport.FileName))
                {
                    ContextSize = (uint)gpt.Config.NPositions,
                    GpuLayerCount = 0,
                    Threads = threads,
                    BatchThreads = threads,
                };
                using var weights = LLamaWeights.LoadFromFile(parameters);
                using var context = weights.CreateContext(parameters);
                int[] ids = [];
                double tps = Median(repeats, () => ids = LlamaGreedy(context, prompt, steps), () => LlamaGreedy(context, prompt, 8));
                rows.Add(new("llama.cpp (LLamaSharp 0.30.0)", type, tps, tps / torchTps, Agreement(reference, ids)));
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

    static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++)
            if (row[i] > row[best])
                best = i;
        return best;
    }

    /// <summary>Greedy decoding on the ONNX graph, feeding each step's present.N back as past_key_values.N.</summary>
    static int[] OrtGreedy(InferenceSession session, GptConfig c, long[] prompt, int steps)
    {
        var past = new Dictionary<string, DenseTensor<float>>();
        for (int i = 0; i < c.NLayer; i++)
            foreach (var part in new[] { "key", "value" })
                past[$"past_key_values.{i}.{part}"] = new DenseTensor<float>([1, c.NHead, 0, c.HeadDim]);
        long[] feed = prompt;
        int length = 0;
        var output = new int[steps];
        for (int s = 0; s < steps; s++)
        {
            int n = feed.Length;
            var inputs = new List<NamedOnnxValue>
            {
                NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(feed, [1, n])),
                NamedOnnxValue.CreateFromTensor(
                    "position_ids",
                    new DenseTensor<long>(Enumerable.Range(length, n).Select(p => (long)p).ToArray(), [1, n])
                ),
                NamedOnnxValue.CreateFromTensor(
                    "attention_mask",
                    new DenseTensor<long>(Enumerable.Repeat(1L, length + n).ToArray(), [1, length + n])
                ),
            };
            inputs.AddRange(past.Select(p => NamedOnnxValue.CreateFromTensor(p.Key, p.Value)));
            using var results = session.Run(inputs);
            var logits = (DenseTensor<float>)results.First(r => r.Name == "logits").AsTensor<float>();
            output[s] = ArgMax(logits.Buffer.Span.Slice((n - 1) * c.VocabSize, c.VocabSize));
            foreach (var r in results.Where(r => r.Name.StartsWith("present.", StringComparison.Ordinal)))
                past["past_key_values." + r.Name["present.".Length..]] = (DenseTensor<float>)r.AsTensor<float>().Clone();
            length += n;
            feed = [output[s]];
        }
        return output;
    }

    /// <summary>Greedy decoding in llama.cpp: the prompt in one batch, then one token per decode; the cache cleared first.</summary>
    static int[] LlamaGreedy(LLamaContext context, long[] prompt, int steps)
    {
        context.NativeHandle.MemoryClear(true);
        var batch = new LLamaBatch();
        for (int i = 0; i < prompt.Length; i++)
            batch.Add((int)prompt[i], i, LLamaSeqId.Zero, i == prompt.Length - 1);
        var output = new int[steps];
        int position = prompt.Length;
        for (int s = 0; s < steps; s++)
        {
            context.Decode(batch);
            output[s] = ArgMax(context.NativeHandle.GetLogitsIth(batch.TokenCount - 1));
            batch.Clear();
            batch.Add(output[s], position++, LLamaSeqId.Zero, true);
        }
        return output;
    }
}
