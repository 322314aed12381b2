namespace SharpLM.Data;

/// <summary>SplitMix64: a tiny, well-mixed, stateless-to-seed generator (its whole state is one ulong).</summary>
public struct SplitMix64(ulong seed)
{
    ulong _state = seed;

    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Mixes several values into one seed (order matters).</summary>
    public static ulong Mix(params ulong[] parts)
    {
        var g = new SplitMix64(0x5851F42D4C957F2DUL);
        ulong h = g.Next();
        foreach (var p in parts)
        {
            g = new SplitMix64(h ^ p);
            h = g.Next();
        }
        return h;
    }
}
