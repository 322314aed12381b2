using SharpLM.Data;
using SharpLM.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Evaluation;

/// <summary>Loss, perplexity and bits per byte of a language model on token windows.</summary>
public sealed record LanguageModelMetrics(double Loss, double Perplexity, double BitsPerByte, long Tokens, long Bytes)
{
    public static LanguageModelMetrics From(double nats, long tokens, long bytes)
    {
        double loss = nats / Math.Max(1, tokens);
        return new(loss, Math.Exp(loss), bytes > 0 ? nats / Math.Log(2) / bytes : double.NaN, tokens, bytes);
    }

    /// <summary>The table eval prints: split, tokens, loss, perplexity, bits per byte.</summary>
    public ReportTable ToTable(string split) =>
        new(
            ["split", "tokens", "loss", "perplexity", "bits/byte"],
            [
                [split, Tokens.ToString("N0"), Loss.ToString("F4"), Perplexity.ToString("F3"), BitsPerByte.ToString("F4")],
            ]
        );

    /// <summary>UTF-8 bytes each of a model's <paramref name="vocabularySize"/> ids stands for (0 for special and unused ids).</summary>
    public static int[] TokenBytes(Tokenization.Tokenizer tokenizer, int vocabularySize) =>
        Enumerable.Range(0, vocabularySize).Select(id => id < tokenizer.VocabSize ? tokenizer.TokenByteCount(id) : 0).ToArray();
}

public static class LanguageModelEvaluator
{
    /// <summary>Starts of consecutive non-overlapping windows covering the split (each window predicts block tokens).</summary>
    public static long[] CoveringWindows(TokenDataset data, int block, int? maxWindows = null)
    {
        data.RequireWindow(block);
        long n = (data.Count - 1) / block;
        if (maxWindows is int m)
            n = Math.Min(n, m);
        return Enumerable.Range(0, (int)n).Select(i => (long)i * block).ToArray();
    }

    /// <summary>Evaluates the model (in eval mode, without gradients) on the windows, <paramref name="batch"/> at a time.</summary>
    /// <param name="tokenBytes">UTF-8 bytes of each token id, for bits per byte.</param>
    public static LanguageModelMetrics Evaluate(
        Gpt model,
        TokenDataset data,
        IReadOnlyList<long> starts,
        int block,
        int batch,
        int[] tokenBytes,
        IProgress<(int Done, int Total)>? progress = null,
        CancellationToken ct = default
    )
    {
        using var inference = new Runtime.InferenceScope(model);
        double nats = 0;
        long tokens = 0,
            bytes = 0;
        for (int i = 0; i < starts.Count; i += batch)
        {
            ct.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var (x, y) = data.Windows(starts.Skip(i).Take(batch).ToList(), block);
            var logits = model.forward(x);
            nats += nn.functional.cross_entropy(logits.view(-1, logits.shape[^1]), y.view(-1), reduction: nn.Reduction.Sum).item<float>();
            tokens += y.numel();
            foreach (long id in y.data<long>())
                bytes += tokenBytes[id];
            progress?.Report((Math.Min(i + batch, starts.Count), starts.Count));
        }
        return LanguageModelMetrics.From(nats, tokens, bytes);
    }
}
