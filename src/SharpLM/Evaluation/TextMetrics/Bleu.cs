using System.Globalization;

namespace SharpLM.Evaluation.TextMetrics;

/// <summary>How BLEU treats an n-gram order with no match (Chen and Cherry, 2014), as sacrebleu names them.</summary>
public enum BleuSmoothing
{
    /// <summary>NIST's geometric smoothing (mteval-v13a): the k-th order without a match counts 1/2^k matches. The default.</summary>
    Exp,

    /// <summary>A fixed number of matches (default 0.1) for an order without any.</summary>
    Floor,

    /// <summary>k (default 1) added to the matches and totals of every order above unigrams.</summary>
    AddK,

    /// <summary>No smoothing: a missing order makes the score 0.</summary>
    None,
}

/// <summary>BLEU's settings, with sacrebleu's defaults.</summary>
public sealed record BleuOptions
{
    /// <summary>One of <see cref="BleuTokenizers.Names"/>.</summary>
    public string Tokenize { get; init; } = "13a";
    public bool Lowercase { get; init; }
    public BleuSmoothing Smoothing { get; init; } = BleuSmoothing.Exp;

    /// <summary>The value for floor (default 0.1) and add-k (default 1); ignored by the others.</summary>
    public double? SmoothingValue { get; init; }
    public int MaxNgramOrder { get; init; } = 4;

    /// <summary>Average only over the orders the hypothesis has n-grams for (what sentence-level BLEU wants).</summary>
    public bool EffectiveOrder { get; init; }
}

/// <summary>A BLEU score (0–100) with its sufficient statistics, as sacrebleu reports it.</summary>
public sealed record BleuScore(
    double Score,
    IReadOnlyList<double> Counts,
    IReadOnlyList<double> Totals,
    IReadOnlyList<double> Precisions,
    double BrevityPenalty,
    int HypothesisLength,
    int ReferenceLength,
    string Signature
)
{
    public double Ratio => ReferenceLength > 0 ? (double)HypothesisLength / ReferenceLength : 0;

    /// <summary>sacrebleu's line: "BLEU = 48.89 85.7/66.7/40.0/25.0 (BP = 1.000 ratio = 1.000 hyp_len = 7 ref_len = 7)".</summary>
    public override string ToString() =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"BLEU = {Score:F2} {string.Join('/', Precisions.Select(p => p.ToString("F1", CultureInfo.InvariantCulture)))} "
                + $"(BP = {BrevityPenalty:F3} ratio = {Ratio:F3} hyp_len = {HypothesisLength} ref_len = {ReferenceLength})"
        );
}

/// <summary>
/// BLEU (Papineni et al., 2002) exactly as sacrebleu 2.x computes it: clipped n-gram matches against the maximum count
/// over the references, brevity penalty against the reference length closest to the hypothesis (the shorter on a tie),
/// corpus-level sums of the statistics, smoothing, effective order. Tested against sacrebleu 2.6.0 to 4 decimals.
/// </summary>
public sealed class Bleu
{
    /// <summary>The sacrebleu release whose scores this reproduces; it is the version named in the signature.</summary>
    public const string SacreBleuVersion = "2.6.0";

    readonly BleuOptions _options;
    readonly Func<string, string> _tokenize;

    public Bleu(BleuOptions? options = null)
    {
        _options = options ?? new BleuOptions();
        _tokenize = BleuTokenizers.Get(_options.Tokenize);
        if (_options.MaxNgramOrder < 1)
            throw new SharpLMException($"max_ngram_order is {_options.MaxNgramOrder}; it must be at least 1.");
    }

    /// <summary>
    /// Corpus BLEU. <paramref name="references"/> holds one stream per reference set, each as long as the hypotheses
    /// (sacrebleu's layout: references[k][i] is the k-th reference of line i).
    /// </summary>
    public BleuScore Corpus(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string>> references)
    {
        TextMetricInputs.Check(hypotheses, references);
        int order = _options.MaxNgramOrder;
        var sums = new long[2 + 2 * order];
        for (int i = 0; i < hypotheses.Count; i++)
        {
            var stats = Statistics(hypotheses[i], references.Select(r => r[i]));
            for (int k = 0; k < sums.Length; k++)
                sums[k] += stats[k];
        }
        return Compute(sums, references.Count);
    }

    /// <summary>Sentence BLEU of one hypothesis against its references (pass EffectiveOrder = true, as sacrebleu advises).</summary>
    public BleuScore Sentence(string hypothesis, IReadOnlyList<string> references)
    {
        if (references.Count == 0)
            throw new SharpLMException("references is empty: give at least one reference.");
        return Compute(Statistics(hypothesis, references), references.Count);
    }

    /// <summary>The signature sacrebleu prints, e.g. "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0".</summary>
    public string Signature(int referenceCount)
    {
        string smooth = _options.Smoothing switch
        {
            BleuSmoothing.Floor => string.Create(CultureInfo.InvariantCulture, $"floor[{_options.SmoothingValue ?? 0.1:F2}]"),
            BleuSmoothing.AddK => string.Create(CultureInfo.InvariantCulture, $"add-k[{_options.SmoothingValue ?? 1:F2}]"),
            BleuSmoothing.None => "none",
            _ => "exp",
        };
        return $"nrefs:{referenceCount}|case:{(_options.Lowercase ? "lc" : "mixed")}|eff:{(_options.EffectiveOrder ? "yes" : "no")}"
            + $"|tok:{_options.Tokenize}|smooth:{smooth}|version:{SacreBleuVersion}";
    }

    string Preprocess(string line) => _tokenize(PythonText.RStrip(_options.Lowercase ? PythonText.Lower(line) : line));

    /// <summary>[hypothesis length, closest reference length, matches per order…, totals per order…].</summary>
    long[] Statistics(string hypothesis, IEnumerable<string> references)
    {
        int order = _options.MaxNgramOrder;
        Dictionary<string, int>? referenceNgrams = null;
        var referenceLengths = new List<int>();
        foreach (string reference in references)
        {
            var (ngrams, length) = Ngrams(Preprocess(reference), order);
            referenceLengths.Add(length);
            if (referenceNgrams is null)
                referenceNgrams = ngrams;
            else
                foreach (var (ngram, count) in ngrams)
                    referenceNgrams[ngram] = Math.Max(referenceNgrams.GetValueOrDefault(ngram), count);
        }
        var (hypothesisNgrams, hypothesisLength) = Ngrams(Preprocess(hypothesis), order);
        var stats = new long[2 + 2 * order];
        stats[0] = hypothesisLength;
        stats[1] = ClosestLength(hypothesisLength, referenceLengths);
        foreach (var (ngram, count) in hypothesisNgrams)
        {
            int n = NgramOrder(ngram) - 1;
            stats[2 + order + n] += count;
            if (referenceNgrams!.TryGetValue(ngram, out int referenceCount))
                stats[2 + n] += Math.Min(count, referenceCount);
        }
        return stats;
    }

    /// <summary>N-grams joined by a space (no token contains whitespace after split()), counted, with the token count.</summary>
    static (Dictionary<string, int> Ngrams, int Length) Ngrams(string line, int maxOrder)
    {
        var tokens = PythonText.Split(line);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int n = 1; n <= maxOrder; n++)
        for (int i = 0; i + n <= tokens.Count; i++)
        {
            string key = string.Join(' ', tokens.Skip(i).Take(n));
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        return (counts, tokens.Count);
    }

    static int NgramOrder(string key) => key.Count(c => c == ' ') + 1;

    static int ClosestLength(int hypothesisLength, List<int> referenceLengths)
    {
        int best = -1,
            bestDiff = -1;
        foreach (int length in referenceLengths)
        {
            int diff = Math.Abs(hypothesisLength - length);
            if (bestDiff == -1 || diff < bestDiff || (diff == bestDiff && length < best))
            {
                bestDiff = diff;
                best = length;
            }
        }
        return best;
    }

    BleuScore Compute(long[] stats, int referenceCount)
    {
        int order = _options.MaxNgramOrder;
        long sysLen = stats[0],
            refLen = stats[1];
        double[] correct = stats.Skip(2).Take(order).Select(x => (double)x).ToArray();
        double[] total = stats.Skip(2 + order).Take(order).Select(x => (double)x).ToArray();
        double bp = sysLen < refLen ? (sysLen > 0 ? Math.Exp(1 - (double)refLen / sysLen) : 0.0) : 1.0;
        var precisions = new double[order];
        string signature = Signature(referenceCount);
        if (correct.All(c => c == 0))
            return new BleuScore(0, correct, total, precisions, bp, (int)sysLen, (int)refLen, signature);

        double smoothValue = _options.SmoothingValue ?? (_options.Smoothing == BleuSmoothing.Floor ? 0.1 : 1);
        double mteval = 1;
        int effectiveOrder = order;
        for (int n = 1; n <= order; n++)
        {
            if (_options.Smoothing == BleuSmoothing.AddK && n > 1)
            {
                correct[n - 1] += smoothValue;
                total[n - 1] += smoothValue;
            }
            if (total[n - 1] == 0)
                break;
            if (_options.EffectiveOrder)
                effectiveOrder = n;
            if (correct[n - 1] == 0)
            {
                if (_options.Smoothing == BleuSmoothing.Exp)
                {
                    mteval *= 2;
                    precisions[n - 1] = 100.0 / (mteval * total[n - 1]);
                }
                else if (_options.Smoothing == BleuSmoothing.Floor)
                    precisions[n - 1] = 100.0 * smoothValue / total[n - 1];
            }
            else
                precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1];
        }
        // sacrebleu floors log(0) at -9999999999, which makes the score exp(≈ -2.5e9) = 0.
        double logSum = precisions.Take(effectiveOrder).Sum(p => p == 0 ? -9999999999.0 : Math.Log(p));
        double score = bp * Math.Exp(logSum / effectiveOrder);
        return new BleuScore(score, correct, total, precisions, bp, (int)sysLen, (int)refLen, signature);
    }
}
