using SharpLM.Data;
using SharpLM.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Evaluation;

/// <summary>Masked-token loss, accuracy and perplexity of a masked-LM encoder.</summary>
public sealed record MaskedLanguageModelMetrics(double Loss, double MaskedAccuracy, double Perplexity, long MaskedTokens);

public static class MaskedLanguageModelEvaluator
{
    /// <summary>
    /// Evaluates (eval mode, no gradients) on the windows starting at <paramref name="starts"/>, <paramref name="batch"/>
    /// at a time; each batch's masks come from (seed, batch offset), so the same call gives the same figures.
    /// </summary>
    public static MaskedLanguageModelMetrics Evaluate(
        BertForMaskedLm model,
        MaskedWindows windows,
        IReadOnlyList<long> starts,
        int batch,
        int seed,
        IProgress<(int Done, int Total)>? progress = null,
        CancellationToken ct = default
    )
    {
        using var inference = new Runtime.InferenceScope(model);
        double nats = 0;
        long count = 0,
            correct = 0;
        for (int i = 0; i < starts.Count; i += batch)
        {
            ct.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            using var s = new Runtime.Scalars();
            var (ids, attend, labels) = windows.Batch(starts.Skip(i).Take(batch).ToArray(), SplitMix64.Mix((ulong)seed, 0x3A5C, (ulong)i));
            var selected = labels.ne(s[MlmMasking.Ignore]);
            long n = selected.sum().item<long>();
            progress?.Report((Math.Min(i + batch, starts.Count), starts.Count));
            if (n == 0)
                continue;
            var logits = model.ForwardSelected(ids, attend, selected);
            var target = labels[selected];
            nats += nn.functional.cross_entropy(logits, target, reduction: nn.Reduction.Sum).item<float>();
            correct += logits.argmax(-1).eq(target).sum().item<long>();
            count += n;
        }
        double loss = nats / Math.Max(1, count);
        return new MaskedLanguageModelMetrics(loss, (double)correct / Math.Max(1, count), Math.Exp(loss), count);
    }
}
