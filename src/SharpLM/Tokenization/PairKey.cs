namespace SharpLM.Tokenization;

/// <summary>
/// A pair of token ids packed in a long, with a hash that mixes both halves. long's own hash is low ^ high, which
/// gives (a, b) and every pair with the same XOR one bucket: a BPE merge table degenerates into long chains.
/// </summary>
internal sealed class PairKey : IEqualityComparer<long>
{
    public static readonly PairKey Comparer = new();

    public static long Of(int left, int right) => ((long)left << 32) | (uint)right;

    public bool Equals(long x, long y) => x == y;

    public int GetHashCode(long key) => (int)(((ulong)key * 0x9E3779B97F4A7C15UL) >> 32);
}
