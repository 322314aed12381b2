using SharpLM.Data;

namespace SharpLM.Evaluation;

/// <summary>Stratified splits: every class is spread over the parts in proportion, deterministically for a seed.</summary>
public static class CrossValidation
{
    /// <summary>
    /// k folds of (train, test) example indices. Each class's examples are shuffled (seeded) and dealt to the folds in
    /// turn, continuing where the previous class stopped, so class counts per fold differ by at most one and fold sizes
    /// by at most one.
    /// </summary>
    public static IReadOnlyList<(int[] Train, int[] Test)> StratifiedKFold(IReadOnlyList<int> labels, int k, int seed)
    {
        if (k < 2)
            throw new SharpLMException($"Cross-validation needs at least 2 folds (got {k}).");
        if (labels.Count < k)
            throw new SharpLMException($"Cannot make {k} folds from {labels.Count} examples; use fewer folds.");
        var folds = Enumerable.Range(0, k).Select(_ => new List<int>()).ToArray();
        int next = 0;
        foreach (var members in ByClass(labels, seed))
        foreach (int index in members)
        {
            folds[next].Add(index);
            next = (next + 1) % k;
        }
        return Enumerable
            .Range(0, k)
            .Select(f =>
            {
                var test = folds[f].Order().ToArray();
                var train = Enumerable.Range(0, k).Where(g => g != f).SelectMany(g => folds[g]).Order().ToArray();
                return (train, test);
            })
            .ToArray();
    }

    /// <summary>
    /// Splits example indices into parts of the given fractions (summing to 1), stratified by class: within each class
    /// the counts are the fractions rounded by largest remainder, so every part gets its share of every class.
    /// </summary>
    public static int[][] StratifiedSplit(IReadOnlyList<int> labels, IReadOnlyList<double> fractions, int seed)
    {
        if (fractions.Count == 0 || fractions.Any(f => f < 0) || Math.Abs(fractions.Sum() - 1) > 1e-9)
            throw new SharpLMException($"Split fractions must be non-negative and sum to 1 (got {string.Join(", ", fractions)}).");
        var parts = fractions.Select(_ => new List<int>()).ToArray();
        foreach (var members in ByClass(labels, seed))
        {
            var counts = fractions.Select(f => (int)Math.Floor(f * members.Count)).ToArray();
            int left = members.Count - counts.Sum();
            foreach (
                int p in Enumerable
                    .Range(0, fractions.Count)
                    .OrderByDescending(p => fractions[p] * members.Count - counts[p])
                    .ThenBy(p => p)
                    .Take(left)
            )
                counts[p]++;
            int start = 0;
            for (int p = 0; p < parts.Length; p++)
            {
                parts[p].AddRange(members.Skip(start).Take(counts[p]));
                start += counts[p];
            }
        }
        return parts.Select(p => p.Order().ToArray()).ToArray();
    }

    /// <summary>Each class's example indices (classes in ascending order), shuffled by a seeded Fisher–Yates.</summary>
    static IEnumerable<List<int>> ByClass(IReadOnlyList<int> labels, int seed)
    {
        foreach (var group in Enumerable.Range(0, labels.Count).GroupBy(i => labels[i]).OrderBy(g => g.Key))
        {
            var members = group.ToList();
            var rng = new SplitMix64(SplitMix64.Mix((ulong)seed, (ulong)group.Key));
            for (int i = members.Count - 1; i > 0; i--)
            {
                int j = (int)(rng.Next() % (ulong)(i + 1));
                (members[i], members[j]) = (members[j], members[i]);
            }
            yield return members;
        }
    }
}
