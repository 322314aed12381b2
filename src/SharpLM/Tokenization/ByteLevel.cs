using System.Text;

namespace SharpLM.Tokenization;

/// <summary>
/// GPT-2's byte-level conventions: the reversible byte ↔ printable-character table used in vocabulary files, and
/// UTF-8 conversion that keeps lone surrogates (see <see cref="ToBytes"/>).
/// </summary>
public static class ByteLevel
{
    /// <summary>Byte value → the character GPT-2 uses for it in vocab/merges files (e.g. 0x20 → 'Ġ').</summary>
    public static readonly char[] ByteToChar = BuildByteToChar();
    static readonly Dictionary<char, byte> CharToByte = Enumerable.Range(0, 256).ToDictionary(b => ByteToChar[b], b => (byte)b);

    static char[] BuildByteToChar()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }

    /// <summary>Vocabulary-file form ("Ġhello") → raw bytes as chars 0–255, or null if a char is not in the table.</summary>
    public static string? FromVocabForm(string token)
    {
        var chars = new char[token.Length];
        for (int i = 0; i < token.Length; i++)
        {
            if (!CharToByte.TryGetValue(token[i], out byte b))
                return null;
            chars[i] = (char)b;
        }
        return new string(chars);
    }

    /// <summary>Raw bytes as chars 0–255 → vocabulary-file form.</summary>
    public static string ToVocabForm(string rawBytes)
    {
        var chars = new char[rawBytes.Length];
        for (int i = 0; i < rawBytes.Length; i++)
            chars[i] = ByteToChar[rawBytes[i]];
        return new string(chars);
    }

    /// <summary>
    /// UTF-8 bytes of <paramref name="text"/>, each as a char 0–255. A lone surrogate is written as its own 3-byte
    /// sequence (WTF-8) instead of U+FFFD, so that decode(encode(x)) == x for every .NET string. (tiktoken replaces
    /// lone surrogates with U+FFFD; for well-formed text the bytes are identical.)
    /// </summary>
    public static int ToBytes(ReadOnlySpan<char> text, Span<char> destination)
    {
        int o = 0;
        for (int i = 0; i < text.Length; i++)
        {
            int c = text[i];
            if (c < 0x80)
                destination[o++] = (char)c;
            else if (c < 0x800)
            {
                destination[o++] = (char)(0xC0 | (c >> 6));
                destination[o++] = (char)(0x80 | (c & 0x3F));
            }
            else if (char.IsHighSurrogate((char)c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                int cp = char.ConvertToUtf32((char)c, text[++i]);
                destination[o++] = (char)(0xF0 | (cp >> 18));
                destination[o++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                destination[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                destination[o++] = (char)(0x80 | (cp & 0x3F));
            }
            else
            {
                destination[o++] = (char)(0xE0 | (c >> 12));
                destination[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
                destination[o++] = (char)(0x80 | (c & 0x3F));
            }
        }
        return o;
    }

    /// <summary>Upper bound of <see cref="ToBytes"/>'s output length.</summary>
    public static int MaxByteCount(int chars) => chars * 3;

    /// <summary>
    /// Decodes UTF-8 (plus WTF-8 lone surrogates, see <see cref="ToBytes"/>). Invalid sequences become U+FFFD, as
    /// Python's errors="replace" does, so a partial multi-byte token never throws.
    /// </summary>
    public static string FromBytes(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length);
        int i = 0;
        while (i < bytes.Length)
        {
            byte b = bytes[i];
            if (b < 0x80)
            {
                sb.Append((char)b);
                i++;
                continue;
            }
            // A WTF-8 surrogate (ED A0..BF xx) is not valid UTF-8; accept it deliberately.
            if (b == 0xED && i + 2 < bytes.Length && bytes[i + 1] >= 0xA0 && bytes[i + 1] <= 0xBF && (bytes[i + 2] & 0xC0) == 0x80)
            {
                sb.Append((char)(((b & 0x0F) << 12) | ((bytes[i + 1] & 0x3F) << 6) | (bytes[i + 2] & 0x3F)));
                i += 3;
                continue;
            }
            var status = Rune.DecodeFromUtf8(bytes[i..], out Rune rune, out int consumed);
            if (status == System.Buffers.OperationStatus.Done)
                sb.Append(rune.ToString());
            else
                sb.Append('\uFFFD');
            i += Math.Max(consumed, 1);
        }
        return sb.ToString();
    }
}
