using SharpLM.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Models.Layers;

/// <summary>
/// Keys and values of many independent sequences, one slot each, for continuous batching: a sequence is prefilled into
/// a free slot on its own, then decoded one token per step together with whichever sequences are active, each at its
/// own position. Buffers are [slots, heads, capacity, head_dim] per layer, allocated once. Owns its tensors.
/// </summary>
public sealed class SlotKvCache : IDisposable
{
    readonly Tensor[] _keys,
        _values;
    public int Slots { get; }
    public int Capacity { get; }

    public SlotKvCache(int layers, int slots, int heads, int capacity, int headDim, ScalarType dtype = ScalarType.Float32)
    {
        Slots = slots;
        Capacity = capacity;
        _keys = new Tensor[layers];
        _values = new Tensor[layers];
        using var scope = NewDisposeScope();
        for (int i = 0; i < layers; i++)
        {
            _keys[i] = zeros(slots, heads, capacity, headDim, dtype).MoveToOuterDisposeScope();
            _values[i] = zeros(slots, heads, capacity, headDim, dtype).MoveToOuterDisposeScope();
        }
    }

    /// <summary>
    /// Copies a single sequence's keys and values (a prefill's cache, batch 1) into <paramref name="slot"/>, from position 0.
    /// </summary>
    public void Store(int slot, KvCache prefix)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope(); // the slices are temporaries: freed here, never by a finalizer mid-call
        for (int layer = 0; layer < _keys.Length; layer++)
        {
            var (k, v) = prefix.Stored(layer);
            _keys[layer][slot].narrow(1, 0, k.shape[2]).copy_(k[0]);
            _values[layer][slot].narrow(1, 0, v.shape[2]).copy_(v[0]);
        }
    }

    /// <summary>
    /// One decoding step of one layer: writes each row's new key/value [B, H, 1, D] at its slot and position, and returns
    /// the rows' keys and values up to <paramref name="window"/> positions [B, H, window, D].
    /// </summary>
    internal (Tensor Keys, Tensor Values) Write(int layer, SlotDecodeBatch batch, Tensor keys, Tensor values)
    {
        var slots = TensorIndex.Tensor(batch.Slots);
        var positions = TensorIndex.Tensor(batch.Positions);
        _keys[layer].index_put_(keys.squeeze(2), slots, TensorIndex.Colon, positions);
        _values[layer].index_put_(values.squeeze(2), slots, TensorIndex.Colon, positions);
        // Rows in slots 0..B-1 in order read the buffers as a view; any other order must gather (a copy of the window).
        return batch.Leading
            ? (
                _keys[layer].narrow(0, 0, batch.Rows).narrow(2, 0, batch.Window),
                _values[layer].narrow(0, 0, batch.Rows).narrow(2, 0, batch.Window)
            )
            : (
                _keys[layer].narrow(2, 0, batch.Window).index_select(0, batch.Slots),
                _values[layer].narrow(2, 0, batch.Window).index_select(0, batch.Slots)
            );
    }

    /// <summary>
    /// Copies the first <paramref name="length"/> positions of slot <paramref name="from"/> into slot <paramref name="to"/>.
    /// </summary>
    public void Move(int from, int to, int length)
    {
        if (from == to || length == 0)
            return;
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        for (int layer = 0; layer < _keys.Length; layer++)
        {
            _keys[layer][to].narrow(1, 0, length).copy_(_keys[layer][from].narrow(1, 0, length));
            _values[layer][to].narrow(1, 0, length).copy_(_values[layer][from].narrow(1, 0, length));
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

/// <summary>
/// The rows of one continuous-batching decode step: which slot each row's sequence lives in and the position of the
/// token it adds; the attention mask lets each row see its own sequence's positions only.
/// </summary>
public sealed class SlotDecodeBatch
{
    public SlotKvCache Cache { get; }
    public Tensor Slots { get; }
    public Tensor Positions { get; }

    /// <summary>Positions every row may look at: 0 up to the furthest row's new token.</summary>
    public int Window { get; }

    /// <summary>[B, 1, 1, window]: true where a key belongs to the row's sequence so far.</summary>
    public Tensor Mask { get; }

    public int Rows { get; }

    /// <summary>Row b is in slot b: the cache is read without copying (the engine keeps its sequences so).</summary>
    public bool Leading { get; }

    public SlotDecodeBatch(SlotKvCache cache, IReadOnlyList<long> slots, IReadOnlyList<long> positions)
    {
        Cache = cache;
        Rows = slots.Count;
        Leading = Enumerable.Range(0, slots.Count).All(b => slots[b] == b);
        Slots = tensor(slots.ToArray());
        Positions = tensor(positions.ToArray());
        Window = (int)positions.Max() + 1;
        if (Window > cache.Capacity)
            throw new ArgumentOutOfRangeException(
                nameof(positions),
                $"Position {Window - 1} is beyond the cache's {cache.Capacity} positions."
            );
        Mask = (Arithmetic.Range(0, Window).unsqueeze(0) <= Positions.unsqueeze(1)).unsqueeze(1).unsqueeze(1);
    }
}
