using SharpLM.Data;

namespace SharpLM.Training;

/// <summary>
/// Which examples a micro-batch holds: the examples in a seeded shuffle per epoch that depends only on (seed, salt,
/// epoch), walked in order across epochs, so a batch depends only on (step, micro-batch) and training resumes exactly.
/// </summary>
public sealed class EpochShuffle(int count, int seed, ulong salt)
{
    readonly Dictionary<int, int[]> _orders = [];

    public int[] Order(int epoch)
    {
        if (_orders.TryGetValue(epoch, out var order))
            return order;
        order = Enumerable.Range(0, count).ToArray();
        var rng = new SplitMix64(SplitMix64.Mix((ulong)seed, salt, (ulong)epoch));
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = (int)(rng.Next() % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
        if (_orders.Count > 4)
            _orders.Clear();
        return _orders[epoch] = order;
    }

    /// <summary>The example indices of micro-batch <paramref name="micro"/> of <paramref name="step"/>.</summary>
    public int[] Batch(int step, int micro, TrainOptions options)
    {
        // Data-parallel: the global micro-batch has batch_size × ranks examples, and this rank takes its consecutive part.
        int ranks = options.Parallel?.Size ?? 1,
            rank = options.Parallel?.Rank ?? 0;
        long first = ((long)step * options.GradAccumulation + micro) * options.BatchSize * ranks + (long)rank * options.BatchSize;
        return Enumerable
            .Range(0, options.BatchSize)
            .Select(k =>
            {
                long j = first + k;
                return Order((int)(j / count))[(int)(j % count)];
            })
            .ToArray();
    }
}
