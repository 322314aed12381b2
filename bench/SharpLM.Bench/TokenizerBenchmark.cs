using System.Diagnostics;
using System.Text;
using SharpLM.Data;
using SharpLM.Tokenization;
using MLTokenizers = Microsoft.ML.Tokenizers;

namespace SharpLM.Bench;

public sealed record ThroughputResult(string Name, double MegabytesPerSecond, double MedianSeconds, int Tokens);

public sealed record TokenizerBenchmarkResult(
    string Corpus, double Megabytes, int Repeats,
    ThroughputResult SharpLM, ThroughputResult MicrosoftMLTokenizers, double Ratio, bool IdsIdentical,
    int TrainVocabSize, double TrainSeconds, double TrainMegabytesPerSecond);

/// <summary>
/// `sharplm bench tokenizer`: GPT-2 encode throughput of SharpLM vs Microsoft.ML.Tokenizers' tiktoken encoder on the
/// same text in the same process (interleaved runs, median, after a warm-up that fills both caches), and byte-level
/// BPE training time for a given vocabulary size.
/// </summary>
public static class TokenizerBenchmark
{
    public static async Task<TokenizerBenchmarkResult> RunAsync(DataCatalogClient catalog, string corpus = "moby-dick", int repeats = 5, int trainVocab = 8000,
        IProgress<string>? status = null)
    {
        var source = new DocumentSource(catalog);
        var files = await source.ResolveAsync([corpus]);
        string text = string.Concat(source.Read(files).Select(d => d.Text));
        double mb = Encoding.UTF8.GetByteCount(text) / 1e6;

        status?.Report("loading tokenizers");
        var ours = (ByteLevelBpeTokenizer)await TokenizerSource.LoadAsync(TokenizerSource.Gpt2, catalog);
        string ranks = Path.Combine(catalog.EntryDir(Catalog.Get("gpt2-tokenizer")), "data", "r50k_base.tiktoken");
        MLTokenizers.TiktokenTokenizer theirs;
        using (var stream = File.OpenRead(ranks)) theirs = MLTokenizers.TiktokenTokenizer.CreateForModel("gpt2", stream);

        status?.Report("warming up");
        int[] ourIds = ours.Encode(text);
        var theirIds = theirs.EncodeToIds(text, considerPreTokenization: true, considerNormalization: true);
        bool identical = ourIds.AsSpan().SequenceEqual(theirIds.ToArray());

        var ourTimes = new List<double>();
        var theirTimes = new List<double>();
        for (int r = 0; r < repeats; r++)
        {
            status?.Report($"encoding, run {r + 1}/{repeats}");
            ourTimes.Add(Time(() => ours.Encode(text)));
            theirTimes.Add(Time(() => theirs.EncodeToIds(text)));
        }
        double ourMedian = Median(ourTimes), theirMedian = Median(theirTimes);

        status?.Report($"training a {trainVocab}-token BPE");
        var watch = Stopwatch.StartNew();
        TokenizerTrainer.TrainBpe([text], new TokenizerTrainingOptions { VocabSize = trainVocab });
        double trainSeconds = watch.Elapsed.TotalSeconds;

        return new TokenizerBenchmarkResult(corpus, mb, repeats,
            new ThroughputResult("SharpLM GPT-2 BPE", mb / ourMedian, ourMedian, ourIds.Length),
            new ThroughputResult("Microsoft.ML.Tokenizers Tiktoken", mb / theirMedian, theirMedian, theirIds.Count),
            theirMedian / ourMedian, identical, trainVocab, trainSeconds, mb / trainSeconds);
    }

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
