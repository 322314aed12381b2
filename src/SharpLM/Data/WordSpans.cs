using System.Globalization;

namespace SharpLM.Data;

/// <summary>A word of a text and where it sits: characters [Start, End).</summary>
public readonly record struct WordSpan(string Text, int Start, int End);

/// <summary>
/// Splits text into words with their character offsets, the way BERT's basic tokenizer and CoNLL corpora cut it: runs of
/// letters, digits and combining marks are words, every other non-space character (punctuation, symbols) is a word of
/// its own, whitespace separates. Tagging and question answering tokenize word by word and map predictions back to
/// text through these offsets, so no tokenizer needs to report offsets itself.
/// </summary>
public static class WordSpans
{
    public static List<WordSpan> Split(string text)
    {
        var words = new List<WordSpan>();
        int i = 0;
        while (i < text.Length)
        {
            int width = char.IsSurrogatePair(text, i) ? 2 : 1;
            if (char.IsWhiteSpace(text, i) || char.IsControl(text, i))
            {
                i += width;
                continue;
            }
            int start = i;
            if (IsWordChar(text, i))
                while (i < text.Length && IsWordChar(text, i))
                    i += char.IsSurrogatePair(text, i) ? 2 : 1;
            else
                i += width;
            words.Add(new WordSpan(text[start..i], start, i));
        }
        return words;
    }

    static bool IsWordChar(string text, int i) =>
        CharUnicodeInfo.GetUnicodeCategory(text, i) switch
        {
            UnicodeCategory.UppercaseLetter
            or UnicodeCategory.LowercaseLetter
            or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter
            or UnicodeCategory.OtherLetter
            or UnicodeCategory.DecimalDigitNumber
            or UnicodeCategory.LetterNumber
            or UnicodeCategory.OtherNumber
            or UnicodeCategory.NonSpacingMark
            or UnicodeCategory.SpacingCombiningMark
            or UnicodeCategory.EnclosingMark => true,
            _ => false,
        };
}
