using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Generation;

/// <summary>
/// The logits transformations of sampling, in Hugging Face's order: repetition penalty, temperature,
/// top-k, top-p. Each works on a batch [B, V] and marks removed tokens with -inf.
/// </summary>
public static class LogitsProcessor
{
    /// <summary>
    /// For every token already in row b's sequence: a positive logit is divided by the penalty, a negative one multiplied.
    /// </summary>
    public static Tensor RepetitionPenalty(Tensor logits, IReadOnlyList<IReadOnlyList<int>> previous, double penalty)
    {
        if (penalty == 1.0)
            return logits;
        var result = logits.clone();
        using var s = new Runtime.Scalars();
        for (int b = 0; b < previous.Count; b++)
        {
            if (previous[b].Count == 0)
                continue;
            var ids = tensor(previous[b].Distinct().Select(i => (long)i).ToArray());
            var row = result[b];
            var picked = row.index_select(0, ids);
            row.index_copy_(0, ids, where(picked.gt(s[0L]), picked.div(s[penalty]), picked.mul(s[penalty])));
        }
        return result;
    }

    public static Tensor TopK(Tensor logits, int k)
    {
        if (k <= 0 || k >= logits.shape[^1])
            return logits;
        var kth = logits.topk(k, dim: -1).values[.., ^1..]; // [B, 1]
        using var s = new Runtime.Scalars();
        return logits.masked_fill(logits < kth, s[double.NegativeInfinity]);
    }

    /// <summary>
    /// Nucleus filtering: keeps the most likely tokens until their cumulative probability reaches p (always at least one).
    /// </summary>
    public static Tensor TopP(Tensor logits, double p)
    {
        if (p >= 1.0)
            return logits;
        var (sorted, order) = logits.sort(dim: -1, descending: true);
        var cumulative = sorted.softmax(-1).cumsum(-1);
        // Remove a token when the tokens before it already reach p.
        using var s = new Runtime.Scalars();
        var removeSorted = (cumulative - sorted.softmax(-1)).ge(s[p]);
        var remove = zeros_like(removeSorted).scatter(-1, order, removeSorted);
        return logits.masked_fill(remove, s[double.NegativeInfinity]);
    }

    /// <summary>Picks the next token of each row: argmax when temperature is 0, else a draw from the filtered distribution.</summary>
    public static long[] Sample(Tensor logits, GenerationOptions o, IReadOnlyList<IReadOnlyList<int>> previous, Generator generator)
    {
        using var scope = NewDisposeScope();
        using var s = new Runtime.Scalars();
        logits = RepetitionPenalty(logits.to(ScalarType.Float32), previous, o.RepetitionPenalty);
        Tensor next;
        if (o.Temperature == 0)
            next = logits.argmax(-1);
        else
        {
            logits = TopP(TopK(logits.div(s[o.Temperature]), o.TopK), o.TopP);
            next = multinomial(logits.softmax(-1), 1, generator: generator).squeeze(-1);
        }
        return next.data<long>().ToArray();
    }
}
