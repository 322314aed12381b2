using System.Globalization;
using System.Text;

namespace SharpLM.Tokenization;

/// <summary>A text transformation applied before pre-tokenization (Hugging Face's "normalizer").</summary>
public abstract class TextNormalizer
{
    public abstract string Normalize(string text);
}

/// <summary>Unicode normalization: NFC, NFD, NFKC or NFKD.</summary>
public sealed class UnicodeNormalizer(NormalizationForm form) : TextNormalizer
{
    public NormalizationForm Form { get; } = form;

    public override string Normalize(string text)
    {
        try
        {
            return text.Normalize(Form);
        }
        catch (ArgumentException)
        {
            return text;
        } // lone surrogates cannot be normalized; keep them as they are
    }
}

public sealed class LowercaseNormalizer : TextNormalizer
{
    public override string Normalize(string text) => text.ToLowerInvariant();
}

public sealed class SequenceNormalizer(IReadOnlyList<TextNormalizer> steps) : TextNormalizer
{
    public IReadOnlyList<TextNormalizer> Steps { get; } = steps;

    public override string Normalize(string text) => Steps.Aggregate(text, (t, n) => n.Normalize(t));
}

/// <summary>
/// BERT's normalizer: drop control characters and map whitespace to spaces, put spaces around CJK ideographs,
/// optionally strip accents, lowercase (which also strips accents unless told otherwise, as in Hugging Face).
/// </summary>
public sealed class BertNormalizer(bool cleanText = true, bool handleChineseChars = true, bool? stripAccents = null, bool lowercase = true)
    : TextNormalizer
{
    public bool CleanText { get; } = cleanText;
    public bool HandleChineseChars { get; } = handleChineseChars;
    public bool? StripAccents { get; } = stripAccents;
    public bool Lowercase { get; } = lowercase;

    public static bool IsChineseChar(int cp) =>
        (cp >= 0x4E00 && cp <= 0x9FFF)
        || (cp >= 0x3400 && cp <= 0x4DBF)
        || (cp >= 0x20000 && cp <= 0x2A6DF)
        || (cp >= 0x2A700 && cp <= 0x2B73F)
        || (cp >= 0x2B740 && cp <= 0x2B81F)
        || (cp >= 0x2B820 && cp <= 0x2CEAF)
        || (cp >= 0xF900 && cp <= 0xFAFF)
        || (cp >= 0x2F800 && cp <= 0x2FA1F);

    public override string Normalize(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (Rune r in text.EnumerateRunes())
        {
            int cp = r.Value;
            if (CleanText)
            {
                if (cp == 0 || cp == 0xFFFD)
                    continue;
                if (cp is '\t' or '\n' or '\r' || Rune.IsWhiteSpace(r))
                {
                    sb.Append(' ');
                    continue;
                }
                var cat = Rune.GetUnicodeCategory(r);
                if (cat is UnicodeCategory.Control or UnicodeCategory.Format)
                    continue;
            }
            if (HandleChineseChars && IsChineseChar(cp))
            {
                sb.Append(' ').Append(r.ToString()).Append(' ');
                continue;
            }
            sb.Append(r.ToString());
        }
        string s = sb.ToString();
        if (StripAccents ?? Lowercase)
        {
            var stripped = new StringBuilder(s.Length);
            foreach (char c in s.Normalize(NormalizationForm.FormD))
                if (CharUnicodeInfo.GetUnicodeCategory(c) != UnicodeCategory.NonSpacingMark)
                    stripped.Append(c);
            s = stripped.ToString();
        }
        return Lowercase ? s.ToLowerInvariant() : s;
    }
}
