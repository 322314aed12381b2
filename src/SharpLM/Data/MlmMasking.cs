namespace SharpLM.Data;

/// <summary>
/// BERT's masked-LM corruption: each real, non-special token is selected with probability 15%; a selected token
/// becomes [MASK] 80% of the time, a random ordinary token 10%, and stays unchanged 10%. Only selected positions carry a
/// label (the original id); every other label is -100, which the loss ignores.
/// </summary>
public sealed class MlmMasking(int maskId, int vocabSize, IReadOnlySet<int> specialIds, double selectProbability = 0.15)
{
    public const long Ignore = -100;

    /// <summary>
    /// Corrupts <paramref name="ids"/> (row-major [B, T]) in place and returns the labels; the same seed gives the same masks.
    /// </summary>
    public long[] Apply(long[] ids, bool[] attend, ulong seed)
    {
        var rng = new SplitMix64(seed);
        double Uniform() => (rng.Next() >> 11) * (1.0 / (1UL << 53));
        var labels = new long[ids.Length];
        for (int i = 0; i < ids.Length; i++)
        {
            labels[i] = Ignore;
            if (!attend[i] || specialIds.Contains((int)ids[i]))
                continue;
            if (Uniform() >= selectProbability)
                continue;
            labels[i] = ids[i];
            double r = Uniform();
            if (r < 0.8)
                ids[i] = maskId;
            else if (r < 0.9)
                ids[i] = RandomOrdinaryToken(ref rng);
            // else: unchanged
        }
        return labels;
    }

    int RandomOrdinaryToken(ref SplitMix64 rng)
    {
        while (true)
        {
            int id = (int)(rng.Next() % (ulong)vocabSize);
            if (!specialIds.Contains(id))
                return id;
        }
    }
}
