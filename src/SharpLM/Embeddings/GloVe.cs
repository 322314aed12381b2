using SharpLM.Data;

namespace SharpLM.Embeddings;

public sealed record GloVeOptions
{
    public int Dimensions { get; init; } = 100;

    /// <summary>Words on each side that count as context (weighted 1/distance).</summary>
    public int Window { get; init; } = 10;
    public int MinCount { get; init; } = 5;

    /// <summary>Passes over the co-occurrence counts.</summary>
    public int Epochs { get; init; } = 25;

    /// <summary>AdaGrad's initial learning rate (GloVe's eta).</summary>
    public double LearningRate { get; init; } = 0.05;

    /// <summary>The weighting f(x) = (x / x_max)^alpha below x_max, 1 above.</summary>
    public double XMax { get; init; } = 100;
    public double Alpha { get; init; } = 0.75;
    public int Seed { get; init; } = 1;

    public GloVeOptions Validate()
    {
        if (Dimensions < 1 || Window < 1 || MinCount < 1 || Epochs < 1)
            throw new SharpLMException("dimensions, window, min_count and epochs must be at least 1.");
        if (!(LearningRate > 0) || !(XMax > 0) || !(Alpha > 0))
            throw new SharpLMException("learning_rate, x_max and alpha must be positive.");
        return this;
    }
}

/// <summary>
/// GloVe (Pennington, Socher and Manning 2014) as the Stanford tool trains it: symmetric co-occurrence counts within a
/// window, each pair weighted by 1/distance; a weighted least-squares fit of w_i·w̃_j + b_i + b̃_j to log X_ij with
/// f(X) = min(1, (X/x_max)^α); AdaGrad on every parameter (squared-gradient sums starting at 1, learning-rate-scaled
/// gradients clipped at 100); the pairs visited in a seeded shuffle each epoch; the word's vector is w + w̃ (the tool's default "model 2").
/// One thread and a seeded generator, so the same seed gives the same vectors. Written by hand: no maintained .NET
/// library trains GloVe.
/// </summary>
public static class GloVe
{
    const double GradientClip = 100;

    public static WordVectors Train(IEnumerable<string> texts, GloVeOptions options, IProgress<(int Epoch, double Loss)>? progress = null)
    {
        var o = options.Validate();
        var corpus = Word2Vec.Corpus(texts);
        var (vocabulary, index) = Word2Vec.Vocabulary(corpus, o.MinCount);
        int v = vocabulary.Count,
            d = o.Dimensions;

        // Co-occurrence counts: both directions of every pair within the window, 1/distance each.
        var counts = new Dictionary<long, double>();
        foreach (var sentence in corpus)
        {
            var ids = sentence.Select(w => index.TryGetValue(w, out int i) ? i : -1).ToArray();
            for (int pos = 0; pos < ids.Length; pos++)
            {
                if (ids[pos] < 0)
                    continue;
                for (int c = Math.Max(0, pos - o.Window); c < pos; c++)
                {
                    if (ids[c] < 0)
                        continue;
                    double weight = 1.0 / (pos - c);
                    long a = (long)ids[pos] * v + ids[c],
                        b = (long)ids[c] * v + ids[pos];
                    counts[a] = counts.GetValueOrDefault(a) + weight;
                    counts[b] = counts.GetValueOrDefault(b) + weight;
                }
            }
        }
        if (counts.Count == 0)
            throw new SharpLMException("No two kept words occur within the window of each other; give more text or a wider window.");
        var pairs = counts.OrderBy(p => p.Key).Select(p => (Row: (int)(p.Key / v), Col: (int)(p.Key % v), X: p.Value)).ToArray();

        var rng = new SplitMix64((ulong)o.Seed);
        double Uniform() => (rng.Next() >> 11) * (1.0 / (1UL << 53));
        // Word vectors then context vectors, each with its bias: GloVe's layout, initialised uniformly in ±0.5/d.
        var w = new double[2 * v * d];
        var bias = new double[2 * v];
        for (int i = 0; i < w.Length; i++)
            w[i] = (Uniform() - 0.5) / d;
        for (int i = 0; i < bias.Length; i++)
            bias[i] = (Uniform() - 0.5) / d;
        var gradsq = new double[w.Length];
        var gradsqBias = new double[bias.Length];
        Array.Fill(gradsq, 1.0);
        Array.Fill(gradsqBias, 1.0);
        var update1 = new double[d];
        var update2 = new double[d];
        var order = Enumerable.Range(0, pairs.Length).ToArray();

        for (int epoch = 0; epoch < o.Epochs; epoch++)
        {
            for (int i = order.Length - 1; i > 0; i--)
            {
                int j = (int)(rng.Next() % (ulong)(i + 1));
                (order[i], order[j]) = (order[j], order[i]);
            }
            double cost = 0;
            foreach (int k in order)
            {
                var (row, col, x) = pairs[k];
                int l1 = row * d,
                    l2 = (v + col) * d;
                double diff = bias[row] + bias[v + col] - Math.Log(x);
                for (int b = 0; b < d; b++)
                    diff += w[l1 + b] * w[l2 + b];
                double fdiff = x > o.XMax ? diff : Math.Pow(x / o.XMax, o.Alpha) * diff;
                if (!double.IsFinite(diff) || !double.IsFinite(fdiff))
                    throw new SharpLMException("GloVe diverged (a non-finite cost); use a lower learning_rate.");
                cost += 0.5 * fdiff * diff;
                fdiff *= o.LearningRate;
                for (int b = 0; b < d; b++)
                {
                    double g1 = Math.Clamp(fdiff * w[l2 + b], -GradientClip, GradientClip);
                    double g2 = Math.Clamp(fdiff * w[l1 + b], -GradientClip, GradientClip);
                    update1[b] = g1 / Math.Sqrt(gradsq[l1 + b]);
                    update2[b] = g2 / Math.Sqrt(gradsq[l2 + b]);
                    gradsq[l1 + b] += g1 * g1;
                    gradsq[l2 + b] += g2 * g2;
                }
                for (int b = 0; b < d; b++)
                {
                    w[l1 + b] -= update1[b];
                    w[l2 + b] -= update2[b];
                }
                bias[row] -= fdiff / Math.Sqrt(gradsqBias[row]);
                bias[v + col] -= fdiff / Math.Sqrt(gradsqBias[v + col]);
                gradsqBias[row] += fdiff * fdiff;
                gradsqBias[v + col] += fdiff * fdiff;
            }
            progress?.Report((epoch + 1, cost / pairs.Length));
        }

        var vectors = new float[v * d];
        for (int i = 0; i < v * d; i++)
            vectors[i] = (float)(w[i] + w[v * d + i]);
        return new WordVectors(vocabulary.Select(c => c.Key).ToList(), vectors, d);
    }
}
