namespace SharpLM.Tokenization;

/// <summary>
/// The core of BPE training shared by the byte-level BPE and WordPiece trainers: given word counts as symbol-id
/// sequences, repeatedly merge the most frequent adjacent pair (ties: the smaller (left, right) ids, as Hugging Face
/// does) until the vocabulary is full or no pair occurs <c>minFrequency</c> times. Pair counts are updated
/// incrementally from an index of the words each pair occurs in, and a lazy max-heap picks the best pair.
/// </summary>
internal static class PairMergeTrainer
{
    public readonly record struct Merge(int Left, int Right, int NewId);

    /// <param name="words">Distinct words as symbol ids, with their counts (mutated in place).</param>
    /// <param name="firstNewId">Id to give the first merged symbol.</param>
    /// <param name="maxMerges">How many merges at most.</param>
    /// <param name="onMerge">Called per merge, e.g. to name the new symbol; for progress too.</param>
    public static List<Merge> Train(
        List<int[]> words,
        List<long> counts,
        int firstNewId,
        int maxMerges,
        long minFrequency,
        Action<Merge>? onMerge = null
    )
    {
        var pairCounts = new Dictionary<long, long>(PairKey.Comparer);
        var where = new Dictionary<long, HashSet<int>>(PairKey.Comparer);
        var symbols = new List<List<int>>(words.Count);
        for (int w = 0; w < words.Count; w++)
        {
            var s = new List<int>(words[w]);
            symbols.Add(s);
            for (int i = 0; i + 1 < s.Count; i++)
            {
                long key = Key(s[i], s[i + 1]);
                pairCounts[key] = pairCounts.GetValueOrDefault(key) + counts[w];
                if (!where.TryGetValue(key, out var set))
                    where[key] = set = [];
                set.Add(w);
            }
        }
        // Max-heap on (count desc, key asc) via a min-heap of (-count, key).
        var heap = new PriorityQueue<long, (long, long)>();
        foreach (var (key, c) in pairCounts)
            heap.Enqueue(key, (-c, key));

        var merges = new List<Merge>();
        int nextId = firstNewId;
        while (merges.Count < maxMerges && heap.TryDequeue(out long best, out var priority))
        {
            long count = pairCounts.GetValueOrDefault(best);
            if (count != -priority.Item1)
            {
                if (count > 0)
                    heap.Enqueue(best, (-count, best)); // stale: re-queue with the current count
                continue;
            }
            if (count < minFrequency)
                break;
            int left = (int)(best >> 32),
                right = (int)(uint)best,
                id = nextId++;
            var merge = new Merge(left, right, id);
            merges.Add(merge);
            onMerge?.Invoke(merge);

            var changed = new HashSet<long>(PairKey.Comparer);
            foreach (int w in where[best].Order().ToList())
            {
                var s = symbols[w];
                long c = counts[w];
                for (int i = 0; i + 1 < s.Count; i++)
                {
                    if (s[i] != left || s[i + 1] != right)
                        continue;
                    // Remove the pairs around the occurrence, merge, add the new pairs.
                    if (i > 0)
                        Adjust(Key(s[i - 1], left), -c, w, changed);
                    if (i + 2 < s.Count)
                        Adjust(Key(right, s[i + 2]), -c, w, changed);
                    Adjust(best, -c, w, changed);
                    s[i] = id;
                    s.RemoveAt(i + 1);
                    if (i > 0)
                        Adjust(Key(s[i - 1], id), c, w, changed);
                    if (i + 1 < s.Count)
                        Adjust(Key(id, s[i + 1]), c, w, changed);
                }
            }
            where.Remove(best);
            pairCounts.Remove(best);
            foreach (long key in changed)
                if (pairCounts.GetValueOrDefault(key) > 0)
                    heap.Enqueue(key, (-pairCounts[key], key));
        }
        return merges;

        void Adjust(long key, long delta, int word, HashSet<long> changed)
        {
            long v = pairCounts.GetValueOrDefault(key) + delta;
            if (v <= 0)
                pairCounts.Remove(key);
            else
                pairCounts[key] = v;
            if (delta > 0)
            {
                if (!where.TryGetValue(key, out var set))
                    where[key] = set = [];
                set.Add(word);
            }
            changed.Add(key);
        }
    }

    static long Key(int left, int right) => PairKey.Of(left, right);
}
