namespace SharpLM.Evaluation.TextMetrics;

/// <summary>chrF's settings, with sacrebleu's defaults (chrF2: character 6-grams, no word n-grams, β = 2).</summary>
public sealed record ChrfOptions
{
    public int CharOrder { get; init; } = 6;

    /// <summary>0 for chrF, 2 for chrF++ (word unigrams and bigrams too).</summary>
    public int WordOrder { get; init; }
    public int Beta { get; init; } = 2;
    public bool Lowercase { get; init; }

    /// <summary>Keep whitespace inside character n-grams (sacrebleu's default drops it).</summary>
    public bool Whitespace { get; init; }

    /// <summary>chrF++.py/NLTK/Moses smoothing: average F over all orders, a missing one counting ε.</summary>
    public bool EpsSmoothing { get; init; }
}

/// <summary>A chrF score (0–100); <see cref="Name"/> is "chrF2" or "chrF2++" as sacrebleu writes it.</summary>
public sealed record ChrfScore(double Score, string Name, string Signature)
{
    public override string ToString() => $"{Name} = {Score.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)}";
}

/// <summary>
/// chrF / chrF++ (Popović, 2015 and 2017) as sacrebleu 2.x computes it: character n-gram (and word n-gram) precision and
/// recall averaged over the orders that occur, combined as F-β; per line the reference with the best F is kept, and a
/// corpus score comes from the summed statistics. Tested against sacrebleu 2.6.0 to 4 decimals.
/// </summary>
public sealed class Chrf
{
    const string Punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    readonly ChrfOptions _options;
    int Order => _options.CharOrder + _options.WordOrder;

    public Chrf(ChrfOptions? options = null)
    {
        _options = options ?? new ChrfOptions();
        if (_options.CharOrder < 1 || _options.WordOrder < 0 || _options.Beta < 1)
            throw new SharpLMException("char_order and beta must be at least 1 and word_order at least 0.");
    }

    public ChrfScore Corpus(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string>> references)
    {
        TextMetricInputs.Check(hypotheses, references);
        var sums = new long[3 * Order];
        for (int i = 0; i < hypotheses.Count; i++)
        {
            var stats = BestStatistics(hypotheses[i], references.Select(r => r[i]));
            for (int k = 0; k < sums.Length; k++)
                sums[k] += stats[k];
        }
        return Result(sums, references.Count);
    }

    public ChrfScore Sentence(string hypothesis, IReadOnlyList<string> references)
    {
        if (references.Count == 0)
            throw new SharpLMException("references is empty: give at least one reference.");
        return Result(BestStatistics(hypothesis, references), references.Count);
    }

    /// <summary>sacrebleu's signature, e.g. "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0".</summary>
    public string Signature(int referenceCount) =>
        $"nrefs:{referenceCount}|case:{(_options.Lowercase ? "lc" : "mixed")}|eff:{(_options.EpsSmoothing ? "no" : "yes")}"
        + $"|nc:{_options.CharOrder}|nw:{_options.WordOrder}|space:{(_options.Whitespace ? "yes" : "no")}|version:{Bleu.SacreBleuVersion}";

    ChrfScore Result(long[] stats, int referenceCount) =>
        new(FScore(stats), $"chrF{_options.Beta}" + new string('+', _options.WordOrder), Signature(referenceCount));

    /// <summary>[hypothesis n-grams, reference n-grams, matches] per order, for the reference with the best F.</summary>
    long[] BestStatistics(string hypothesis, IEnumerable<string> references)
    {
        var hypothesisNgrams = Ngrams(Preprocess(hypothesis));
        long[]? best = null;
        double bestF = -1;
        foreach (string reference in references)
        {
            var referenceNgrams = Ngrams(Preprocess(reference));
            var stats = new long[3 * Order];
            for (int n = 0; n < Order; n++)
            {
                long hypCount = 0,
                    matches = 0;
                foreach (var (ngram, count) in hypothesisNgrams[n])
                {
                    hypCount += count;
                    if (referenceNgrams[n].TryGetValue(ngram, out int refCount))
                        matches += Math.Min(count, refCount);
                }
                stats[3 * n] = referenceNgrams[n].Count > 0 ? hypCount : 0;
                stats[3 * n + 1] = referenceNgrams[n].Values.Sum();
                stats[3 * n + 2] = matches;
            }
            double f = FScore(stats);
            if (f > bestF)
            {
                bestF = f;
                best = stats;
            }
        }
        return best!;
    }

    string Preprocess(string line) => _options.Lowercase ? PythonText.Lower(line) : line;

    /// <summary>Character n-grams of orders 1..CharOrder, then word n-grams of orders 1..WordOrder.</summary>
    List<Dictionary<string, int>> Ngrams(string line)
    {
        var result = new List<Dictionary<string, int>>(Order);
        var chars = PythonText.CodePoints(_options.Whitespace ? line : string.Concat(PythonText.Split(line)));
        for (int n = 1; n <= _options.CharOrder; n++)
            result.Add(Count(chars, n, ""));
        if (_options.WordOrder > 0)
        {
            var words = WordsWithPunctuationApart(line);
            for (int n = 1; n <= _options.WordOrder; n++)
                result.Add(Count(words, n, " "));
        }
        return result;
    }

    static Dictionary<string, int> Count(IReadOnlyList<string> items, int n, string separator)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i + n <= items.Count; i++)
        {
            string key = string.Join(separator, items.Skip(i).Take(n));
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        return counts;
    }

    /// <summary>chrF++'s word split: one ASCII punctuation mark at the end (or else at the start) of a word stands apart.</summary>
    static List<string> WordsWithPunctuationApart(string line)
    {
        var words = new List<string>();
        foreach (string w in PythonText.Split(line))
        {
            var points = PythonText.CodePoints(w);
            if (points.Length == 1)
                words.Add(w);
            else if (IsPunctuation(points[^1]))
            {
                words.Add(string.Concat(points[..^1]));
                words.Add(points[^1]);
            }
            else if (IsPunctuation(points[0]))
            {
                words.Add(points[0]);
                words.Add(string.Concat(points[1..]));
            }
            else
                words.Add(w);
        }
        return words;
    }

    static bool IsPunctuation(string point) => point.Length == 1 && Punctuation.Contains(point[0]);

    double FScore(long[] stats)
    {
        const double eps = 1e-16;
        double factor = _options.Beta * _options.Beta;
        double score = 0,
            avgPrecision = 0,
            avgRecall = 0;
        int effectiveOrder = 0;
        for (int n = 0; n < Order; n++)
        {
            long hyp = stats[3 * n],
                reference = stats[3 * n + 1],
                match = stats[3 * n + 2];
            double precision = hyp > 0 ? (double)match / hyp : eps;
            double recall = reference > 0 ? (double)match / reference : eps;
            double denominator = factor * precision + recall;
            score += denominator > 0 ? (1 + factor) * precision * recall / denominator : eps;
            if (hyp > 0 && reference > 0)
            {
                avgPrecision += precision;
                avgRecall += recall;
                effectiveOrder++;
            }
        }
        if (_options.EpsSmoothing)
            return 100 * score / Order;
        if (effectiveOrder == 0)
            return 0;
        avgPrecision /= effectiveOrder;
        avgRecall /= effectiveOrder;
        if (avgPrecision + avgRecall == 0)
            return 0;
        double f = (1 + factor) * avgPrecision * avgRecall;
        f /= factor * avgPrecision + avgRecall;
        return 100 * f;
    }
}
