using System.Diagnostics;
using System.Text;
using System.Text.Json.Serialization;
using SharpLM.Catalogue;
using SharpLM.IO;
using SharpLM.Sources;
using SharpLM.Tokenization;

namespace SharpLM.Data;

public enum SplitMode
{
    Auto,
    Documents,
    Characters,
}

public sealed record PrepareOptions
{
    public required IReadOnlyList<string> Inputs { get; init; }

    /// <summary>"gpt2", "char", or a tokenizer.json path/folder.</summary>
    public required string Tokenizer { get; init; }
    public required string OutputDir { get; init; }
    public double ValFraction { get; init; } = 0.1;
    public int Seed { get; init; } = 1337;
    public CleaningOptions Cleaning { get; init; } = new();

    /// <summary>Auto: split by characters when the corpus is one document, else by documents.</summary>
    public SplitMode Split { get; init; } = SplitMode.Auto;
    public long ShardTokens { get; init; } = 100_000_000;

    /// <summary>Put the tokenizer's end-of-text token before each document (if it has one and documents are split).</summary>
    public bool EndOfTextBetweenDocuments { get; init; } = true;
    public int Threads { get; init; } = Environment.ProcessorCount;
}

/// <summary>What <see cref="CleaningOptions.RedactPii"/> replaced in the corpus.</summary>
public sealed record RedactionSummary(long Emails, long Phones, long IpAddresses);

public sealed record SplitSummary(int Documents, long Characters, long Tokens, IReadOnlyList<string> Shards);

public sealed record PrepareSummary(
    string Tokenizer,
    int VocabSize,
    string SplitMode,
    double ValFraction,
    int Seed,
    SplitSummary Train,
    SplitSummary Val,
    double TokensPerChar,
    double Seconds,
    double MillionCharactersPerSecond,
    RedactionSummary? Redacted = null
)
{
    [JsonIgnore]
    public int Documents => Train.Documents + Val.Documents;

    [JsonIgnore]
    public long Characters => Train.Characters + Val.Characters;

    [JsonIgnore]
    public long Tokens => Train.Tokens + Val.Tokens;
}

/// <summary>Progress of <see cref="CorpusPreparer"/>: characters done of the total (when known).</summary>
public readonly record struct PrepareProgress(string Stage, long Characters, long? TotalCharacters);

/// <summary>
/// corpus → clean → split train/validation → tokenize in parallel → llm.c token shards, streaming in bounded batches.
/// The output folder is built beside the target and swapped in at the end, so a failed run leaves the old one intact;
/// only an empty folder or one that prepare wrote is ever replaced (<see cref="OutputFolder"/>).
/// </summary>
public sealed class CorpusPreparer(DataCatalogClient catalog)
{
    public const string SummaryFile = "summary.json";
    const int BatchChars = 8 << 20;

    public async Task<PrepareSummary> RunAsync(
        PrepareOptions o,
        IProgress<PrepareProgress>? progress = null,
        IProgress<DownloadProgress>? download = null
    )
    {
        if (o.ValFraction is < 0 or >= 1)
            throw new SharpLMException($"val_fraction must be in [0, 1) (got {o.ValFraction}).");
        if (o.ShardTokens < 1000)
            throw new SharpLMException($"shard_tokens must be at least 1000 (got {o.ShardTokens}).");
        if (o.Inputs.Count == 0)
            throw new SharpLMException("No input given; give files, folders or data set names to prepare.");
        OutputFolder.Inspect(o.OutputDir, FolderKind.PreparedData); // refuse a folder of the user's before any work
        var watch = Stopwatch.StartNew();
        var source = new DocumentSource(catalog);
        var files = await source.ResolveAsync(o.Inputs, download);
        var cleaner = new TextCleaner(o.Cleaning);
        bool isChar = string.Equals(o.Tokenizer, TokenizerSource.Char, StringComparison.OrdinalIgnoreCase);
        Tokenization.Tokenizer? tokenizer = isChar ? null : await TokenizerSource.LoadAsync(o.Tokenizer, catalog, download);

        // Pass 1: document keys (for the split), and for char-level or character splits the cleaned text's characters.
        var sources = new List<string>();
        var seenSources = new HashSet<string>(StringComparer.Ordinal);
        var charSet = new SortedSet<int>();
        long totalChars = 0,
            rawChars = 0;
        // Auto picks characters only for a corpus that is a single plain file; cleaning twice is needed only then or for char.
        bool singleDocument = files.Count == 1 && files[0].Layout != DocumentLayout.PoemJson;
        bool needCleanPass = isChar || o.Split == SplitMode.Characters || (o.Split == SplitMode.Auto && singleDocument);
        foreach (var doc in source.Read(files))
        {
            if (seenSources.Add(doc.Source))
                sources.Add(doc.Source);
            rawChars += doc.Text.Length;
            if (!needCleanPass)
                continue;
            string clean = cleaner.Clean(doc.Text);
            foreach (Rune r in clean.EnumerateRunes())
            {
                totalChars++;
                if (isChar)
                    charSet.Add(r.Value);
            }
            progress?.Report(new PrepareProgress("scanning", rawChars, null));
        }
        if (rawChars == 0 || (needCleanPass && totalChars == 0))
            throw new SharpLMException($"The corpus is empty{(rawChars > 0 ? " after cleaning" : "")}; give files that contain text.");
        tokenizer ??= new CharTokenizer(charSet.Select(char.ConvertFromUtf32));

        var mode = o.Split == SplitMode.Auto ? (sources.Count == 1 ? SplitMode.Characters : SplitMode.Documents) : o.Split;
        var valSources = mode == SplitMode.Documents ? ChooseValidation(sources, o.ValFraction, o.Seed) : [];
        long trainCharLimit = mode == SplitMode.Characters ? (long)Math.Round(totalChars * (1 - o.ValFraction)) : long.MaxValue;
        int? eot = o.EndOfTextBetweenDocuments && mode == SplitMode.Documents ? tokenizer.SpecialTokenId(Gpt2Tokenizer.EndOfText) : null;

        string outDir = Path.GetFullPath(o.OutputDir);
        string tmpDir = OutputFolder.CreateTemporaryBeside(outDir, FolderKind.PreparedData);
        try
        {
            var train = new SplitWriter(tmpDir, "train", tokenizer.VocabSize, o.ShardTokens);
            var val = new SplitWriter(tmpDir, "val", tokenizer.VocabSize, o.ShardTokens);
            using (train)
            using (val)
            {
                long codePointsSeen = 0,
                    charsDone = 0;
                string? previousSource = null;
                var batch = new List<(string Text, SplitWriter Target, bool StartsDocument)>();
                int batchChars = 0;

                void FlushBatch()
                {
                    var encoded = new int[batch.Count][];
                    Parallel.For(
                        0,
                        batch.Count,
                        new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, o.Threads) },
                        i => encoded[i] = tokenizer.Encode(batch[i].Text)
                    );
                    for (int i = 0; i < batch.Count; i++)
                    {
                        var (text, target, starts) = batch[i];
                        if (starts && eot is int e)
                            target.Write([e]);
                        target.Write(encoded[i]);
                        target.Characters += text.Length;
                    }
                    batch.Clear();
                    batchChars = 0;
                }

                var redacted = o.Cleaning.RedactPii ? new PiiCounts() : null;
                foreach (var doc in source.Read(files))
                {
                    string text = cleaner.Clean(doc.Text, redacted);
                    bool starts = doc.Source != previousSource;
                    previousSource = doc.Source;
                    charsDone += doc.Text.Length;
                    if (mode == SplitMode.Documents)
                    {
                        var target = valSources.Contains(doc.Source) ? val : train;
                        if (starts)
                            target.Documents++;
                        batch.Add((text, target, starts));
                    }
                    else
                    {
                        // Character split: the first (1 - f) of the code points go to train, the rest to validation.
                        int cut = CutAtCodePoint(text, trainCharLimit - codePointsSeen, out long taken);
                        codePointsSeen += taken;
                        if (cut > 0)
                            batch.Add((text[..cut], train, false));
                        if (cut < text.Length)
                            batch.Add((text[cut..], val, false));
                        codePointsSeen += CountCodePoints(text.AsSpan(cut));
                    }
                    batchChars += text.Length;
                    if (batchChars >= BatchChars)
                        FlushBatch();
                    progress?.Report(new PrepareProgress("tokenizing", charsDone, rawChars));
                }
                FlushBatch();
                if (mode == SplitMode.Characters)
                {
                    train.Documents = 1;
                    val.Documents = val.Characters > 0 ? 1 : 0;
                }
                train.Complete();
                val.Complete();
                if (train.Tokens == 0)
                    throw new SharpLMException("The training split is empty; lower val_fraction or add text.");
                tokenizer.Save(Path.Combine(tmpDir, "tokenizer.json"));

                double seconds = watch.Elapsed.TotalSeconds;
                var summary = new PrepareSummary(
                    o.Tokenizer,
                    tokenizer.VocabSize,
                    mode.ToString().ToLowerInvariant(),
                    o.ValFraction,
                    o.Seed,
                    train.Summary(),
                    val.Summary(),
                    (double)(train.Tokens + val.Tokens) / Math.Max(1, train.Characters + val.Characters),
                    seconds,
                    rawChars / 1e6 / Math.Max(seconds, 1e-9),
                    redacted is null ? null : new RedactionSummary(redacted.Emails, redacted.Phones, redacted.IpAddresses)
                );
                AtomicFile.WriteAllText(
                    Path.Combine(tmpDir, SummaryFile),
                    System.Text.Json.JsonSerializer.Serialize(summary, Json.Indented)
                );
                OutputFolder.SwapIn(tmpDir, outDir, FolderKind.PreparedData);
                return summary;
            }
        }
        finally
        {
            if (Directory.Exists(tmpDir))
                Directory.Delete(tmpDir, recursive: true);
        }
    }

    /// <summary>A seeded shuffle of the document keys; the first ⌈f·N⌉ (at least one when N ≥ 2 and f > 0) validate.</summary>
    internal static HashSet<string> ChooseValidation(IReadOnlyList<string> sources, double fraction, int seed)
    {
        var order = sources.ToArray();
        new Random(seed).Shuffle(order);
        int count = fraction <= 0 ? 0 : Math.Max(sources.Count >= 2 ? 1 : 0, (int)Math.Round(sources.Count * fraction));
        return order.Take(Math.Min(count, sources.Count - 1)).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Index in <paramref name="text"/> after at most <paramref name="limit"/> code points.</summary>
    static int CutAtCodePoint(string text, long limit, out long taken)
    {
        taken = 0;
        int i = 0;
        while (i < text.Length && taken < limit)
        {
            i += char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            taken++;
        }
        return i;
    }

    static long CountCodePoints(ReadOnlySpan<char> s)
    {
        long n = 0;
        for (int i = 0; i < s.Length; i++)
        {
            if (!(char.IsLowSurrogate(s[i]) && i > 0 && char.IsHighSurrogate(s[i - 1])))
                n++;
        }
        return n;
    }

    /// <summary>Shards of one split, rotated every N tokens.</summary>
    sealed class SplitWriter(string dir, string split, int vocabSize, long shardTokens) : IDisposable
    {
        readonly List<string> _shards = [];
        TokenShardWriter? _current;
        public int Documents;
        public long Characters,
            Tokens;

        public void Write(ReadOnlySpan<int> tokens)
        {
            while (!tokens.IsEmpty)
            {
                _current ??= new TokenShardWriter(Path.Combine(dir, $"{split}_{_shards.Count:D6}.bin"), vocabSize);
                int room = (int)Math.Min(tokens.Length, shardTokens - _current.Count);
                _current.Write(tokens[..room]);
                Tokens += room;
                tokens = tokens[room..];
                if (_current.Count >= shardTokens)
                    CloseShard();
            }
        }

        void CloseShard()
        {
            _current!.Complete();
            _shards.Add(Path.GetFileName(_current.Path));
            _current.Dispose();
            _current = null;
        }

        public void Complete()
        {
            if (_current != null)
                CloseShard();
        }

        public SplitSummary Summary() => new(Documents, Characters, Tokens, _shards);

        public void Dispose() => _current?.Dispose();
    }
}
