using System.Text.RegularExpressions;

namespace SharpLM.Generation;

/// <summary>
/// A list of blocked words, phrases and regular expressions, checked on prompts and on generated text. A file has one
/// entry per line: a word or phrase (matched case-insensitively, as a whole word) or <c>re:PATTERN</c> (a .NET regex,
/// case-insensitive); empty lines and lines starting with # are ignored.
/// What it does not do: it knows no meaning, only these strings — paraphrases, misspellings, other languages and
/// encodings get through, and a regex can only match what it is written to match.
/// </summary>
public sealed class SafetyFilter
{
    readonly Regex _any;

    /// <summary>Text is streamed only this far behind the newest character, so a match can be cut before a client sees its start.</summary>
    public int HoldBack { get; }
    public int Entries { get; }

    public SafetyFilter(IEnumerable<string> entries, int regexHoldBack = 64)
    {
        var patterns = new List<string>();
        int longest = 0;
        foreach (var raw in entries)
        {
            string e = raw.Trim();
            if (e.Length == 0 || e.StartsWith('#'))
                continue;
            if (e.StartsWith("re:", StringComparison.Ordinal))
            {
                string pattern = e[3..];
                try
                {
                    _ = new Regex(pattern, RegexOptions.CultureInvariant);
                }
                catch (ArgumentException x)
                {
                    throw new SharpLMException($"Safety filter pattern '{pattern}' is not a valid regular expression ({x.Message}).");
                }
                patterns.Add($"(?:{pattern})");
                longest = Math.Max(longest, regexHoldBack);
            }
            else
            {
                patterns.Add($@"(?<!\w){Regex.Escape(e)}(?!\w)");
                longest = Math.Max(longest, e.Length + 1);
            }
        }
        if (patterns.Count == 0)
            throw new SharpLMException("The safety filter has no entries; give one word, phrase or re:PATTERN per line.");
        Entries = patterns.Count;
        HoldBack = longest;
        _any = new Regex(string.Join('|', patterns), RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    }

    public static SafetyFilter Load(string path)
    {
        if (!File.Exists(path))
            throw new SharpLMException(
                $"Safety filter file {path} does not exist; give a file with one blocked word, phrase or re:PATTERN per line."
            );
        return new SafetyFilter(File.ReadAllLines(path));
    }

    /// <summary>Where the first blocked entry starts in <paramref name="text"/>, or -1.</summary>
    public int FirstMatch(string text)
    {
        try
        {
            var m = _any.Match(text);
            return m.Success ? m.Index : -1;
        }
        catch (RegexMatchTimeoutException)
        {
            return 0; // a pattern that cannot decide in time blocks rather than lets through
        }
    }
}
