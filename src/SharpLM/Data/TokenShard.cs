using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;

namespace SharpLM.Data;

/// <summary>
/// llm.c's token shard: a header of 256 little-endian int32 (magic 20240520, version, token count), then the tokens.
/// Version 1 stores uint16 tokens (llm.c's GPT-2 format). Version 2 is SharpLM's extension for vocabularies larger than
/// 65,536: uint32 tokens under the same magic. llm.c's LLaMA-3 header (magic 20240801, version 7, uint32) is also read.
/// </summary>
public static class TokenShard
{
    public const int Magic = 20240520;
    public const int LlamaMagic = 20240801;
    public const int HeaderInts = 256;
    public const int HeaderBytes = HeaderInts * 4;

    public static int VersionFor(int vocabSize) => vocabSize <= 65536 ? 1 : 2;

    /// <summary>Parses and validates a header; returns bytes per token and the token count.</summary>
    public static (int TokenBytes, long Count) ReadHeader(string path)
    {
        if (!File.Exists(path))
            throw new SharpLMException($"Shard {path} does not exist; run 'sharplm prepare' first.");
        using var f = File.OpenRead(path);
        var header = new byte[HeaderBytes];
        if (f.ReadAtLeast(header, HeaderBytes, throwOnEndOfStream: false) < HeaderBytes)
            throw new SharpLMException(
                $"Shard {path} is shorter than the 1024-byte header; the file is truncated, run 'sharplm prepare' again."
            );
        int magic = BinaryPrimitives.ReadInt32LittleEndian(header),
            version = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(4));
        long count = (uint)BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(8));
        int tokenBytes = (magic, version) switch
        {
            (Magic, 1) => 2,
            (Magic, 2) => 4,
            (LlamaMagic, 7) => 4,
            (Magic or LlamaMagic, _) => throw new SharpLMException(
                $"Shard {path} has version {version}, which SharpLM does not read (1 = uint16, 2 = uint32)."
            ),
            _ => throw new SharpLMException(
                $"{path} is not a token shard (magic {magic}, expected {Magic}); pass a folder written by 'sharplm prepare'."
            ),
        };
        long expected = HeaderBytes + count * tokenBytes;
        if (f.Length != expected)
            throw new SharpLMException(
                $"Shard {path} is {f.Length} bytes but its header promises {count} tokens ({expected} bytes); the file is truncated or "
                    + "corrupt, run 'sharplm prepare' again."
            );
        return (tokenBytes, count);
    }

    /// <summary>Reads all tokens of a (small) shard into memory.</summary>
    public static int[] ReadAll(string path)
    {
        using var reader = new TokenShardReader(path);
        var tokens = new int[reader.Count];
        reader.Read(0, tokens);
        return tokens;
    }
}

/// <summary>Writes one shard: header placeholder, tokens, then the real header; atomically via a temp file.</summary>
public sealed class TokenShardWriter : IDisposable
{
    readonly string _path,
        _tmp;
    readonly FileStream _stream;
    readonly int _tokenBytes,
        _vocabSize;
    readonly byte[] _buffer = new byte[1 << 16];
    int _fill;
    bool _done;

    public long Count { get; private set; }
    public string Path => _path;

    public TokenShardWriter(string path, int vocabSize)
    {
        _path = System.IO.Path.GetFullPath(path);
        _tmp = _path + $".tmp-{Environment.ProcessId}";
        _vocabSize = vocabSize;
        _tokenBytes = TokenShard.VersionFor(vocabSize) == 1 ? 2 : 4;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(_path)!);
        _stream = new FileStream(_tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        _stream.Write(new byte[TokenShard.HeaderBytes]);
    }

    public void Write(ReadOnlySpan<int> tokens)
    {
        foreach (int t in tokens)
        {
            if ((uint)t >= (uint)_vocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), $"token {t} outside vocabulary of {_vocabSize}");
            if (_fill + _tokenBytes > _buffer.Length)
                Flush();
            if (_tokenBytes == 2)
                BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(_fill), (ushort)t);
            else
                BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(_fill), (uint)t);
            _fill += _tokenBytes;
        }
        Count += tokens.Length;
        if (Count > int.MaxValue)
            throw new InvalidOperationException("A shard holds at most 2^31-1 tokens; use a smaller shard_tokens.");
    }

    void Flush()
    {
        _stream.Write(_buffer, 0, _fill);
        _fill = 0;
    }

    /// <summary>Writes the header and moves the shard into place.</summary>
    public void Complete()
    {
        Flush();
        var header = new byte[TokenShard.HeaderBytes];
        BinaryPrimitives.WriteInt32LittleEndian(header, TokenShard.Magic);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(4), TokenShard.VersionFor(_vocabSize));
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), (int)Count);
        _stream.Position = 0;
        _stream.Write(header);
        _stream.Flush(flushToDisk: true);
        _stream.Dispose();
        File.Move(_tmp, _path, overwrite: true);
        _done = true;
    }

    public void Dispose()
    {
        if (_done)
            return;
        _stream.Dispose();
        IO.AtomicFile.TryDelete(_tmp);
    }
}

/// <summary>Random access to a shard's tokens through a memory map (the file is never loaded whole).</summary>
public sealed class TokenShardReader : IDisposable
{
    readonly MemoryMappedFile _map;
    readonly MemoryMappedViewAccessor _view;
    readonly int _tokenBytes;

    public long Count { get; }
    public string Path { get; }

    public TokenShardReader(string path)
    {
        (_tokenBytes, Count) = TokenShard.ReadHeader(path);
        Path = path;
        _map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
    }

    /// <summary>Copies tokens [start, start + destination.Length) into <paramref name="destination"/>.</summary>
    public void Read(long start, Span<int> destination)
    {
        if (start < 0 || start + destination.Length > Count)
            throw new ArgumentOutOfRangeException(nameof(start));
        long offset = TokenShard.HeaderBytes + start * _tokenBytes;
        if (_tokenBytes == 2)
        {
            // One bulk copy out of the map instead of an accessor call per token, then widen.
            var buffer = System.Buffers.ArrayPool<ushort>.Shared.Rent(destination.Length);
            _view.ReadArray(offset, buffer, 0, destination.Length);
            for (int i = 0; i < destination.Length; i++)
                destination[i] = buffer[i];
            System.Buffers.ArrayPool<ushort>.Shared.Return(buffer);
        }
        else
        {
            var buffer = System.Buffers.ArrayPool<uint>.Shared.Rent(destination.Length);
            _view.ReadArray(offset, buffer, 0, destination.Length);
            for (int i = 0; i < destination.Length; i++)
                destination[i] = (int)buffer[i];
            System.Buffers.ArrayPool<uint>.Shared.Return(buffer);
        }
    }

    public void Dispose()
    {
        _view.Dispose();
        _map.Dispose();
    }
}
