using System.Text;

namespace SharpLM.Export;

/// <summary>
/// Writes GGUF version 3, llama.cpp's single-file model format: "GGUF", version, tensor and metadata counts, typed
/// key–value metadata, tensor descriptions (name, dimensions fastest-varying first, ggml type, offset), then the tensor
/// data, each aligned to <see cref="Alignment"/> bytes. Written by hand: no .NET library writes GGUF, and the layout
/// is small and fully specified (ggml's docs/gguf.md).
/// </summary>
internal sealed class GgufWriter
{
    public const int Alignment = 32;

    enum ValueType : uint
    {
        UInt32 = 4,
        Int32 = 5,
        Float32 = 6,
        Bool = 7,
        String = 8,
        Array = 9,
    }

    /// <summary>ggml tensor types written here.</summary>
    public enum TensorType : uint
    {
        F32 = 0,
        F16 = 1,
        Q8_0 = 8,
    }

    readonly List<(string Key, Action<BinaryWriter> Write)> _metadata = [];
    readonly List<(string Name, long[] Dims, TensorType Type, byte[] Data)> _tensors = [];

    public void Add(string key, string value) =>
        _metadata.Add(
            (
                key,
                w =>
                {
                    Type(w, ValueType.String);
                    Str(w, value);
                }
            )
        );

    public void Add(string key, uint value) =>
        _metadata.Add(
            (
                key,
                w =>
                {
                    Type(w, ValueType.UInt32);
                    w.Write(value);
                }
            )
        );

    public void Add(string key, float value) =>
        _metadata.Add(
            (
                key,
                w =>
                {
                    Type(w, ValueType.Float32);
                    w.Write(value);
                }
            )
        );

    public void Add(string key, bool value) =>
        _metadata.Add(
            (
                key,
                w =>
                {
                    Type(w, ValueType.Bool);
                    w.Write((byte)(value ? 1 : 0));
                }
            )
        );

    public void Add(string key, IReadOnlyList<string> values) =>
        _metadata.Add(
            (
                key,
                w =>
                {
                    Type(w, ValueType.Array);
                    Type(w, ValueType.String);
                    w.Write((ulong)values.Count);
                    foreach (var v in values)
                        Str(w, v);
                }
            )
        );

    public void Add(string key, IReadOnlyList<int> values) =>
        _metadata.Add(
            (
                key,
                w =>
                {
                    Type(w, ValueType.Array);
                    Type(w, ValueType.Int32);
                    w.Write((ulong)values.Count);
                    foreach (var v in values)
                        w.Write(v);
                }
            )
        );

    /// <summary>A tensor of PyTorch shape <paramref name="shape"/> (row-major), stored with GGUF's reversed dimensions.</summary>
    public void Tensor(string name, long[] shape, TensorType type, byte[] data) =>
        _tensors.Add((name, shape.Reverse().ToArray(), type, data));

    public void WriteTo(Stream stream)
    {
        using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write("GGUF"u8);
        w.Write(3u);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_metadata.Count);
        foreach (var (key, write) in _metadata)
        {
            Str(w, key);
            write(w);
        }
        ulong offset = 0;
        foreach (var (name, dims, type, data) in _tensors)
        {
            Str(w, name);
            w.Write((uint)dims.Length);
            foreach (long d in dims)
                w.Write((ulong)d);
            w.Write((uint)type);
            w.Write(offset);
            offset = Align(offset + (ulong)data.Length);
        }
        Pad(w);
        long start = w.BaseStream.Position;
        foreach (var (_, _, _, data) in _tensors)
        {
            w.Write(data);
            Pad(w, start);
        }
    }

    static ulong Align(ulong n) => (n + Alignment - 1) / Alignment * Alignment;

    static void Pad(BinaryWriter w, long from = 0)
    {
        long used = w.BaseStream.Position - from;
        for (long i = used; i % Alignment != 0; i++)
            w.Write((byte)0);
    }

    static void Type(BinaryWriter w, ValueType t) => w.Write((uint)t);

    static void Str(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }
}
