using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace SharpLM.Evaluation.TextMetrics;

/// <summary>
/// sacrebleu's tokenizers for BLEU, by name: "13a" (mteval-v13a, the default), "intl" (mteval-v14 international:
/// punctuation and symbols of any script), "zh" (each Chinese character a token, the rest as 13a), "char" (every
/// character) and "none". Each returns the line as space-separated tokens, exactly as sacrebleu 2.x does.
/// Written here rather than taken from a package: no .NET package reproduces sacrebleu's tokenization.
/// </summary>
public static class BleuTokenizers
{
    public static readonly IReadOnlyList<string> Names = ["13a", "intl", "zh", "char", "none"];

    /// <summary>The tokenizer called <paramref name="name"/>.</summary>
    public static Func<string, string> Get(string name) =>
        name switch
        {
            "13a" => Tokenize13a,
            "intl" => TokenizeInternational,
            "zh" => TokenizeChinese,
            "char" => TokenizeCharacters,
            "none" => line => line,
            _ => throw new SharpLMException($"tokenize '{name}' is not a BLEU tokenizer; use one of {string.Join(", ", Names)}."),
        };

    // mteval's regular expressions (ASCII only): symbols and punctuation apart; '.' and ',' apart unless between digits;
    // a dash after a digit apart.
    static readonly (Regex Pattern, string Replacement)[] MtevalRules =
    [
        (new Regex(@"([\{-\~\[-\` -\&\(-\+\:-\@\/])", RegexOptions.CultureInvariant), " $1 "),
        (new Regex(@"([^0-9])([\.,])", RegexOptions.CultureInvariant), "$1 $2 "),
        (new Regex(@"([\.,])([^0-9])", RegexOptions.CultureInvariant), " $1 $2"),
        (new Regex(@"([0-9])(-)", RegexOptions.CultureInvariant), "$1 $2 "),
    ];

    static string Mteval(string line)
    {
        foreach (var (pattern, replacement) in MtevalRules)
            line = pattern.Replace(line, replacement);
        return PythonText.NormalizeSpaces(line);
    }

    public static string Tokenize13a(string line)
    {
        line = line.Replace("<skipped>", "").Replace("-\n", "").Replace("\n", " ");
        if (line.Contains('&'))
            line = line.Replace("&quot;", "\"").Replace("&amp;", "&").Replace("&lt;", "<").Replace("&gt;", ">");
        return Mteval($" {line} ");
    }

    static bool IsNumber(Rune r) =>
        Rune.GetUnicodeCategory(r) is UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber;

    static bool IsPunctuation(Rune r) =>
        Rune.GetUnicodeCategory(r)
            is UnicodeCategory.ConnectorPunctuation
                or UnicodeCategory.DashPunctuation
                or UnicodeCategory.OpenPunctuation
                or UnicodeCategory.ClosePunctuation
                or UnicodeCategory.InitialQuotePunctuation
                or UnicodeCategory.FinalQuotePunctuation
                or UnicodeCategory.OtherPunctuation;

    static bool IsSymbol(Rune r) =>
        Rune.GetUnicodeCategory(r)
            is UnicodeCategory.MathSymbol
                or UnicodeCategory.CurrencySymbol
                or UnicodeCategory.ModifierSymbol
                or UnicodeCategory.OtherSymbol;

    /// <summary>
    /// mteval-v14's international tokenizer: s/(\P{N})(\p{P})/$1 $2 /g, s/(\p{P})(\P{N})/ $1 $2/g, s/(\p{S})/ $1 /g.
    /// Run over code points rather than with .NET's Regex, whose \p{..} sees the two halves of a surrogate pair
    /// (emoji, rare CJK) as neither punctuation nor symbols.
    /// </summary>
    public static string TokenizeInternational(string line)
    {
        var runes = line.EnumerateRunes().ToList();
        runes = ReplacePairs(runes, (a, b) => !IsNumber(a) && IsPunctuation(b), (a, b) => [a, Space, b, Space]);
        runes = ReplacePairs(runes, (a, b) => IsPunctuation(a) && !IsNumber(b), (a, b) => [Space, a, Space, b]);
        var sb = new StringBuilder();
        foreach (var r in runes)
            sb.Append(IsSymbol(r) ? $" {r} " : r.ToString());
        return PythonText.NormalizeSpaces(sb.ToString());
    }

    static readonly Rune Space = new(' ');

    /// <summary>One left-to-right pass of a two-character regex substitution: matches do not overlap.</summary>
    static List<Rune> ReplacePairs(List<Rune> runes, Func<Rune, Rune, bool> matches, Func<Rune, Rune, Rune[]> replace)
    {
        var result = new List<Rune>(runes.Count + 8);
        int i = 0;
        while (i < runes.Count)
        {
            if (i + 1 < runes.Count && matches(runes[i], runes[i + 1]))
            {
                result.AddRange(replace(runes[i], runes[i + 1]));
                i += 2;
            }
            else
                result.Add(runes[i++]);
        }
        return result;
    }

    /// <summary>
    /// sacrebleu's ranges of "Chinese" characters. Two of its entries are written '\u20000'–'\u2a6d6' and
    /// '\u2f800'–'\u2fa1d', which Python reads as two-character strings; compared with one character they cover
    /// U+2001–U+2A6D and U+2F81–U+2FA1 (general punctuation, symbols, arrows…), and not the supplementary planes.
    /// Reproduced as sacrebleu behaves, since that is what its scores are.
    /// </summary>
    static readonly (int Start, int End)[] ChineseRanges =
    [
        (0x3400, 0x4DB5),
        (0x4E00, 0x9FA5),
        (0x9FA6, 0x9FBB),
        (0xF900, 0xFA2D),
        (0xFA30, 0xFA6A),
        (0xFA70, 0xFAD9),
        (0x2001, 0x2A6D),
        (0x2F81, 0x2FA1),
        (0xFF00, 0xFFEF),
        (0x2E80, 0x2EFF),
        (0x3000, 0x303F),
        (0x31C0, 0x31EF),
        (0x2F00, 0x2FDF),
        (0x2FF0, 0x2FFF),
        (0x3100, 0x312F),
        (0x31A0, 0x31BF),
        (0xFE10, 0xFE1F),
        (0xFE30, 0xFE4F),
        (0x2600, 0x26FF),
        (0x2700, 0x27BF),
        (0x3200, 0x32FF),
        (0x3300, 0x33FF),
    ];

    static bool IsChinese(Rune r)
    {
        foreach (var (start, end) in ChineseRanges)
            if (r.Value >= start && r.Value <= end)
                return true;
        return false;
    }

    public static string TokenizeChinese(string line)
    {
        var sb = new StringBuilder();
        foreach (var r in PythonText.Strip(line).EnumerateRunes())
            sb.Append(IsChinese(r) ? $" {r} " : r.ToString());
        return Mteval(sb.ToString());
    }

    /// <summary>" ".join(line): every code point (spaces too) becomes a token; split() later drops the spaces.</summary>
    public static string TokenizeCharacters(string line) => string.Join(' ', PythonText.CodePoints(line));
}
