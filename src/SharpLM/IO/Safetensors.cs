using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.IO;

/// <summary>
/// Reads and writes the safetensors format (8-byte little-endian header length, JSON header with
/// dtype/shape/data_offsets per tensor and optional string metadata, then raw little-endian data).
/// Written by hand because TorchSharp has no safetensors API; the format is small and fully specified.
/// </summary>
public static class Safetensors
{
    const long MaxHeaderBytes = 100_000_000;

    /// <summary>
    /// SharpLM's int8 weight layout: an I8 tensor NAME stored with an F32 tensor NAME + "_scale" whose shape broadcasts
    /// against it ([rows, 1] per row, [1, columns] per column); the weight is int8 × scale. <see cref="File.Read"/>
    /// returns such weights dequantized to fp32, so every loader reads quantized runs unchanged.
    /// </summary>
    public const string ScaleSuffix = "_scale";

    static readonly Dictionary<ScalarType, (string Name, int Size)> DTypes = new()
    {
        [ScalarType.Float32] = ("F32", 4),
        [ScalarType.Float64] = ("F64", 8),
        [ScalarType.Float16] = ("F16", 2),
        [ScalarType.BFloat16] = ("BF16", 2),
        [ScalarType.Int64] = ("I64", 8),
        [ScalarType.Int32] = ("I32", 4),
        [ScalarType.Int8] = ("I8", 1),
        [ScalarType.Byte] = ("U8", 1),
        [ScalarType.Bool] = ("BOOL", 1),
    };

    /// <summary>Writes the tensors (in the given order) atomically to <paramref name="path"/>.</summary>
    public static void Save(
        string path,
        IEnumerable<(string Name, Tensor Tensor)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null
    )
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors writing needs a little-endian machine.");
        var list = tensors.ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata)
                meta[k] = v;
            header["__metadata__"] = meta;
        }
        long offset = 0;
        foreach (var (name, t) in list)
        {
            if (!DTypes.TryGetValue(t.dtype, out var dt))
                throw new NotSupportedException($"safetensors: dtype {t.dtype} of '{name}' is not supported.");
            long bytes = t.numel() * dt.Size;
            header[name] = new JsonObject
            {
                ["dtype"] = dt.Name,
                ["shape"] = new JsonArray(t.shape.Select(s => (JsonNode)s).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int pad = (8 - json.Length % 8) % 8; // the spec allows trailing spaces; 8-byte alignment helps memory-mapped readers
        AtomicFile.Write(
            path,
            stream =>
            {
                Span<byte> len = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)(json.Length + pad));
                stream.Write(len);
                stream.Write(json);
                for (int i = 0; i < pad; i++)
                    stream.WriteByte((byte)' ');
                foreach (var (_, t) in list)
                {
                    using var c = t.detach().cpu().contiguous();
                    stream.Write(c.bytes);
                }
            }
        );
    }

    /// <summary>A parsed file: its tensors' descriptions and metadata, with the data read on demand.</summary>
    public sealed class File
    {
        public string Path { get; }
        public IReadOnlyDictionary<string, string> Metadata { get; }

        /// <summary>The files the tensors are in: this one, or a sharded set's shards.</summary>
        public IReadOnlyList<string> Files => _shardOf is null ? [Path] : _shardOf.Values.Select(s => s.Path).Distinct().ToList();
        public IReadOnlyDictionary<string, (string DType, long[] Shape, long Begin, long End)> Entries { get; }
        readonly long _dataStart;

        // A sharded set (model.safetensors.index.json): the shard that holds each tensor; null for a single file.
        readonly Dictionary<string, File>? _shardOf;

        File(string path, Dictionary<string, string> metadata, Dictionary<string, (string, long[], long, long)> entries, long dataStart)
        {
            Path = path;
            Metadata = metadata;
            Entries = entries;
            _dataStart = dataStart;
        }

        File(string path, Dictionary<string, File> shardOf)
        {
            Path = path;
            _shardOf = shardOf;
            Metadata = new Dictionary<string, string>();
            Entries = shardOf.ToDictionary(e => e.Key, e => e.Value.Entries[e.Key], StringComparer.Ordinal);
        }

        /// <summary>The index Hugging Face writes beside sharded weights: <c>model.safetensors.index.json</c>.</summary>
        public static string IndexPath(string path) => path + ".index.json";

        /// <summary>Whether <paramref name="path"/> or its sharded index (<see cref="IndexPath"/>) exists.</summary>
        public static bool Exists(string path) => System.IO.File.Exists(path) || System.IO.File.Exists(IndexPath(path));

        /// <summary>
        /// Opens the weights at <paramref name="path"/>, or, when only its index exists, the shards the index names
        /// (<c>weight_map</c>: tensor name → shard file beside it) as one set.
        /// </summary>
        public static File OpenSet(string path) => System.IO.File.Exists(path) ? Open(path) : OpenSharded(IndexPath(path));

        static File OpenSharded(string indexPath)
        {
            if (!System.IO.File.Exists(indexPath))
                throw new SharpLMException($"{indexPath[..^".index.json".Length]} does not exist.");
            string Bad(string why) => $"{indexPath} is not a usable safetensors index ({why}); download or write the folder again.";
            var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            try
            {
                using var doc = JsonDocument.Parse(System.IO.File.ReadAllText(indexPath));
                if (
                    doc.RootElement.ValueKind != JsonValueKind.Object
                    || !doc.RootElement.TryGetProperty("weight_map", out var map)
                    || map.ValueKind != JsonValueKind.Object
                )
                    throw new SharpLMException(Bad("it has no weight_map object"));
                foreach (var entry in map.EnumerateObject())
                    if (entry.Value.ValueKind != JsonValueKind.String || !weightMap.TryAdd(entry.Name, entry.Value.GetString()!))
                        throw new SharpLMException(Bad($"tensor '{entry.Name}' is repeated or its shard is not a file name"));
            }
            catch (JsonException e)
            {
                throw new SharpLMException(Bad($"not JSON: {e.Message.Split('.')[0]}"));
            }
            string folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(indexPath))!;
            var shards = new Dictionary<string, File>(StringComparer.Ordinal);
            var shardOf = new Dictionary<string, File>(StringComparer.Ordinal);
            foreach (var (name, shardName) in weightMap)
            {
                // A shard is a file name beside the index, never a path elsewhere.
                if (shardName.Length == 0 || System.IO.Path.GetFileName(shardName) != shardName || shardName is "." or "..")
                    throw new SharpLMException(Bad($"tensor '{name}' names shard '{shardName}', which is not a file name in the folder"));
                if (!shards.TryGetValue(shardName, out var shard))
                {
                    string shardPath = System.IO.Path.Combine(folder, shardName);
                    if (!System.IO.File.Exists(shardPath))
                        throw new SharpLMException(Bad($"its shard {shardName} is missing"));
                    shards[shardName] = shard = Open(shardPath);
                }
                if (!shard.Entries.ContainsKey(name))
                    throw new SharpLMException(Bad($"shard {shardName} has no tensor '{name}'"));
                shardOf[name] = shard;
            }
            foreach (var (shardName, shard) in shards)
                if (shard.Entries.Keys.FirstOrDefault(n => !shardOf.ContainsKey(n)) is string unlisted)
                    throw new SharpLMException(Bad($"shard {shardName} holds '{unlisted}', which the weight_map does not list"));
            return new File(indexPath, shardOf);
        }

        /// <summary>
        /// Parses and validates the header as the reference implementation does — a JSON object whose tensors have a known
        /// dtype, non-negative dimensions whose product (checked for overflow) times the dtype size equals their byte
        /// range, and byte ranges that tile the data section exactly, with no name twice — so that nothing is allocated
        /// for a header that lies. Every problem becomes a <see cref="SharpLMException"/> naming the file.
        /// </summary>
        public static File Open(string path)
        {
            if (!System.IO.File.Exists(path))
                throw new SharpLMException($"{path} does not exist.");
            string Corrupt(string why) =>
                $"{path} is not a valid safetensors file ({why}); it may be truncated or corrupted — delete it and re-run the command "
                + "that wrote it.";
            using var fs = System.IO.File.OpenRead(path);
            long fileLength = fs.Length;
            Span<byte> len = stackalloc byte[8];
            if (fs.ReadAtLeast(len, 8, throwOnEndOfStream: false) < 8)
                throw new SharpLMException(Corrupt("shorter than its 8-byte header length"));
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(len);
            if (headerLength < 2 || headerLength > (ulong)Math.Min(MaxHeaderBytes, fileLength - 8))
                throw new SharpLMException(Corrupt($"header length {headerLength} does not fit in the file"));
            var json = new byte[headerLength];
            fs.ReadExactly(json);
            if (json[0] != (byte)'{')
                throw new SharpLMException(Corrupt("the header does not start with '{'"));
            long dataStart = 8 + (long)headerLength,
                dataLength = fileLength - dataStart;
            var metadata = new Dictionary<string, string>();
            var entries = new Dictionary<string, (string, long[], long, long)>(StringComparer.Ordinal);
            try
            {
                using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new SharpLMException(Corrupt("the header is not a JSON object"));
                bool sawMetadata = false;
                foreach (var property in doc.RootElement.EnumerateObject())
                {
                    string name = property.Name;
                    if (name == "__metadata__")
                    {
                        if (sawMetadata || property.Value.ValueKind != JsonValueKind.Object)
                            throw new SharpLMException(Corrupt("__metadata__ is repeated or not an object"));
                        sawMetadata = true;
                        foreach (var m in property.Value.EnumerateObject())
                        {
                            if (m.Value.ValueKind != JsonValueKind.String || !metadata.TryAdd(m.Name, m.Value.GetString()!))
                                throw new SharpLMException(Corrupt($"metadata '{m.Name}' is repeated or not a string"));
                        }
                        continue;
                    }
                    var o = property.Value;
                    if (
                        o.ValueKind != JsonValueKind.Object
                        || !o.TryGetProperty("dtype", out var dtypeNode)
                        || dtypeNode.ValueKind != JsonValueKind.String
                        || !o.TryGetProperty("shape", out var shapeNode)
                        || shapeNode.ValueKind != JsonValueKind.Array
                        || !o.TryGetProperty("data_offsets", out var offsetsNode)
                        || offsetsNode.ValueKind != JsonValueKind.Array
                        || offsetsNode.GetArrayLength() != 2
                    )
                        throw new SharpLMException(Corrupt($"tensor '{name}' lacks a dtype, a shape or two data_offsets"));
                    string dtype = dtypeNode.GetString()!;
                    var dt = DTypes.Values.FirstOrDefault(d => d.Name == dtype);
                    if (dt.Name is null)
                        throw new SharpLMException(Corrupt($"tensor '{name}' has unknown dtype {dtype}"));
                    var shape = new long[shapeNode.GetArrayLength()];
                    int k = 0;
                    long elements = 1;
                    foreach (var dim in shapeNode.EnumerateArray())
                    {
                        if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out long d) || d < 0)
                            throw new SharpLMException(Corrupt($"tensor '{name}' has a dimension that is not a non-negative integer"));
                        shape[k++] = d;
                        elements = checked(elements * d);
                    }
                    long begin = Offset(offsetsNode[0]),
                        end = Offset(offsetsNode[1]);
                    long bytes = checked(elements * dt.Size);
                    if (end < begin || end > dataLength)
                        throw new SharpLMException(Corrupt($"tensor '{name}' points outside the file"));
                    if (bytes != end - begin)
                        throw new SharpLMException(Corrupt($"tensor '{name}' has {end - begin} bytes but its shape needs {bytes}"));
                    if (!entries.TryAdd(name, (dtype, shape, begin, end)))
                        throw new SharpLMException(Corrupt($"tensor '{name}' appears twice"));

                    long Offset(JsonElement e) =>
                        e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out long v) && v >= 0
                            ? v
                            : throw new SharpLMException(Corrupt($"tensor '{name}' has a data offset that is not a non-negative integer"));
                }
            }
            catch (JsonException e)
            {
                throw new SharpLMException(Corrupt($"header is not JSON: {e.Message.Split('.')[0]}"));
            }
            catch (OverflowException)
            {
                throw new SharpLMException(Corrupt("a tensor's size overflows"));
            }
            catch (InvalidOperationException)
            {
                throw new SharpLMException(Corrupt("the header is not valid UTF-8 JSON"));
            }
            // The byte ranges must tile the data section: no gaps, no overlaps, nothing after the last tensor.
            long expected = 0;
            foreach (var (name, (_, _, begin, end)) in entries.OrderBy(e => e.Value.Item3).ThenBy(e => e.Value.Item4))
            {
                if (begin != expected)
                    throw new SharpLMException(Corrupt($"tensor '{name}' starts at byte {begin} of the data, not at {expected}"));
                expected = end;
            }
            if (expected != dataLength)
                throw new SharpLMException(Corrupt($"the tensors cover {expected} of the {dataLength} data bytes"));
            return new File(path, metadata, entries, dataStart);
        }

        /// <summary>Reads one tensor (CPU) by name.</summary>
        public Tensor Read(string name)
        {
            if (_shardOf is not null && _shardOf.TryGetValue(name, out var shard))
                return shard.Read(name);
            if (!Entries.TryGetValue(name, out var e))
                throw new SharpLMException(
                    $"{Path} has no tensor '{name}'; it was written by a different model or version — retrain or point at the right run."
                );
            var type = DTypes.First(d => d.Value.Name == e.DType).Key;
            var data = new byte[e.End - e.Begin];
            using (var fs = System.IO.File.OpenRead(Path))
            {
                fs.Position = _dataStart + e.Begin;
                if (fs.ReadAtLeast(data, data.Length, throwOnEndOfStream: false) < data.Length)
                    throw new SharpLMException($"{Path} was truncated while it was being read; re-run the command that wrote it.");
            }
            var t = empty(e.Shape, type);
            data.AsSpan().CopyTo(t.bytes);
            if (type == ScalarType.Int8 && Entries.ContainsKey(name + ScaleSuffix))
            {
                using var scale = Read(name + ScaleSuffix);
                using (t)
                    return t.to(ScalarType.Float32).mul_(scale);
            }
            return t;
        }

        /// <summary>Whether <paramref name="name"/> is stored as int8 weights with a scale (see <see cref="ScaleSuffix"/>).</summary>
        public bool IsQuantized(string name) =>
            Entries.TryGetValue(name, out var e) && e.DType == "I8" && Entries.ContainsKey(name + ScaleSuffix);

        /// <summary>Copies a stored tensor into <paramref name="target"/>, checking the shape before reading anything.</summary>
        public void CopyInto(string name, Tensor target)
        {
            if (Entries.TryGetValue(name, out var e) && !e.Shape.SequenceEqual(target.shape))
                throw new SharpLMException(
                    $"{Path}: tensor '{name}' has shape [{string.Join(", ", e.Shape)}] but the model expects "
                        + $"[{string.Join(", ", target.shape)}]; the checkpoint does not match config.json."
                );
            using var scope = NewDisposeScope();
            var source = Read(name);
            using var noGrad = no_grad();
            target.copy_(source.to(target.dtype));
        }
    }
}
