namespace SharpLM.Evaluation.TextMetrics;

/// <summary>
/// Error rates over space-separated tokens: the token error rate (Levenshtein distance summed over lines ÷ reference
/// tokens — the phoneme error rate of grapheme-to-phoneme, where tokens are phonemes) and the sequence error rate (the
/// share of lines not exactly the reference — its word error rate, where each line is one word).
/// </summary>
public static class ErrorRates
{
    public static (double TokenErrorRate, double SequenceErrorRate) Compute(
        IReadOnlyList<string> hypotheses,
        IReadOnlyList<string> references
    )
    {
        TextMetricInputs.Check(hypotheses, [references]);
        long edits = 0,
            tokens = 0;
        int wrong = 0;
        for (int i = 0; i < hypotheses.Count; i++)
        {
            var h = PythonText.Split(hypotheses[i]);
            var r = PythonText.Split(references[i]);
            edits += Levenshtein(h, r);
            tokens += r.Count;
            if (!h.SequenceEqual(r))
                wrong++;
        }
        return (tokens == 0 ? 0 : (double)edits / tokens, hypotheses.Count == 0 ? 0 : (double)wrong / hypotheses.Count);
    }

    public static int Levenshtein(IReadOnlyList<string> a, IReadOnlyList<string> b)
    {
        var previous = Enumerable.Range(0, b.Count + 1).ToArray();
        var current = new int[b.Count + 1];
        for (int i = 1; i <= a.Count; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Count; j++)
                current[j] = Math.Min(Math.Min(previous[j] + 1, current[j - 1] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Count];
    }
}
