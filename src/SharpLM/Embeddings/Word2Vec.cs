using System.Text.RegularExpressions;
using SharpLM.Data;

namespace SharpLM.Embeddings;

public sealed record Word2VecOptions
{
    /// <summary>skip-gram (a word predicts its neighbours) or cbow (the neighbours' mean predicts the word).</summary>
    public bool SkipGram { get; init; } = true;
    public int Dimensions { get; init; } = 100;

    /// <summary>The largest distance to a context word (each position draws its own window in 1…window, as word2vec does).</summary>
    public int Window { get; init; } = 5;
    public int MinCount { get; init; } = 5;

    /// <summary>Noise words per positive pair.</summary>
    public int Negative { get; init; } = 5;

    /// <summary>Frequent-word subsampling threshold t (0: off).</summary>
    public double Sample { get; init; } = 1e-3;
    public int Epochs { get; init; } = 5;

    /// <summary>Starting learning rate (null: 0.025 for skip-gram, 0.05 for CBOW); it falls linearly to 0.0001 of itself.</summary>
    public double? LearningRate { get; init; }
    public int Seed { get; init; } = 1;

    public Word2VecOptions Validate()
    {
        if (Dimensions < 1 || Window < 1 || MinCount < 1 || Negative < 1 || Epochs < 1)
            throw new SharpLMException("dimensions, window, min_count, negative and epochs must be at least 1.");
        if (Sample < 0 || LearningRate is <= 0)
            throw new SharpLMException("sample must be non-negative and learning_rate positive.");
        return this;
    }
}

/// <summary>
/// word2vec (Mikolov et al. 2013) with negative sampling, as the original C tool trains it: a vocabulary of words seen
/// at least min_count times; frequent words subsampled (kept with probability (√(f/(t·N)) + 1)·t·N/f); negatives drawn
/// from the unigram distribution raised to 3/4; a per-position window shrunk at random; a learning rate falling
/// linearly over all epochs. One thread and a seeded generator, so the same seed gives the same vectors. Written by
/// hand: no maintained .NET library trains word2vec, and the algorithm is short.
/// </summary>
public static class Word2Vec
{
    static readonly Regex WordPattern = new(@"[\p{L}\p{N}]+(?:['’][\p{L}]+)*", RegexOptions.CultureInvariant);

    /// <summary>Lower-cased words: runs of letters and digits (an apostrophe inside a word kept).</summary>
    public static IEnumerable<string> Words(string text) => WordPattern.Matches(text.ToLowerInvariant()).Select(m => m.Value);

    /// <summary>Each text as its lower-cased words (texts without words left out).</summary>
    internal static List<string[]> Corpus(IEnumerable<string> texts) =>
        texts.Select(t => Words(t).ToArray()).Where(s => s.Length > 0).ToList();

    /// <summary>
    /// The words seen at least <paramref name="minCount"/> times with their counts, most frequent first (ties in ordinal
    /// order), and each word's index.
    /// </summary>
    internal static (List<KeyValuePair<string, long>> Words, Dictionary<string, int> Index) Vocabulary(List<string[]> corpus, int minCount)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var sentence in corpus)
        foreach (var w in sentence)
            counts[w] = counts.GetValueOrDefault(w) + 1;
        var vocabulary = counts
            .Where(c => c.Value >= minCount)
            .OrderByDescending(c => c.Value)
            .ThenBy(c => c.Key, StringComparer.Ordinal)
            .ToList();
        if (vocabulary.Count < 2)
            throw new SharpLMException(
                $"Fewer than two words occur at least min_count ({minCount}) times; give more text or a lower min_count."
            );
        return (vocabulary, vocabulary.Select((c, i) => (c.Key, i)).ToDictionary(x => x.Key, x => x.i, StringComparer.Ordinal));
    }

    public static WordVectors Train(
        IEnumerable<string> texts,
        Word2VecOptions options,
        IProgress<(int Epoch, double Loss)>? progress = null
    )
    {
        var o = options.Validate();
        var corpus = Corpus(texts);
        var (vocabulary, index) = Vocabulary(corpus, o.MinCount);
        long[] frequency = vocabulary.Select(c => c.Value).ToArray();
        long total = frequency.Sum();
        int v = vocabulary.Count,
            d = o.Dimensions;
        var rng = new SplitMix64((ulong)o.Seed);
        double Uniform() => (rng.Next() >> 11) * (1.0 / (1UL << 53));

        // The negative-sampling table: word i fills a share of slots proportional to count^0.75.
        var table = new int[Math.Max(1_000_000, v * 10)];
        double power = frequency.Sum(f => Math.Pow(f, 0.75));
        double filled = Math.Pow(frequency[0], 0.75) / power;
        for (int slot = 0, word = 0; slot < table.Length; slot++)
        {
            table[slot] = word;
            if ((double)(slot + 1) / table.Length > filled && word < v - 1)
                filled += Math.Pow(frequency[++word], 0.75) / power;
        }

        var input = new float[v * d];
        var output = new float[v * d];
        for (int i = 0; i < input.Length; i++)
            input[i] = (float)((Uniform() - 0.5) / d);
        double alpha0 = o.LearningRate ?? (o.SkipGram ? 0.025 : 0.05);
        long planned = (long)o.Epochs * total,
            seen = 0;
        var hidden = new float[d];
        var error = new float[d];
        for (int epoch = 0; epoch < o.Epochs; epoch++)
        {
            double lossSum = 0;
            long pairs = 0;
            foreach (var sentence in corpus)
            {
                var ids = new List<int>(sentence.Length);
                foreach (var w in sentence)
                {
                    if (!index.TryGetValue(w, out int id))
                        continue;
                    seen++;
                    if (o.Sample > 0)
                    {
                        double threshold = o.Sample * total;
                        double keep = (Math.Sqrt(frequency[id] / threshold) + 1) * threshold / frequency[id];
                        if (keep < Uniform())
                            continue;
                    }
                    ids.Add(id);
                }
                double alpha = Math.Max(alpha0 * 1e-4, alpha0 * (1 - (double)seen / (planned + 1)));
                for (int pos = 0; pos < ids.Count; pos++)
                {
                    int reach = o.Window - (int)(rng.Next() % (ulong)o.Window);
                    int from = Math.Max(0, pos - reach),
                        to = Math.Min(ids.Count - 1, pos + reach);
                    if (o.SkipGram)
                        for (int c = from; c <= to; c++)
                        {
                            if (c == pos)
                                continue;
                            // As word2vec does: the context word's input vector predicts the centre word.
                            Array.Copy(input, ids[c] * d, hidden, 0, d);
                            lossSum += Update(ids[pos], hidden, error, output, table, ref rng, o.Negative, alpha, d);
                            pairs++;
                            for (int k = 0; k < d; k++)
                                input[ids[c] * d + k] += error[k];
                        }
                    else
                    {
                        Array.Clear(hidden);
                        int n = 0;
                        for (int c = from; c <= to; c++)
                            if (c != pos)
                            {
                                for (int k = 0; k < d; k++)
                                    hidden[k] += input[ids[c] * d + k];
                                n++;
                            }
                        if (n == 0)
                            continue;
                        for (int k = 0; k < d; k++)
                            hidden[k] /= n;
                        lossSum += Update(ids[pos], hidden, error, output, table, ref rng, o.Negative, alpha, d);
                        pairs++;
                        for (int c = from; c <= to; c++)
                            if (c != pos)
                                for (int k = 0; k < d; k++)
                                    input[ids[c] * d + k] += error[k];
                    }
                }
            }
            progress?.Report((epoch + 1, pairs == 0 ? 0 : lossSum / pairs));
        }
        return new WordVectors(vocabulary.Select(c => c.Key).ToList(), input, d);
    }

    /// <summary>
    /// One positive pair and <paramref name="negative"/> noise words: raises σ(h·out[target]) and lowers σ(h·out[noise]),
    /// updating the output vectors and leaving the input's gradient step in <paramref name="error"/>. Returns the loss.
    /// </summary>
    static double Update(
        int target,
        float[] hidden,
        float[] error,
        float[] output,
        int[] table,
        ref SplitMix64 rng,
        int negative,
        double alpha,
        int d
    )
    {
        Array.Clear(error);
        double loss = 0;
        for (int j = 0; j <= negative; j++)
        {
            int word;
            int label;
            if (j == 0)
                (word, label) = (target, 1);
            else
            {
                word = table[(int)(rng.Next() % (ulong)table.Length)];
                if (word == target)
                    continue;
                label = 0;
            }
            double dot = 0;
            for (int k = 0; k < d; k++)
                dot += hidden[k] * output[word * d + k];
            double sigma = 1 / (1 + Math.Exp(-Math.Clamp(dot, -30, 30)));
            loss -= label == 1 ? Math.Log(sigma + 1e-12) : Math.Log(1 - sigma + 1e-12);
            float g = (float)((label - sigma) * alpha);
            for (int k = 0; k < d; k++)
            {
                error[k] += g * output[word * d + k];
                output[word * d + k] += g * hidden[k];
            }
        }
        return loss;
    }
}
