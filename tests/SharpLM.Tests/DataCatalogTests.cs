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
        public byte[] Tarball = BuildTarball(new() { ["package/data/data.txt"] = "Call me Ishmael.", ["package/README.md"] = "readme" });
        public string? IntegrityOverride;
        public bool Offline;
        public int Requests;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            Requests++;
            if (Offline) throw new HttpRequestException("network unreachable");
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
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)) });
        return ms.ToArray();
    }

    static readonly CatalogEntry Moby = Catalog.Get("moby-dick");

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
    public async Task IntegrityMismatchKeepsNothing()
    {
        var registry = new FakeRegistry { IntegrityOverride = "sha512-" + Convert.ToBase64String(new byte[64]) };
        string cache = TestData.TempDir();
        var client = new DataCatalogClient(cache, "https://fake.test", new HttpClient(registry));
        var e = await Assert.ThrowsAsync<SharpLMException>(() => client.GetAsync(Moby));
        Assert.Contains("does not match the registry's sha512", e.Message);
        Assert.False(client.IsCached(Moby));
        Assert.Empty(Directory.EnumerateFileSystemEntries(cache));
    }

    [Fact]
    public async Task TruncatedTarballIsReportedAndNothingKept()
    {
        var registry = new FakeRegistry();
        registry.Tarball = registry.Tarball[..(registry.Tarball.Length / 2)];
        string cache = TestData.TempDir();
        var client = new DataCatalogClient(cache, "https://fake.test", new HttpClient(registry));
        var e = await Assert.ThrowsAsync<SharpLMException>(() => client.GetAsync(Moby));
        Assert.Contains("corrupt or truncated", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(cache));
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
        Assert.Contains("--registry", e.Message);
    }

    [Fact]
    public void UnknownNameListsTheKnownOnes()
    {
        var e = Assert.Throws<SharpLMException>(() => Catalog.Get("moby"));
        Assert.Contains("moby-dick", e.Message);
    }

    [Fact]
    public async Task RealRegistryEntryHasTheExpectedFile()
    {
        string path = await TestData.MobyDickPath();
        Assert.True(new FileInfo(path).Length > 1_000_000);
    }
}
