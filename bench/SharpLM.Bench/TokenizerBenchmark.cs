using System.Diagnostics;
using System.Text;
using SharpLM.Catalogue;
using SharpLM.Data;
using SharpLM.Sources;
using SharpLM.Tokenization;
using MLTokenizers = Microsoft.ML.Tokenizers;

namespace SharpLM.Bench;

public sealed record ThroughputResult(string Name, double MegabytesPerSecond, double Seconds, int Tokens);

/// <summary>One comparison: both encoders with caches of the same size, either on their first pass or warm.</summary>
public sealed record TokenizerComparison(
    int CacheEntries,
    string Pass,
    ThroughputResult SharpLM,
    ThroughputResult MicrosoftMLTokenizers,
    double Ratio
);

public sealed record TokenizerBenchmarkResult(
    string Corpus,
    double Megabytes,
    int Repeats,
    int DistinctPieces,
    IReadOnlyList<TokenizerComparison> Comparisons,
    bool IdsIdentical,
    int TrainVocabSize,
    double TrainSeconds,
    double TrainMegabytesPerSecond
);

/// <summary>
/// `sharplm-bench tokenizer`: GPT-2 encode throughput of SharpLM vs Microsoft.ML.Tokenizers' tiktoken encoder on the same
/// text in the same process, with caches of the same size on both sides (8,192 entries, its default, and 200,000,
/// SharpLM's): the first pass of fresh tokenizers (cold caches, code already compiled by a warm-up on throwaway
/// instances), then the median of interleaved warm passes. Also byte-level
/// BPE training time for a given vocabulary size. The caches differ in policy: SharpLM fills its cache and then stops
/// adding (no eviction); Microsoft.ML.Tokenizers evicts the least recently used entry.
/// </summary>
public static class TokenizerBenchmark
{
    public static readonly int[] CacheSizes = [8_192, 200_000];

    public static async Task<TokenizerBenchmarkResult> RunAsync(
        DataCatalogClient catalog,
        string corpus = "moby-dick",
        int repeats = 5,
        int trainVocab = 8000,
        IProgress<string>? status = null
    )
    {
        var source = new DocumentSource(catalog);
        var files = await source.ResolveAsync([corpus]);
        string text = string.Concat(source.Read(files).Select(d => d.Text));
        double mb = Encoding.UTF8.GetByteCount(text) / 1e6;
        string ranks = Path.Combine(await catalog.GetAsync(Catalog.Get("gpt2-tokenizer")), "data", "r50k_base.tiktoken");
        var pieces = new List<(int Start, int Length)>();
        Gpt2PreTokenizer.Instance.Split(text, 0, text.Length, pieces);
        int distinct = pieces.Select(p => text.Substring(p.Start, p.Length)).Distinct().Count();

        // Warm the code (JIT) of both encoders on throwaway instances, so that no cold pass below pays for compilation.
        status?.Report("warming up the code paths");
        string sample = text[..Math.Min(text.Length, 100_000)];
        Gpt2Tokenizer.FromTiktokenFile(ranks).Encode(sample);
        using (var stream = File.OpenRead(ranks))
            MLTokenizers.TiktokenTokenizer.CreateForModel("gpt2", stream).EncodeToIds(sample);

        var comparisons = new List<TokenizerComparison>();
        bool identical = true;
        foreach (int cache in CacheSizes)
        {
            status?.Report($"loading fresh tokenizers with {cache:N0}-entry caches");
            var ours = Gpt2Tokenizer.FromTiktokenFile(ranks);
            ours.Model.CacheCapacity = cache;
            MLTokenizers.TiktokenTokenizer theirs;
            using (var stream = File.OpenRead(ranks))
                theirs = MLTokenizers.TiktokenTokenizer.CreateForModel("gpt2", stream, cacheSize: cache);

            status?.Report("cold first passes");
            int[] ourIds = [];
            IReadOnlyList<int> theirIds = [];
            double ourCold = Time(() => ourIds = ours.Encode(text)),
                theirCold = Time(() => theirIds = theirs.EncodeToIds(text));
            identical &= ourIds.AsSpan().SequenceEqual(theirIds.ToArray());
            comparisons.Add(Compare(cache, "cold (first pass)", mb, ourCold, theirCold, ourIds.Length, theirIds.Count));

            var ourTimes = new List<double>();
            var theirTimes = new List<double>();
            for (int r = 0; r < repeats; r++)
            {
                status?.Report($"warm passes, {cache:N0}-entry caches, run {r + 1}/{repeats}");
                // Alternate which encoder goes first, so neither always runs on the other's warmed CPU caches.
                if (r % 2 == 0)
                {
                    ourTimes.Add(Time(() => ours.Encode(text)));
                    theirTimes.Add(Time(() => theirs.EncodeToIds(text)));
                }
                else
                {
                    theirTimes.Add(Time(() => theirs.EncodeToIds(text)));
                    ourTimes.Add(Time(() => ours.Encode(text)));
                }
            }
            comparisons.Add(
                Compare(cache, $"warm (median of {repeats})", mb, Median(ourTimes), Median(theirTimes), ourIds.Length, theirIds.Count)
            );
        }

        status?.Report($"training a {trainVocab}-token BPE");
        var watch = Stopwatch.StartNew();
        TokenizerTrainer.TrainBpe([text], new TokenizerTrainingOptions { VocabSize = trainVocab });
        double trainSeconds = watch.Elapsed.TotalSeconds;
        return new TokenizerBenchmarkResult(
            corpus,
            mb,
            repeats,
            distinct,
            comparisons,
            identical,
            trainVocab,
            trainSeconds,
            mb / trainSeconds
        );
    }

    static TokenizerComparison Compare(int cache, string pass, double mb, double ours, double theirs, int ourTokens, int theirTokens) =>
        new(
            cache,
            pass,
            new ThroughputResult("SharpLM GPT-2 BPE", mb / ours, ours, ourTokens),
            new ThroughputResult("Microsoft.ML.Tokenizers Tiktoken", mb / theirs, theirs, theirTokens),
            theirs / ours
        );

    static double Time(Action action)
    {
        var w = Stopwatch.StartNew();
        action();
        return w.Elapsed.TotalSeconds;
    }

    static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }
}
