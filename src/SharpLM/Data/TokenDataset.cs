using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Data;

/// <summary>
/// One split ("train" or "val") of a prepared data folder: its shards seen as one token sequence,
/// read through memory maps. Batches are windows of block + 1 tokens (inputs and next-token targets).
/// </summary>
public sealed class TokenDataset : IDisposable
{
    readonly TokenShardReader[] _shards;
    readonly long[] _starts; // global index of each shard's first token

    public string Split { get; }
    public long Count { get; }

    /// <summary>Token ids must be below this (the model's vocabulary); a shard that holds a larger one is corrupt.</summary>
    public int? VocabSize { get; }

    TokenDataset(string split, TokenShardReader[] shards, int? vocabSize)
    {
        Split = split;
        VocabSize = vocabSize;
        _shards = shards;
        _starts = new long[shards.Length];
        long total = 0;
        for (int i = 0; i < shards.Length; i++)
        {
            _starts[i] = total;
            total += shards[i].Count;
        }
        Count = total;
    }

    /// <summary>
    /// Opens <c>{split}_*.bin</c> in <paramref name="dir"/>, in name order. With <paramref name="vocabSize"/>, every token
    /// read is checked against it (a corrupt shard is an error, not an out-of-range embedding lookup).
    /// </summary>
    public static TokenDataset Open(string dir, string split, int? vocabSize = null)
    {
        if (!Directory.Exists(dir))
            throw new SharpLMException($"Data folder {dir} does not exist; prepare it first (sharplm prepare).");
        var files = Directory.GetFiles(dir, $"{split}_*.bin").Order(StringComparer.Ordinal).ToArray();
        if (files.Length == 0)
            throw new SharpLMException($"{dir} has no {split}_*.bin shards; prepare the data first (sharplm prepare).");
        var readers = new List<TokenShardReader>();
        try
        {
            foreach (var f in files)
                readers.Add(new TokenShardReader(f));
        }
        catch
        {
            foreach (var r in readers)
                r.Dispose();
            throw;
        }
        return new TokenDataset(split, readers.ToArray(), vocabSize);
    }

    /// <summary>Copies tokens [start, start + destination.Length) of the concatenated shards.</summary>
    public void Read(long start, Span<int> destination)
    {
        int shard = Array.BinarySearch(_starts, start);
        if (shard < 0)
            shard = ~shard - 1;
        while (destination.Length > 0)
        {
            while (_shards[shard].Count == 0 || start - _starts[shard] >= _shards[shard].Count)
                shard++;
            long local = start - _starts[shard];
            int n = (int)Math.Min(destination.Length, _shards[shard].Count - local);
            _shards[shard].Read(local, destination[..n]);
            if (VocabSize is int v)
                foreach (int t in destination[..n])
                    if ((uint)t >= (uint)v)
                        throw new SharpLMException(
                            $"Shard {_shards[shard].Path} holds token id {t}, outside the vocabulary of {v}; the shard is corrupt or "
                                + "was prepared with another tokenizer — prepare the data again."
                        );
            destination = destination[n..];
            start += n;
        }
    }

    /// <summary>Throws unless windows of <paramref name="block"/> + 1 tokens fit.</summary>
    public void RequireWindow(int block)
    {
        if (Count < block + 1)
            throw new SharpLMException(
                $"The {Split} split has {Count} tokens, fewer than one window of block_size + 1 = {block + 1}; use a smaller "
                    + "block_size or more data."
            );
    }

    /// <summary>
    /// A batch of random windows, the same for the same <paramref name="seed"/>: inputs [B, T] and targets [B, T] (int64).
    /// The generator is seeded per call, so a resumed run draws exactly the batches an uninterrupted one would.
    /// </summary>
    public (Tensor Inputs, Tensor Targets) RandomBatch(int batch, int block, ulong seed) =>
        Windows(RandomStarts(batch, block, seed), block);

    /// <summary>Seeded uniform starts of windows of <paramref name="window"/> + 1 tokens: the same seed, the same starts.</summary>
    public long[] RandomStarts(int count, int window, ulong seed)
    {
        RequireWindow(window);
        var rng = new SplitMix64(seed);
        long range = Count - window; // valid starts: 0 .. Count - window - 1
        return Enumerable.Range(0, count).Select(_ => (long)(rng.Next() % (ulong)range)).ToArray();
    }

    /// <summary>Consecutive non-overlapping windows starting at <paramref name="starts"/>.</summary>
    public (Tensor Inputs, Tensor Targets) Windows(IReadOnlyList<long> starts, int block)
    {
        var buffer = new int[block + 1];
        var x = new long[starts.Count * block];
        var y = new long[starts.Count * block];
        for (int b = 0; b < starts.Count; b++)
        {
            Read(starts[b], buffer);
            for (int i = 0; i < block; i++)
            {
                x[b * block + i] = buffer[i];
                y[b * block + i] = buffer[i + 1];
            }
        }
        return (tensor(x, [starts.Count, block]), tensor(y, [starts.Count, block]));
    }

    public void Dispose()
    {
        foreach (var s in _shards)
            s.Dispose();
    }
}
