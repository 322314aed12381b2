using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace SharpLM.Data;

/// <summary>Options of <see cref="TextCleaner"/>. The defaults suit language modelling; the rest is for classic NLP.</summary>
public sealed record CleaningOptions
{
    /// <summary>Unicode NFC normalization.</summary>
    public bool Nfc { get; init; } = true;

    /// <summary>Drop control and format characters except tab and newline; turn CRLF/CR into LF.</summary>
    public bool RemoveControlCharacters { get; init; } = true;
    public bool StripHtml { get; init; }
    public bool Lowercase { get; init; }
    public bool RemoveStopWords { get; init; }
    public bool Stem { get; init; }

    /// <summary>Replace e-mail addresses, phone numbers and IP addresses by placeholders (<see cref="PiiRedactor"/>).</summary>
    public bool RedactPii { get; init; }

    /// <summary>Stop-word removal and stemming rewrite text word by word (and lowercase it).</summary>
    public bool RewritesWords => RemoveStopWords || Stem;
}

/// <summary>Cleans raw text: Unicode NFC, control characters, HTML, and optionally PII, stop words and stemming.</summary>
public sealed partial class TextCleaner(CleaningOptions options)
{
    public CleaningOptions Options { get; } = options;

    [GeneratedRegex(@"<(script|style)\b[^>]*>.*?</\1\s*>", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex ScriptOrStyle();

    [GeneratedRegex(@"<!--.*?-->", RegexOptions.Singleline)]
    private static partial Regex HtmlComment();

    [GeneratedRegex(@"<(br|/p|/div|/li|/h[1-6]|/tr)\b[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex BlockBreak();

    [GeneratedRegex(@"</?[a-zA-Z][^>]*>")]
    private static partial Regex Tag();

    [GeneratedRegex(@"[\p{L}\p{N}]+(?:['’][\p{L}]+)*")]
    private static partial Regex Word();

    /// <summary>The cleaned text; <paramref name="redacted"/> counts what PII redaction replaced.</summary>
    public string Clean(string text, PiiCounts? redacted = null)
    {
        if (Options.StripHtml)
        {
            text = ScriptOrStyle().Replace(text, "");
            text = HtmlComment().Replace(text, "");
            text = BlockBreak().Replace(text, "\n");
            text = Tag().Replace(text, "");
            text = WebUtility.HtmlDecode(text);
        }
        if (Options.RemoveControlCharacters)
            text = RemoveControl(text);
        if (Options.Nfc)
        {
            try
            {
                text = text.Normalize(NormalizationForm.FormC);
            }
            catch (ArgumentException)
            { /* lone surrogates: leave the text as it is */
            }
        }
        if (Options.RedactPii)
            text = PiiRedactor.Redact(text, redacted);
        if (Options.Lowercase || Options.RewritesWords)
            text = text.ToLowerInvariant();
        if (Options.RewritesWords)
            text = RewriteWords(text);
        return text;
    }

    static string RemoveControl(string text)
    {
        var sb = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '\r')
            {
                sb.Append('\n');
                if (i + 1 < text.Length && text[i + 1] == '\n')
                    i++;
                continue;
            }
            if (c == '\n' || c == '\t')
            {
                sb.Append(c);
                continue;
            }
            var cat = CharUnicodeInfo.GetUnicodeCategory(c);
            if (cat == UnicodeCategory.Control)
                continue;
            // Format characters (zero-width space, BOM, soft hyphen) are noise, except the joiners that build emoji and scripts.
            if (cat == UnicodeCategory.Format && c != '\u200D' && c != '\u200C')
                continue;
            sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>Keeps lines; within a line keeps words (minus stop words, stemmed if asked) separated by single spaces.</summary>
    string RewriteWords(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (string line in text.Split('\n'))
        {
            if (sb.Length > 0)
                sb.Append('\n');
            bool first = true;
            foreach (Match m in Word().Matches(line))
            {
                string w = m.Value;
                if (Options.RemoveStopWords && StopWords.English.Contains(w))
                    continue;
                if (Options.Stem)
                    w = PorterStemmer.Stem(w);
                if (!first)
                    sb.Append(' ');
                sb.Append(w);
                first = false;
            }
        }
        return sb.ToString();
    }
}
