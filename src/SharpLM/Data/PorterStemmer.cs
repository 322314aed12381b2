namespace SharpLM.Data;

/// <summary>
/// The Porter (1980) suffix-stripping stemmer with NLTK's extensions — NLTK's default mode, and so the stemmer that
/// rouge-score and most Python NLP pipelines run (tested word for word against NLTK 3.8). The extensions: a few irregular
/// forms (dying → die, skies → sky), -ies/-ied on four-letter words (ties → tie), y → i only after a consonant that is
/// not the first letter (enjoy stays), -alli handled by recursion, -fulli, and -logi measured with its l.
/// Written by hand: no maintained .NET package implements this variant (Lucene's and Snowball's are other variants),
/// and it is short.
/// </summary>
public static class PorterStemmer
{
    static readonly Dictionary<string, string> Irregular = new()
    {
        ["sky"] = "sky",
        ["skies"] = "sky",
        ["dying"] = "die",
        ["lying"] = "lie",
        ["tying"] = "tie",
        ["news"] = "news",
        ["innings"] = "inning",
        ["inning"] = "inning",
        ["outings"] = "outing",
        ["outing"] = "outing",
        ["cannings"] = "canning",
        ["canning"] = "canning",
        ["howe"] = "howe",
        ["proceed"] = "proceed",
        ["exceed"] = "exceed",
        ["succeed"] = "succeed",
    };

    /// <summary>The stem of a word; the word is lower-cased first (as NLTK does).</summary>
    public static string Stem(string word)
    {
        string w = word.ToLowerInvariant();
        if (Irregular.TryGetValue(word, out var irregular))
            return irregular;
        if (word.Length <= 2)
            return w;
        w = Step1a(w);
        w = Step1b(w);
        w = Step1c(w);
        w = Step2(w);
        w = Step3(w);
        w = Step4(w);
        w = Step5a(w);
        return Step5b(w);
    }

    static bool IsConsonant(string w, int i) =>
        w[i] switch
        {
            'a' or 'e' or 'i' or 'o' or 'u' => false,
            'y' => i == 0 || !IsConsonant(w, i - 1),
            _ => true,
        };

    /// <summary>m in [C](VC){m}[V]: how many vowel→consonant transitions the stem has.</summary>
    static int Measure(string stem)
    {
        int m = 0;
        for (int i = 1; i < stem.Length; i++)
            if (IsConsonant(stem, i) && !IsConsonant(stem, i - 1))
                m++;
        return m;
    }

    static bool HasVowel(string stem)
    {
        for (int i = 0; i < stem.Length; i++)
            if (!IsConsonant(stem, i))
                return true;
        return false;
    }

    static bool EndsDoubleConsonant(string w) => w.Length >= 2 && w[^1] == w[^2] && IsConsonant(w, w.Length - 1);

    /// <summary>
    /// *o: the stem ends consonant-vowel-consonant, the last not w, x or y (NLTK: also a two-letter vowel-consonant stem).
    /// </summary>
    static bool EndsCvc(string w) =>
        (
            w.Length >= 3
            && IsConsonant(w, w.Length - 3)
            && !IsConsonant(w, w.Length - 2)
            && IsConsonant(w, w.Length - 1)
            && w[^1] is not ('w' or 'x' or 'y')
        ) || (w.Length == 2 && !IsConsonant(w, 0) && IsConsonant(w, 1));

    /// <summary>
    /// The first rule whose suffix the word ends with decides: it is applied if its condition holds on the stem,
    /// otherwise the word is left as it is (later rules are not tried).
    /// </summary>
    static string FirstRule(string w, (string Suffix, string Replacement, Func<string, bool> Condition)[] rules)
    {
        foreach (var (suffix, replacement, condition) in rules)
            if (w.EndsWith(suffix, StringComparison.Ordinal))
            {
                string stem = w[..^suffix.Length];
                return condition(stem) ? stem + replacement : w;
            }
        return w;
    }

    static bool Positive(string stem) => Measure(stem) > 0;

    static bool AboveOne(string stem) => Measure(stem) > 1;

    static string Step1a(string w)
    {
        if (w.Length == 4 && w.EndsWith("ies", StringComparison.Ordinal))
            return w[..^3] + "ie";
        return FirstRule(w, [("sses", "ss", _ => true), ("ies", "i", _ => true), ("ss", "ss", _ => true), ("s", "", _ => true)]);
    }

    static string Step1b(string w)
    {
        if (w.EndsWith("ied", StringComparison.Ordinal))
            return w[..^3] + (w.Length == 4 ? "ie" : "i");
        if (w.EndsWith("eed", StringComparison.Ordinal))
            return Positive(w[..^3]) ? w[..^1] : w;
        string? stem = null;
        foreach (string suffix in (string[])["ed", "ing"])
            if (w.EndsWith(suffix, StringComparison.Ordinal) && HasVowel(w[..^suffix.Length]))
            {
                stem = w[..^suffix.Length];
                break;
            }
        if (stem is null)
            return w;
        foreach (var (suffix, replacement) in ((string, string)[])[("at", "ate"), ("bl", "ble"), ("iz", "ize")])
            if (stem.EndsWith(suffix, StringComparison.Ordinal))
                return stem[..^suffix.Length] + replacement;
        if (EndsDoubleConsonant(stem))
            return stem[^1] is 'l' or 's' or 'z' ? stem : stem[..^1];
        return Measure(stem) == 1 && EndsCvc(stem) ? stem + "e" : stem;
    }

    /// <summary>NLTK: y → i only after a consonant that is not the first letter (happy → happi, spy → spi; enjoy stays).</summary>
    static string Step1c(string w) => w.EndsWith('y') && w.Length > 2 && IsConsonant(w, w.Length - 2) ? w[..^1] + "i" : w;

    static readonly (string, string, Func<string, bool>)[] Step2Rules =
    [
        ("ational", "ate", Positive),
        ("tional", "tion", Positive),
        ("enci", "ence", Positive),
        ("anci", "ance", Positive),
        ("izer", "ize", Positive),
        ("bli", "ble", Positive),
        ("alli", "al", Positive),
        ("entli", "ent", Positive),
        ("eli", "e", Positive),
        ("ousli", "ous", Positive),
        ("ization", "ize", Positive),
        ("ation", "ate", Positive),
        ("ator", "ate", Positive),
        ("alism", "al", Positive),
        ("iveness", "ive", Positive),
        ("fulness", "ful", Positive),
        ("ousness", "ous", Positive),
        ("aliti", "al", Positive),
        ("iviti", "ive", Positive),
        ("biliti", "ble", Positive),
        ("fulli", "ful", Positive),
        ("logi", "log", stem => Positive(stem + "l")),
    ];

    static string Step2(string w)
    {
        if (w.EndsWith("alli", StringComparison.Ordinal) && Positive(w[..^4]))
            return Step2(w[..^4] + "al");
        return FirstRule(w, Step2Rules);
    }

    static readonly (string, string, Func<string, bool>)[] Step3Rules =
    [
        ("icate", "ic", Positive),
        ("ative", "", Positive),
        ("alize", "al", Positive),
        ("iciti", "ic", Positive),
        ("ical", "ic", Positive),
        ("ful", "", Positive),
        ("ness", "", Positive),
    ];

    static string Step3(string w) => FirstRule(w, Step3Rules);

    static readonly (string, string, Func<string, bool>)[] Step4Rules =
    [
        ("al", "", AboveOne),
        ("ance", "", AboveOne),
        ("ence", "", AboveOne),
        ("er", "", AboveOne),
        ("ic", "", AboveOne),
        ("able", "", AboveOne),
        ("ible", "", AboveOne),
        ("ant", "", AboveOne),
        ("ement", "", AboveOne),
        ("ment", "", AboveOne),
        ("ent", "", AboveOne),
        ("ion", "", stem => AboveOne(stem) && stem[^1] is 's' or 't'),
        ("ou", "", AboveOne),
        ("ism", "", AboveOne),
        ("ate", "", AboveOne),
        ("iti", "", AboveOne),
        ("ous", "", AboveOne),
        ("ive", "", AboveOne),
        ("ize", "", AboveOne),
    ];

    static string Step4(string w) => FirstRule(w, Step4Rules);

    static string Step5a(string w)
    {
        if (!w.EndsWith('e'))
            return w;
        string stem = w[..^1];
        int m = Measure(stem);
        return m > 1 || (m == 1 && !EndsCvc(stem)) ? stem : w;
    }

    static string Step5b(string w) => w.EndsWith("ll", StringComparison.Ordinal) && AboveOne(w[..^1]) ? w[..^1] : w;
}
