using System.Collections.Concurrent;
using System.Text;

namespace SharpLM.Tokenization;

/// <summary>Progress of tokenizer training: stage, done and total units.</summary>
public readonly record struct TokenizerTrainingProgress(string Stage, long Done, long Total);

public sealed record TokenizerTrainingOptions
{
    public required int VocabSize { get; init; }

    /// <summary>Pairs occurring fewer times than this are never merged.</summary>
    public long MinFrequency { get; init; } = 2;

    /// <summary>Special tokens; for BPE the default is &lt;|endoftext|&gt;, for WordPiece BERT's five.</summary>
    public IReadOnlyList<string>? SpecialTokens { get; init; }
    public bool Lowercase { get; init; } = true; // WordPiece only
}

/// <summary>Trains byte-level BPE (GPT-2 pre-tokenization) and WordPiece vocabularies from text.</summary>
public static class TokenizerTrainer
{
    /// <summary>
    /// Byte-level BPE: ids 0–255 are the bytes in GPT-2's order, then merges in the order learned, then special tokens.
    /// </summary>
    public static ByteLevelBpeTokenizer TrainBpe(
        IEnumerable<string> texts,
        TokenizerTrainingOptions options,
        IProgress<TokenizerTrainingProgress>? progress = null
    )
    {
        var specials = options.SpecialTokens ?? [Gpt2Tokenizer.EndOfText];
        int baseSize = 256 + specials.Count;
        if (options.VocabSize < baseSize)
            throw new SharpLMException(
                $"vocab_size {options.VocabSize} is smaller than the byte alphabet plus special tokens ({baseSize}); use at least "
                    + $"{baseSize}."
            );

        var pieceCounts = CountPieces(texts, Gpt2PreTokenizer.Instance, normalize: null, progress);
        if (pieceCounts.Count == 0)
            throw new SharpLMException("The training text is empty; give files that contain text.");

        // Byte b gets id = its position in GPT-2's byte order (printable bytes first), like GPT-2's own vocabulary.
        var byteOrder = Enumerable.Range(0, 256).OrderBy(b => ByteLevel.ByteToChar[b]).ToArray();
        var byteId = new int[256];
        var tokens = new List<string>(options.VocabSize);
        for (int i = 0; i < 256; i++)
        {
            byteId[byteOrder[i]] = i;
            tokens.Add(((char)byteOrder[i]).ToString());
        }

        var words = new List<int[]>(pieceCounts.Count);
        var counts = new List<long>(pieceCounts.Count);
        var scratch = new char[1024];
        foreach (var (piece, count) in pieceCounts.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (scratch.Length < ByteLevel.MaxByteCount(piece.Length))
                scratch = new char[ByteLevel.MaxByteCount(piece.Length)];
            int n = ByteLevel.ToBytes(piece, scratch);
            var ids = new int[n];
            for (int i = 0; i < n; i++)
                ids[i] = byteId[scratch[i]];
            words.Add(ids);
            counts.Add(count);
        }

        int maxMerges = options.VocabSize - baseSize;
        var mergeList = new List<(string, string)>();
        PairMergeTrainer.Train(
            words,
            counts,
            256,
            maxMerges,
            options.MinFrequency,
            m =>
            {
                tokens.Add(tokens[m.Left] + tokens[m.Right]);
                mergeList.Add((tokens[m.Left], tokens[m.Right]));
                progress?.Report(new TokenizerTrainingProgress("merging", mergeList.Count, maxMerges));
            }
        );
        var added = specials.Select((s, i) => new AddedToken(tokens.Count + i, s, Special: true)).ToList();
        return new ByteLevelBpeTokenizer(new BpeModel(tokens, mergeList, wholePieceFirst: false), Gpt2PreTokenizer.Instance, added);
    }

    /// <summary>
    /// WordPiece as Hugging Face trains it: BPE over words with "##" marking non-initial pieces; the vocabulary is the
    /// special tokens, then the alphabet, then the merged pieces.
    /// </summary>
    public static WordPieceTokenizer TrainWordPiece(
        IEnumerable<string> texts,
        TokenizerTrainingOptions options,
        IProgress<TokenizerTrainingProgress>? progress = null
    )
    {
        const string prefix = "##";
        var specials = options.SpecialTokens ?? WordPieceTokenizer.BertSpecialTokens;
        if (!specials.Contains("[UNK]"))
            specials = [.. specials, "[UNK]"];
        var normalizer = new BertNormalizer(lowercase: options.Lowercase);
        var wordCounts = CountPieces(texts, BertPreTokenizer.Instance, normalizer.Normalize, progress);
        if (wordCounts.Count == 0)
            throw new SharpLMException("The training text is empty; give files that contain text.");

        var tokens = new List<string>(specials);
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++)
            ids[tokens[i]] = i;
        int Symbol(string s)
        {
            if (!ids.TryGetValue(s, out int id))
            {
                id = tokens.Count;
                tokens.Add(s);
                ids[s] = id;
            }
            return id;
        }
        var words = new List<int[]>(wordCounts.Count);
        var counts = new List<long>(wordCounts.Count);
        // The alphabet first (sorted for determinism), so that merged tokens come after every single character.
        var alphabet = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var w in wordCounts.Keys)
        {
            int i = 0;
            foreach (Rune r in w.EnumerateRunes())
            {
                alphabet.Add(i == 0 ? r.ToString() : prefix + r);
                i++;
            }
        }
        foreach (string a in alphabet)
            Symbol(a);
        if (options.VocabSize < tokens.Count)
            throw new SharpLMException(
                $"vocab_size {options.VocabSize} is smaller than the special tokens plus the corpus alphabet ({tokens.Count}); use at "
                    + $"least {tokens.Count}."
            );
        foreach (var (word, count) in wordCounts.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            int i = 0;
            words.Add(word.EnumerateRunes().Select(r => ids[i++ == 0 ? r.ToString() : prefix + r]).ToArray());
            counts.Add(count);
        }
        int maxMerges = options.VocabSize - tokens.Count;
        int done = 0;
        PairMergeTrainer.Train(
            words,
            counts,
            tokens.Count,
            maxMerges,
            options.MinFrequency,
            m =>
            {
                string right = tokens[m.Right];
                string merged = tokens[m.Left] + (right.StartsWith(prefix, StringComparison.Ordinal) ? right[prefix.Length..] : right);
                // Two different pairs can spell the same piece; keep one id per piece (HF does the same).
                if (!ids.ContainsKey(merged))
                {
                    ids[merged] = m.NewId;
                }
                tokens.Add(merged);
                progress?.Report(new TokenizerTrainingProgress("merging", ++done, maxMerges));
            }
        );
        // Drop duplicate spellings (keeping the first), so that ids stay unique.
        var unique = tokens.Distinct(StringComparer.Ordinal).ToList();
        return new WordPieceTokenizer(
            unique,
            unique.Select((t, i) => (t, i)).Where(x => specials.Contains(x.t)).Select(x => new AddedToken(x.i, x.t, true)),
            normalizer: normalizer
        );
    }

    /// <summary>Pre-tokenizes texts in parallel and counts the pieces.</summary>
    static Dictionary<string, long> CountPieces(
        IEnumerable<string> texts,
        PreTokenizer pre,
        Func<string, string>? normalize,
        IProgress<TokenizerTrainingProgress>? progress
    )
    {
        var total = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        long chars = 0;
        Parallel.ForEach(
            Chunk(texts),
            () => new Dictionary<string, long>(StringComparer.Ordinal),
            (text, _, local) =>
            {
                if (normalize != null)
                    text = normalize(text);
                var lookup = local.GetAlternateLookup<ReadOnlySpan<char>>();
                foreach (var (s, l) in pre.Split(text))
                {
                    var span = text.AsSpan(s, l);
                    lookup[span] = lookup.TryGetValue(span, out long c) ? c + 1 : 1;
                }
                progress?.Report(new TokenizerTrainingProgress("counting", Interlocked.Add(ref chars, text.Length), 0));
                return local;
            },
            local =>
            {
                foreach (var (k, v) in local)
                    total.AddOrUpdate(k, v, (_, old) => old + v);
            }
        );
        return new Dictionary<string, long>(total, StringComparer.Ordinal);
    }

    /// <summary>Cuts long texts into ~1 MB pieces at safe boundaries so that counting parallelises.</summary>
    static IEnumerable<string> Chunk(IEnumerable<string> texts)
    {
        const int size = 1 << 20;
        foreach (string text in texts)
        {
            int start = 0;
            while (text.Length - start > 2 * size)
            {
                int cut = text.IndexOf('\n', start + size);
                while (cut >= 0 && cut + 1 < text.Length && char.IsWhiteSpace(text[cut + 1]))
                    cut = text.IndexOf('\n', cut + 1);
                if (cut < 0 || cut + 1 >= text.Length)
                    break;
                yield return text[start..(cut + 1)];
                start = cut + 1;
            }
            yield return start == 0 ? text : text[start..];
        }
    }
}
