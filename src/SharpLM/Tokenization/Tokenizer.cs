namespace SharpLM.Tokenization;

/// <summary>A token that is matched in the text before the model runs (Hugging Face's "added token").</summary>
public sealed record AddedToken(int Id, string Content, bool Special);

/// <summary>Text ↔ token ids. Subclasses are the byte-level BPE, WordPiece and char-level tokenizers.</summary>
public abstract class Tokenizer
{
    protected Tokenizer(IEnumerable<AddedToken> addedTokens)
    {
        AddedTokens = addedTokens.OrderBy(t => t.Id).ToList();
        _addedById = AddedTokens.ToDictionary(t => t.Id);
        _addedByContent = AddedTokens.ToDictionary(t => t.Content, StringComparer.Ordinal);
        _alwaysMatched = AddedTokens.Where(t => !t.Special).ToList();
    }

    readonly List<AddedToken> _alwaysMatched;

    readonly Dictionary<int, AddedToken> _addedById;
    readonly Dictionary<string, AddedToken> _addedByContent;

    /// <summary>"bpe", "wordpiece" or "char".</summary>
    public abstract string Kind { get; }

    /// <summary>Number of ids, including added tokens (largest id + 1).</summary>
    public abstract int VocabSize { get; }
    public IReadOnlyList<AddedToken> AddedTokens { get; }

    /// <summary>Id of a special or added token, or null.</summary>
    public int? SpecialTokenId(string content) => _addedByContent.TryGetValue(content, out var t) ? t.Id : null;

    /// <summary>
    /// Encodes text. Special tokens (e.g. "&lt;|endoftext|&gt;") are only recognised when <paramref name="allowSpecial"/>
    /// is true; otherwise they are encoded as ordinary text. Non-special added tokens are always recognised.
    /// </summary>
    public int[] Encode(string text, bool allowSpecial = false)
    {
        var output = new List<int>(text.Length / 3 + 4);
        Encode(text, allowSpecial, output);
        return output.ToArray();
    }

    public void Encode(string text, bool allowSpecial, List<int> output)
    {
        var matchable = allowSpecial ? AddedTokens : _alwaysMatched;
        if (matchable.Count == 0)
        {
            EncodeOrdinary(text, output);
            return;
        }
        int cursor = 0;
        while (cursor < text.Length)
        {
            int best = -1;
            AddedToken? found = null;
            foreach (var t in matchable)
            {
                int at = text.IndexOf(t.Content, cursor, StringComparison.Ordinal);
                if (at >= 0 && (best < 0 || at < best || (at == best && t.Content.Length > found!.Content.Length)))
                {
                    best = at;
                    found = t;
                }
            }
            if (found is null)
                break;
            if (best > cursor)
                EncodeOrdinary(text[cursor..best], output);
            output.Add(found.Id);
            cursor = best + found.Content.Length;
        }
        if (cursor < text.Length)
            EncodeOrdinary(cursor == 0 ? text : text[cursor..], output);
    }

    /// <summary>Encodes text that holds no added tokens.</summary>
    protected abstract void EncodeOrdinary(string text, List<int> output);

    public string Decode(IEnumerable<int> ids)
    {
        var list = ids as IReadOnlyList<int> ?? ids.ToList();
        foreach (int id in list)
            if (id < 0 || id >= VocabSize)
                throw new SharpLMException($"Token id {id} is outside the vocabulary (0 to {VocabSize - 1}).");
        return DecodeChecked(list);
    }

    protected abstract string DecodeChecked(IReadOnlyList<int> ids);

    protected bool TryGetAdded(int id, out AddedToken token) => _addedById.TryGetValue(id, out token!);

    /// <summary>The token's text as shown to people (vocabulary-file form for byte-level BPE).</summary>
    public abstract string TokenText(int id);

    /// <summary>
    /// How many bytes of UTF-8 text the token stands for (0 for special tokens, which are not text);
    /// bits-per-byte divides a loss by these.
    /// </summary>
    public virtual int TokenByteCount(int id) =>
        TryGetAdded(id, out var added) && added.Special ? 0 : System.Text.Encoding.UTF8.GetByteCount(Decode([id]));

    /// <summary>Saves as a Hugging Face tokenizer.json (atomically).</summary>
    public void Save(string path) => TokenizerJson.Save(this, path);
}
