using SharpLM.Data;
using SharpLM.Tokenization;

namespace SharpLM.Tests;

/// <summary>
/// Catalogue data shared by tests, fetched once into the suite's own cache (never the user's, so a test run and the
/// user's own commands never write one cache at once; concurrent test runs share it safely through the catalogue's
/// per-entry lock). Every test, and every `sharplm` the tests start, uses it through SHARPLM_DATA_DIR.
/// </summary>
public static class TestData
{
    public static readonly string CacheDir = Path.Combine(Path.GetTempPath(), "sharplm-test-cache");

    [System.Runtime.CompilerServices.ModuleInitializer]
    internal static void UseTheSuitesCache() => Environment.SetEnvironmentVariable(DataCatalogClient.CacheEnvironmentVariable, CacheDir);

    public static readonly DataCatalogClient Catalog = new(CacheDir);

    static readonly Lazy<Task<string>> Gpt2Dir = new(() => Catalog.GetAsync(SharpLM.Catalogue.Catalog.Get("gpt2-tokenizer")));
    static readonly Lazy<Task<string>> MobyDir = new(() => Catalog.GetAsync(SharpLM.Catalogue.Catalog.Get("moby-dick")));
    static readonly Lazy<Task<ByteLevelBpeTokenizer>> Gpt2Tok = new(async () =>
        Gpt2Tokenizer.FromTiktokenFile(Path.Combine(await Gpt2Dir.Value, "data", "r50k_base.tiktoken"))
    );

    public static Task<ByteLevelBpeTokenizer> Gpt2() => Gpt2Tok.Value;

    public static async Task<string> Gpt2File(string name) => Path.Combine(await Gpt2Dir.Value, "data", name);

    public static async Task<string> MobyDickPath() => Path.Combine(await MobyDir.Value, "data", "data.txt");

    /// <summary>
    /// This test process's folder for temporary files (the suite writes gigabytes of runs; left behind, repeated runs
    /// filled the disk). It is deleted when the process exits if the test host lets it finish, and otherwise by the next
    /// test process, which first removes the folders of test processes that are gone.
    /// </summary>
    static readonly Lazy<string> Root = new(() =>
    {
        string parent = Path.Combine(Path.GetTempPath(), "sharplm-tests");
        Directory.CreateDirectory(parent);
        foreach (var dir in Directory.GetDirectories(parent, "run-*"))
            if (int.TryParse(Path.GetFileName(dir).Split('-')[1], out int pid) && !Alive(pid))
                TryDelete(dir);
        string root = Path.Combine(parent, $"run-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(root);
        return root;
    });

    static bool Alive(int pid)
    {
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    static void TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    public static string TempDir()
    {
        string dir = Path.Combine(Root.Value, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Strings that break naive tokenizers.</summary>
    public static readonly string[] Hostile =
    [
        "",
        "a",
        " ",
        "   leading and trailing   ",
        "Hello, world! It's a test: don't we'll they've I'm he'd you're 'quoted'",
        "👨‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 👍🏽 thumbs",
        "e\u0301 vs \u00e9, Z\u0351\u0313\u0308\u0304\u0306\u0309 zalgo",
        "中文字符和日本語のテキスト, 한국어 텍스트",
        "𠀀𠀁 CJK Extension B letters, 𝐀𝐁𝐂 math bold",
        "line1\nline2\r\nline3\rline4\n\n\n\t\ttabs  \u00a0nbsp\u2028sep",
        new string('a', 10_000),
        new string(' ', 10_000) + "x",
        string.Concat(Enumerable.Repeat("ab", 5000)),
        "lone high \ud800 and lone low \udc00 surrogates, reversed \udc00\ud800",
        "\0\u0001\u007f control chars and \ufffd replacement",
        "numbers 1234567890 ١٢٣ ⅷ ½",
    ];
}
