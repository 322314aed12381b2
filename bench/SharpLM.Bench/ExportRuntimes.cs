using LLama;
using LLama.Common;
using LLama.Native;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace SharpLM.Bench;

/// <summary>
/// A GPT exported as ONNX, driven step by step as a .NET caller would without I/O binding: each step feeds the new
/// ids, their positions, the mask over past + new tokens, and the previous step's present.N tensors (copied) as
/// past_key_values.N. The benchmark and the tests share it.
/// </summary>
public sealed class OnnxGptSession(string path, int threads = 2) : IDisposable
{
    readonly InferenceSession _session = new(path, new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 });
    Dictionary<string, DenseTensor<float>> _past = [];
    int _length;

    int Layers => _session.InputMetadata.Keys.Count(k => k.StartsWith("past_key_values.", StringComparison.Ordinal)) / 2;

    /// <summary>Empties the KV cache: the next step starts a sequence.</summary>
    public void Reset()
    {
        var shape = _session.InputMetadata["past_key_values.0.key"].Dimensions;
        _length = 0;
        _past = [];
        for (int i = 0; i < Layers; i++)
            foreach (var part in new[] { "key", "value" })
                _past[$"past_key_values.{i}.{part}"] = new DenseTensor<float>([1, shape[1], 0, shape[3]]);
    }

    /// <summary>Logits [n][V] of the fed ids; the cache grows by them.</summary>
    public float[][] Step(long[] ids)
    {
        if (_past.Count == 0)
            Reset();
        int n = ids.Length;
        var inputs = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, [1, n])),
            NamedOnnxValue.CreateFromTensor(
                "position_ids",
                new DenseTensor<long>(Enumerable.Range(_length, n).Select(p => (long)p).ToArray(), [1, n])
            ),
            NamedOnnxValue.CreateFromTensor(
                "attention_mask",
                new DenseTensor<long>(Enumerable.Repeat(1L, _length + n).ToArray(), [1, _length + n])
            ),
        };
        inputs.AddRange(_past.Select(p => NamedOnnxValue.CreateFromTensor(p.Key, p.Value)));
        using var results = _session.Run(inputs);
        var logits = (DenseTensor<float>)results.First(r => r.Name == "logits").AsTensor<float>();
        int vocabulary = logits.Dimensions[2];
        foreach (var r in results.Where(r => r.Name.StartsWith("present.", StringComparison.Ordinal)))
            _past["past_key_values." + r.Name["present.".Length..]] = (DenseTensor<float>)r.AsTensor<float>().Clone();
        _length += n;
        return Enumerable.Range(0, n).Select(t => logits.Buffer.Span.Slice(t * vocabulary, vocabulary).ToArray()).ToArray();
    }

    /// <summary>Greedy decoding with the cache: the prompt in one step, then one token per step.</summary>
    public int[] Greedy(long[] prompt, int steps)
    {
        Reset();
        var output = new int[steps];
        var last = Step(prompt)[^1];
        for (int s = 0; s < steps; s++)
        {
            output[s] = ExportRuntimes.ArgMax(last);
            if (s + 1 < steps)
                last = Step([output[s]])[0];
        }
        return output;
    }

    public void Dispose() => _session.Dispose();
}

/// <summary>llama.cpp (through LLamaSharp) on an exported GGUF file: tokenization and greedy decoding.</summary>
public static class ExportRuntimes
{
    static bool _quiet;

    /// <summary>Silences llama.cpp's log (it must be set before its first use in the process).</summary>
    public static void QuietLlama()
    {
        lock (typeof(ExportRuntimes))
        {
            if (!_quiet)
                NativeLibraryConfig.All.WithLogCallback((_, _) => { });
            _quiet = true;
        }
    }

    public static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++)
            if (row[i] > row[best])
                best = i;
        return best;
    }

    /// <summary>A model and context for <paramref name="gguf"/> on the CPU.</summary>
    public static (LLamaWeights Weights, LLamaContext Context) OpenLlama(string gguf, uint context, int threads = 2)
    {
        QuietLlama();
        var parameters = new ModelParams(gguf)
        {
            ContextSize = context,
            GpuLayerCount = 0,
            Threads = threads,
            BatchThreads = threads,
        };
        var weights = LLamaWeights.LoadFromFile(parameters);
        return (weights, weights.CreateContext(parameters));
    }

    /// <summary>Greedy decoding in llama.cpp: the prompt in one batch, then one token per decode; the cache cleared first.</summary>
    public static int[] LlamaGreedy(LLamaContext context, IReadOnlyList<int> prompt, int steps)
    {
        context.NativeHandle.MemoryClear(true);
        var batch = new LLamaBatch();
        for (int i = 0; i < prompt.Count; i++)
            batch.Add(prompt[i], i, LLamaSeqId.Zero, i == prompt.Count - 1);
        var output = new int[steps];
        int position = prompt.Count;
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
