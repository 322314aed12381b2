using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace SharpLM.Tokenization;

/// <summary>Splits text into pieces (start, length) that the model encodes independently.</summary>
public abstract class PreTokenizer
{
    /// <summary>Appends the pieces of <paramref name="text"/>[start..start+length] to <paramref name="pieces"/>.</summary>
    public abstract void Split(string text, int start, int length, List<(int Start, int Length)> pieces);

    public List<(int Start, int Length)> Split(string text)
    {
        var pieces = new List<(int, int)>();
        Split(text, 0, text.Length, pieces);
        return pieces;
    }
}

/// <summary>
/// GPT-2's pattern <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>, written as a
/// scanner over code points. Written by hand because .NET's Regex matches \p{L} per UTF-16 unit, so letters outside
/// the BMP (e.g. CJK Extension B) would be classed as punctuation and ids would differ from tiktoken's; the scanner
/// is also several times faster than the regex.
/// </summary>
public sealed class Gpt2PreTokenizer : PreTokenizer
{
    public static readonly Gpt2PreTokenizer Instance = new();

    enum CharClass
    {
        Letter,
        Number,
        Space,
        Other,
    }

    static CharClass ClassAt(string s, int i, out int width)
    {
        char c = s[i];
        if (c < 0x80)
        {
            width = 1;
            if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
                return CharClass.Letter;
            if (c >= '0' && c <= '9')
                return CharClass.Number;
            if (c == ' ' || (c >= '\t' && c <= '\r'))
                return CharClass.Space;
            return CharClass.Other;
        }
        if (Rune.DecodeFromUtf16(s.AsSpan(i), out Rune rune, out width) != System.Buffers.OperationStatus.Done)
        {
            width = 1;
            return CharClass.Other; // lone surrogate
        }
        switch (Rune.GetUnicodeCategory(rune))
        {
            case UnicodeCategory.UppercaseLetter:
            case UnicodeCategory.LowercaseLetter:
            case UnicodeCategory.TitlecaseLetter:
            case UnicodeCategory.ModifierLetter:
            case UnicodeCategory.OtherLetter:
                return CharClass.Letter;
            case UnicodeCategory.DecimalDigitNumber:
            case UnicodeCategory.LetterNumber:
            case UnicodeCategory.OtherNumber:
                return CharClass.Number;
            default:
                return Rune.IsWhiteSpace(rune) ? CharClass.Space : CharClass.Other;
        }
    }

    static int RunEnd(string s, int i, int end, CharClass cls)
    {
        while (i < end && ClassAt(s, i, out int w) == cls)
            i += w;
        return i;
    }

    static int ContractionLength(string s, int i, int end)
    {
        if (s[i] != '\'' || i + 1 >= end)
            return 0;
        char a = s[i + 1];
        if (a is 's' or 't' or 'm' or 'd')
            return 2;
        if (i + 2 < end)
        {
            char b = s[i + 2];
            if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
                return 3;
        }
        return 0;
    }

    public override void Split(string s, int start, int length, List<(int Start, int Length)> pieces)
    {
        int end = start + length,
            i = start;
        while (i < end)
        {
            int contraction = ContractionLength(s, i, end);
            if (contraction > 0)
            {
                pieces.Add((i, contraction));
                i += contraction;
                continue;
            }

            CharClass cls = ClassAt(s, i, out int width);
            if (s[i] == ' ' && i + 1 < end)
            {
                CharClass next = ClassAt(s, i + 1, out _);
                if (next != CharClass.Space)
                {
                    int stop = RunEnd(s, i + 1, end, next);
                    pieces.Add((i, stop - i));
                    i = stop;
                    continue;
                }
            }
            if (cls != CharClass.Space)
            {
                int stop = RunEnd(s, i + width, end, cls);
                pieces.Add((i, stop - i));
                i = stop;
                continue;
            }
            // \s+(?!\S) then \s+: a whitespace run followed by a non-space gives its last char to the next piece.
            int runEnd = RunEnd(s, i, end, CharClass.Space);
            int take = runEnd - i;
            if (runEnd < end)
            {
                int lastWidth = char.IsLowSurrogate(s[runEnd - 1]) && runEnd - 2 >= i ? 2 : 1;
                if (take > lastWidth)
                    take -= lastWidth;
            }
            pieces.Add((i, take));
            i += take;
        }
    }
}

/// <summary>Hugging Face's <c>Split</c> pre-tokenizer with a regex or literal pattern.</summary>
public sealed class RegexSplitPreTokenizer : PreTokenizer
{
    public string Pattern { get; }
    public bool IsRegex { get; }
    public string Behavior { get; }
    readonly Regex _regex;

    public RegexSplitPreTokenizer(string pattern, bool isRegex, string behavior)
    {
        if (behavior is not ("Isolated" or "Removed"))
            throw new SharpLMException(
                $"Split pre-tokenizer behavior '{behavior}' is not supported; SharpLM reads 'Isolated' and 'Removed'."
            );
        Pattern = pattern;
        IsRegex = isRegex;
        Behavior = behavior;
        _regex = Compiled.GetOrAdd(
            isRegex ? pattern : Regex.Escape(pattern),
            p =>
            {
                try
                {
                    if (Compiled.Count > 64)
                        Compiled.Clear();
                    return new Regex(p, RegexOptions.Compiled | RegexOptions.CultureInvariant, MatchTimeout);
                }
                catch (ArgumentException e)
                {
                    throw new SharpLMException(
                        $"The Split pre-tokenizer's pattern cannot be compiled ({e.Message}); check tokenizer.json."
                    );
                }
            }
        );
    }

    /// <summary>
    /// A pattern from a file may backtrack catastrophically (.NET's engine backtracks; the non-backtracking one lacks the
    /// look-arounds real tokenizer patterns use), so every match is bounded in time and a runaway one is an error.
    /// </summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(1);

    // Compiling costs milliseconds, and a process tends to load the same tokenizer many times.
    static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Regex> Compiled = new(StringComparer.Ordinal);

    public override void Split(string text, int start, int length, List<(int Start, int Length)> pieces)
    {
        int cursor = start,
            end = start + length;
        try
        {
            for (Match m = _regex.Match(text, start, length); m.Success; m = m.NextMatch())
            {
                if (m.Length == 0)
                    continue;
                if (m.Index > cursor)
                    pieces.Add((cursor, m.Index - cursor));
                if (Behavior == "Isolated")
                    pieces.Add((m.Index, m.Length));
                cursor = m.Index + m.Length;
            }
        }
        catch (RegexMatchTimeoutException)
        {
            throw new SharpLMException(
                $"The tokenizer's Split pattern took over {MatchTimeout.TotalSeconds:0} s on one piece of text (it backtracks "
                    + "catastrophically); fix the pattern in tokenizer.json."
            );
        }
        if (cursor < end)
            pieces.Add((cursor, end - cursor));
    }
}

/// <summary>BERT's pre-tokenizer: split on whitespace, and isolate every punctuation character.</summary>
public sealed class BertPreTokenizer : PreTokenizer
{
    public static readonly BertPreTokenizer Instance = new();

    public static bool IsPunctuation(char c) =>
        (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126) || char.IsPunctuation(c);

    public override void Split(string text, int start, int length, List<(int Start, int Length)> pieces)
    {
        int end = start + length,
            wordStart = -1;
        for (int i = start; i < end; i++)
        {
            char c = text[i];
            if (char.IsWhiteSpace(c) || IsPunctuation(c))
            {
                if (wordStart >= 0)
                {
                    pieces.Add((wordStart, i - wordStart));
                    wordStart = -1;
                }
                if (!char.IsWhiteSpace(c))
                    pieces.Add((i, 1));
            }
            else if (wordStart < 0)
                wordStart = i;
        }
        if (wordStart >= 0)
            pieces.Add((wordStart, end - wordStart));
    }
}

/// <summary>Applies pre-tokenizers one after another, as Hugging Face's <c>Sequence</c> does.</summary>
public sealed class SequencePreTokenizer(IReadOnlyList<PreTokenizer> steps) : PreTokenizer
{
    public IReadOnlyList<PreTokenizer> Steps { get; } = steps;

    public override void Split(string text, int start, int length, List<(int Start, int Length)> pieces)
    {
        var current = new List<(int, int)> { (start, length) };
        foreach (var step in Steps)
        {
            var next = new List<(int, int)>();
            foreach (var (s, l) in current)
                step.Split(text, s, l, next);
            current = next;
        }
        pieces.AddRange(current);
    }
}

/// <summary>No splitting: the whole text is one piece.</summary>
public sealed class WholeTextPreTokenizer : PreTokenizer
{
    public static readonly WholeTextPreTokenizer Instance = new();

    public override void Split(string text, int start, int length, List<(int Start, int Length)> pieces)
    {
        if (length > 0)
            pieces.Add((start, length));
    }
}
