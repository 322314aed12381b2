using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Models.Layers;

/// <summary>
/// Keys and values of every layer for the tokens seen so far, in buffers preallocated to the context
/// length so that each decoding step writes one slot instead of concatenating (which would copy the
/// whole cache every step). Owns its tensors: dispose it when generation ends.
/// </summary>
public sealed class KvCache : IDisposable
{
    readonly Tensor[] _keys,
        _values;
    public int Capacity { get; }

    /// <summary>Number of positions already stored.</summary>
    public int Length { get; private set; }

    public KvCache(int layers, long batch, int heads, int capacity, int headDim, ScalarType dtype = ScalarType.Float32)
    {
        Capacity = capacity;
        _keys = new Tensor[layers];
        _values = new Tensor[layers];
        // Detached from any dispose scope the caller is in: the cache outlives decoding steps and owns its tensors.
        for (int i = 0; i < layers; i++)
        {
            _keys[i] = zeros(batch, heads, capacity, headDim, dtype).DetachFromDisposeScope();
            _values[i] = zeros(batch, heads, capacity, headDim, dtype).DetachFromDisposeScope();
        }
    }

    /// <summary>Stores the new keys/values [B, H, T, D] of one layer and returns views over everything stored so far.</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values)
    {
        int t = (int)keys.shape[2];
        if (Length + t > Capacity)
            throw new InvalidOperationException($"KV cache overflow: {Length} + {t} > {Capacity}.");
        _keys[layer].narrow(2, Length, t).copy_(keys);
        _values[layer].narrow(2, Length, t).copy_(values);
        return (_keys[layer].narrow(2, 0, Length + t), _values[layer].narrow(2, 0, Length + t));
    }

    /// <summary>The keys and values stored so far for one layer [B, H, Length, D] (views).</summary>
    public (Tensor Keys, Tensor Values) Stored(int layer) => (_keys[layer].narrow(2, 0, Length), _values[layer].narrow(2, 0, Length));

    /// <summary>Called once per forward pass, after every layer has appended the same number of positions.</summary>
    public void Advance(int positions) => Length += positions;

    public void Reset() => Length = 0;

    /// <summary>
    /// Keeps, as row r, what row <paramref name="rows"/>[r] held (beam search: beams follow their parents; the number
    /// of rows may change, e.g. one prompt's prefill copied to each of its beams).
    /// </summary>
    public void SelectRows(Tensor rows)
    {
        for (int i = 0; i < _keys.Length; i++)
        {
            var keys = _keys[i].index_select(0, rows).DetachFromDisposeScope();
            var values = _values[i].index_select(0, rows).DetachFromDisposeScope();
            _keys[i].Dispose();
            _values[i].Dispose();
            _keys[i] = keys;
            _values[i] = values;
        }
    }

    public void Dispose()
    {
        foreach (var t in _keys)
            t.Dispose();
        foreach (var t in _values)
            t.Dispose();
    }
}
