using System.Text;

namespace SharpLM.Tokenization;

/// <summary>
/// One token per Unicode code point, vocabulary = the sorted set of code points seen (as nanoGPT's character-level
/// Shakespeare does). Saved as a Hugging Face BPE model with no merges, no pre-tokenizer and a Fuse decoder.
/// </summary>
public sealed class CharTokenizer : Tokenizer
{
    readonly string[] _chars;
    readonly Dictionary<int, int> _ids;

    public CharTokenizer(IEnumerable<string> characters, IEnumerable<AddedToken>? addedTokens = null)
        : base(addedTokens ?? [])
    {
        _chars = characters.ToArray();
        _ids = new Dictionary<int, int>(_chars.Length);
        for (int i = 0; i < _chars.Length; i++)
        {
            if (!Rune.TryGetRuneAt(_chars[i], 0, out Rune r) || r.Utf16SequenceLength != _chars[i].Length)
                throw new SharpLMException($"Char vocabulary entry {i} ('{_chars[i]}') is not exactly one Unicode character.");
            if (!_ids.TryAdd(r.Value, i))
                throw new SharpLMException($"Char vocabulary lists '{_chars[i]}' twice.");
        }
        VocabSize = Math.Max(_chars.Length, AddedTokens.Count == 0 ? 0 : AddedTokens.Max(t => t.Id) + 1);
    }

    /// <summary>The sorted (by code point) set of characters of the given texts.</summary>
    public static CharTokenizer FromTexts(IEnumerable<string> texts)
    {
        var set = new SortedSet<int>();
        foreach (string text in texts)
        foreach (Rune r in text.EnumerateRunes())
            set.Add(r.Value);
        if (set.Count == 0)
            throw new SharpLMException("Cannot build a character vocabulary from empty text; give a non-empty corpus.");
        return new CharTokenizer(set.Select(cp => char.ConvertFromUtf32(cp)));
    }

    public override string Kind => "char";
    public override int VocabSize { get; }
    public IReadOnlyList<string> Characters => _chars;

    protected override void EncodeOrdinary(string text, List<int> output)
    {
        for (int i = 0; i < text.Length; )
        {
            int cp;
            if (Rune.DecodeFromUtf16(text.AsSpan(i), out Rune r, out int used) == System.Buffers.OperationStatus.Done)
                cp = r.Value;
            else
            {
                cp = text[i];
                used = 1;
            }
            if (!_ids.TryGetValue(cp, out int id))
                throw new SharpLMException(
                    $"Character U+{cp:X4} ('{text.Substring(i, used)}') is not in the character vocabulary; use text made of the "
                        + "training corpus's characters."
                );
            output.Add(id);
            i += used;
        }
    }

    protected override string DecodeChecked(IReadOnlyList<int> ids)
    {
        var sb = new StringBuilder(ids.Count);
        foreach (int id in ids)
            sb.Append(TokenText(id));
        return sb.ToString();
    }

    public override string TokenText(int id) => TryGetAdded(id, out var t) ? t.Content : _chars[id];
}
