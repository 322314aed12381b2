using System.Buffers;

namespace SharpLM.Tokenization;

/// <summary>
/// Byte-level BPE as GPT-2 defines it: optional normalizer, pre-tokenizer, then BPE over the UTF-8 bytes of each piece.
/// </summary>
public sealed class ByteLevelBpeTokenizer : Tokenizer
{
    public BpeModel Model { get; }
    public PreTokenizer PreTokenizer { get; }
    public TextNormalizer? Normalizer { get; }
    public bool AddPrefixSpace { get; }

    public ByteLevelBpeTokenizer(
        BpeModel model,
        PreTokenizer preTokenizer,
        IEnumerable<AddedToken> addedTokens,
        TextNormalizer? normalizer = null,
        bool addPrefixSpace = false
    )
        : base(addedTokens)
    {
        for (int b = 0; b < 256; b++)
            if (!model.TryGetId(((char)b).ToString(), out _))
                throw new SharpLMException(
                    $"The byte-level vocabulary has no token for byte 0x{b:X2} ('{ByteLevel.ByteToChar[b]}'); the tokenizer file is "
                        + "incomplete."
                );
        Model = model;
        PreTokenizer = preTokenizer;
        Normalizer = normalizer;
        AddPrefixSpace = addPrefixSpace;
        VocabSize = Math.Max(model.VocabSize, AddedTokens.Count == 0 ? 0 : AddedTokens.Max(t => t.Id) + 1);
    }

    public override string Kind => "bpe";
    public override int VocabSize { get; }

    protected override void EncodeOrdinary(string text, List<int> output)
    {
        if (Normalizer != null)
            text = Normalizer.Normalize(text);
        if (AddPrefixSpace && text.Length > 0 && text[0] != ' ')
            text = " " + text;
        var pieces = new List<(int Start, int Length)>();
        PreTokenizer.Split(text, 0, text.Length, pieces);
        char[] buffer = ArrayPool<char>.Shared.Rent(256);
        try
        {
            foreach (var (start, length) in pieces)
            {
                int need = ByteLevel.MaxByteCount(length);
                if (buffer.Length < need)
                {
                    ArrayPool<char>.Shared.Return(buffer);
                    buffer = ArrayPool<char>.Shared.Rent(need);
                }
                int n = ByteLevel.ToBytes(text.AsSpan(start, length), buffer);
                Model.EncodePiece(buffer.AsSpan(0, n), output);
            }
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
    }

    protected override string DecodeChecked(IReadOnlyList<int> ids)
    {
        var bytes = new List<byte>(ids.Count * 4);
        var scratch = new char[64];
        foreach (int id in ids)
        {
            if (TryGetAdded(id, out var added))
            {
                if (scratch.Length < ByteLevel.MaxByteCount(added.Content.Length))
                    scratch = new char[ByteLevel.MaxByteCount(added.Content.Length)];
                int n = ByteLevel.ToBytes(added.Content, scratch);
                for (int i = 0; i < n; i++)
                    bytes.Add((byte)scratch[i]);
            }
            else if (id < Model.VocabSize)
                foreach (char c in Model.TokenAt(id))
                    bytes.Add((byte)c);
        }
        return ByteLevel.FromBytes(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    public override string TokenText(int id) => TryGetAdded(id, out var added) ? added.Content : ByteLevel.ToVocabForm(Model.TokenAt(id));

    /// <summary>Byte-level tokens may hold part of a UTF-8 sequence, so count their bytes, not decoded characters.</summary>
    public override int TokenByteCount(int id) =>
        TryGetAdded(id, out var added) ? (added.Special ? 0 : System.Text.Encoding.UTF8.GetByteCount(added.Content)) : TokenText(id).Length;
}
