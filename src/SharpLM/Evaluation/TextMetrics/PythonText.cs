using System.Globalization;
using System.Text;

namespace SharpLM.Evaluation.TextMetrics;

/// <summary>
/// Python's string semantics, where sacrebleu and rouge-score depend on them and .NET differs: strings are sequences
/// of code points (not UTF-16 units), whitespace includes U+001C–U+001F, and lower() maps İ to "i̇" and a word-final Σ
/// to ς. Matching these is what makes the scores agree on text that is not plain ASCII.
/// </summary>
public static class PythonText
{
    /// <summary>Python's str.isspace() for one code point.</summary>
    public static bool IsSpace(int codePoint) =>
        codePoint is >= 0x1C and <= 0x1F || (codePoint <= 0xFFFF && char.IsWhiteSpace((char)codePoint));

    /// <summary>str.split() with no argument: runs of whitespace separate, no empty pieces.</summary>
    public static List<string> Split(string text)
    {
        var parts = new List<string>();
        int start = -1;
        for (int i = 0; i < text.Length; i++)
        {
            bool space = IsSpace(text[i]);
            if (space && start >= 0)
            {
                parts.Add(text[start..i]);
                start = -1;
            }
            else if (!space && start < 0)
                start = i;
        }
        if (start >= 0)
            parts.Add(text[start..]);
        return parts;
    }

    /// <summary>' '.join(text.split()).</summary>
    public static string NormalizeSpaces(string text) => string.Join(' ', Split(text));

    public static string Strip(string text)
    {
        int s = 0,
            e = text.Length;
        while (s < e && IsSpace(text[s]))
            s++;
        while (e > s && IsSpace(text[e - 1]))
            e--;
        return text[s..e];
    }

    public static string RStrip(string text)
    {
        int e = text.Length;
        while (e > 0 && IsSpace(text[e - 1]))
            e--;
        return text[..e];
    }

    /// <summary>The code points of a string, each as its own string (a surrogate pair stays one element).</summary>
    public static string[] CodePoints(string text)
    {
        var points = new List<string>(text.Length);
        foreach (var rune in text.EnumerateRunes())
            points.Add(rune.ToString());
        return [.. points];
    }

    /// <summary>
    /// str.lower(): simple lower-case mapping per code point, plus Python's two full mappings — İ → "i̇" and Σ → ς at the
    /// end of a word (a cased letter before it, none after it, skipping case-ignorable marks).
    /// </summary>
    public static string Lower(string text)
    {
        var runes = text.EnumerateRunes().ToArray();
        var sb = new StringBuilder(text.Length);
        for (int i = 0; i < runes.Length; i++)
        {
            var r = runes[i];
            if (r.Value == 0x130)
                sb.Append("i\u0307");
            else if (r.Value == 0x3A3 && IsFinalSigma(runes, i))
                sb.Append('ς');
            else
                sb.Append(Rune.ToLowerInvariant(r).ToString());
        }
        return sb.ToString();
    }

    static bool IsFinalSigma(Rune[] runes, int i)
    {
        int j = i - 1;
        while (j >= 0 && IsCaseIgnorable(runes[j]))
            j--;
        if (j < 0 || !IsCased(runes[j]))
            return false;
        j = i + 1;
        while (j < runes.Length && IsCaseIgnorable(runes[j]))
            j++;
        return j >= runes.Length || !IsCased(runes[j]);
    }

    static bool IsCased(Rune r) =>
        Rune.GetUnicodeCategory(r) is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter;

    static bool IsCaseIgnorable(Rune r) =>
        Rune.GetUnicodeCategory(r)
            is UnicodeCategory.NonSpacingMark
                or UnicodeCategory.EnclosingMark
                or UnicodeCategory.Format
                or UnicodeCategory.ModifierLetter
                or UnicodeCategory.ModifierSymbol
        || r.Value is '\'' or '.' or ':' or '^' or '`' or 0xB7 or 0x2019;

    /// <summary>
    /// format(value, '.Nf'): .NET's fixed-point formatting rounds the exact binary value too, except at an exact tie
    /// (a value like 0.125), which Python rounds to even and .NET away from zero; ties are detected exactly.
    /// </summary>
    public static string FixedPoint(double value, int digits)
    {
        var culture = System.Globalization.CultureInfo.InvariantCulture;
        if (!double.IsFinite(value))
            return double.IsNaN(value) ? "nan"
                : value > 0 ? "inf"
                : "-inf";
        long bits = BitConverter.DoubleToInt64Bits(Math.Abs(value));
        int exponent = (int)((bits >> 52) & 0x7FF);
        long mantissa = bits & 0xFFFFFFFFFFFFFL;
        if (exponent == 0)
            exponent++;
        else
            mantissa |= 1L << 52;
        exponent -= 1075; // |value| = mantissa · 2^exponent
        if (exponent < 0 && exponent > -1100)
        {
            var scaled = new System.Numerics.BigInteger(mantissa) * System.Numerics.BigInteger.Pow(10, digits);
            var denominator = System.Numerics.BigInteger.One << -exponent;
            var quotient = System.Numerics.BigInteger.DivRem(scaled, denominator, out var remainder);
            if (remainder * 2 == denominator)
            {
                var even = quotient.IsEven ? quotient : quotient + 1;
                string text = even.ToString(culture).PadLeft(digits + 1, '0');
                string number = digits == 0 ? text : text[..^digits] + "." + text[^digits..];
                return (value < 0 ? "-" : "") + number;
            }
        }
        return value.ToString("F" + digits, culture);
    }
}
