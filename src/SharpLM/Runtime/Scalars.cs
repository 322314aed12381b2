using TorchSharp;

namespace SharpLM.Runtime;

/// <summary>
/// Scalars for libtorch calls that stay alive until this is disposed. Why not TorchSharp's implicit conversion
/// (<c>t * 0.5</c>): a <see cref="Scalar"/> frees its native value in a finalizer and TorchSharp passes libtorch only
/// the raw handle, so a Scalar nothing references any more can be freed by a garbage collection (started by any
/// thread) while libtorch is still reading it — a crash, or silently a wrong number. Use one per step:
/// <code>using var s = new Scalars(); p.add_(grad, alpha: s[-lr]);</code>
/// <c>ScalarLifetimeTests</c> rejects any other way of making a Scalar in SharpLM's code.
/// </summary>
public sealed class Scalars : IDisposable
{
    readonly List<Scalar> _made = [];

    /// <summary>1, made once and alive for the whole process.</summary>
    public static Scalar One { get; } = 1L.ToScalar();

    public Scalar this[double value] => Keep(value.ToScalar());

    public Scalar this[long value] => Keep(value.ToScalar());

    public Scalar this[bool value] => Keep(value.ToScalar());

    Scalar Keep(Scalar s)
    {
        _made.Add(s);
        return s;
    }

    public void Dispose()
    {
        foreach (var s in _made)
            s.Dispose();
        _made.Clear();
    }
}

/// <summary>
/// Tensor arithmetic that makes no Scalar on the spot (see <see cref="Scalars"/>): TorchSharp's <c>a + b</c> is
/// <c>a.add(b, 1)</c> with a fresh, unreferenced 1 — the same hazard — so sums go through here (<c>a - b</c> is safe).
/// </summary>
public static class Arithmetic
{
    /// <summary>a + b.</summary>
    public static torch.Tensor Plus(this torch.Tensor a, torch.Tensor b) => a.add(b, Scalars.One);

    /// <summary>start, start + 1, ..., stop - 1 as int64.</summary>
    public static torch.Tensor Range(long start, long stop, torch.Device? device = null)
    {
        using var s = new Scalars();
        return torch.arange(s[start], s[stop], s[1L], torch.ScalarType.Int64, device);
    }
}
