using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using SharpLM.Data;

namespace SharpLM.Evaluation.TextMetrics;

/// <summary>Precision, recall and F1 of one ROUGE type.</summary>
public sealed record RougeScore(double Precision, double Recall, double FMeasure);

/// <summary>How ROUGE splits text into tokens.</summary>
public enum RougeTokenizer
{
    /// <summary>
    /// rouge-score's: lower-case, every run of characters other than a–z and 0–9 separates. It drops non-ASCII text
    /// (Chinese, accented letters) entirely.
    /// </summary>
    Default,

    /// <summary>Lower-case; letters and digits of any script make tokens; each CJK character (Han, kana, Hangul) is a token.</summary>
    Unicode,
}

/// <summary>ROUGE's settings: the types (rouge1…rouge9, rougeL, rougeLsum), Porter stemming, the tokenizer.</summary>
public sealed record RougeOptions
{
    public IReadOnlyList<string> Types { get; init; } = ["rouge1", "rouge2", "rougeL", "rougeLsum"];

    /// <summary>Stem tokens longer than 3 characters with the Porter stemmer (rouge-score's use_stemmer).</summary>
    public bool UseStemmer { get; init; }
    public RougeTokenizer Tokenizer { get; init; } = RougeTokenizer.Default;
}

/// <summary>
/// ROUGE-N, ROUGE-L and ROUGE-Lsum (Lin, 2004) as Google's rouge-score computes them: n-gram overlap, the longest common
/// subsequence, and for Lsum the union LCS of each reference sentence against all hypothesis sentences (sentences are
/// the lines of the text), counted without double counting as ROUGE-1.5.5 does. With several references the best F per
/// type wins. Tested against rouge-score to 4 decimals.
/// </summary>
public sealed partial class Rouge
{
    readonly RougeOptions _options;

    public Rouge(RougeOptions? options = null)
    {
        _options = options ?? new RougeOptions();
        if (_options.Types.Count == 0)
            throw new SharpLMException("types is empty: name at least one ROUGE type (rouge1, rouge2, rougeL, rougeLsum).");
        foreach (string type in _options.Types)
            if (type is not ("rougeL" or "rougeLsum") && !RougeN().IsMatch(type))
                throw new SharpLMException($"types: '{type}' is not a ROUGE type; use rouge1 … rouge9, rougeL or rougeLsum.");
    }

    [GeneratedRegex("^rouge[1-9]$")]
    private static partial Regex RougeN();

    public IReadOnlyList<string> Types => _options.Types;

    /// <summary>The scores of one prediction against one target (reference).</summary>
    public IReadOnlyDictionary<string, RougeScore> Score(string target, string prediction)
    {
        var targetTokens = Tokenize(target);
        var predictionTokens = Tokenize(prediction);
        var result = new Dictionary<string, RougeScore>();
        foreach (string type in _options.Types)
            result[type] = type switch
            {
                "rougeL" => Lcs(targetTokens, predictionTokens),
                "rougeLsum" => SummaryLevelLcs(Sentences(target), Sentences(prediction)),
                _ => Ngrams(targetTokens, predictionTokens, type[5] - '0'),
            };
        return result;
    }

    /// <summary>Against several targets: per type, the target with the highest F (the first of equals).</summary>
    public IReadOnlyDictionary<string, RougeScore> Score(IReadOnlyList<string> targets, string prediction)
    {
        if (targets.Count == 0)
            throw new SharpLMException("targets is empty: give at least one reference.");
        var all = targets.Select(t => Score(t, prediction)).ToList();
        return _options.Types.ToDictionary(type => type, type => all.MaxBy(s => s[type].FMeasure)![type]);
    }

    /// <summary>
    /// The mean over lines of each line's precision, recall and F per type (no bootstrap). references[k][i] is the k-th
    /// reference of line i.
    /// </summary>
    public IReadOnlyDictionary<string, RougeScore> Corpus(
        IReadOnlyList<string> predictions,
        IReadOnlyList<IReadOnlyList<string>> references
    )
    {
        TextMetricInputs.Check(predictions, references);
        if (predictions.Count == 0)
            return _options.Types.ToDictionary(t => t, _ => new RougeScore(0, 0, 0));
        return Mean(PerLine(predictions, references));
    }

    /// <summary>The mean over lines of each line's precision, recall and F per type (of what <see cref="PerLine"/> gave).</summary>
    public IReadOnlyDictionary<string, RougeScore> Mean(IReadOnlyList<IReadOnlyDictionary<string, RougeScore>> lines)
    {
        if (lines.Count == 0)
            return _options.Types.ToDictionary(t => t, _ => new RougeScore(0, 0, 0));
        return _options.Types.ToDictionary(
            type => type,
            type => new RougeScore(
                lines.Average(l => l[type].Precision),
                lines.Average(l => l[type].Recall),
                lines.Average(l => l[type].FMeasure)
            )
        );
    }

    public List<IReadOnlyDictionary<string, RougeScore>> PerLine(
        IReadOnlyList<string> predictions,
        IReadOnlyList<IReadOnlyList<string>> references
    )
    {
        TextMetricInputs.Check(predictions, references);
        return predictions.Select((p, i) => Score(references.Select(r => r[i]).ToList(), p)).ToList();
    }

    List<string>[] Sentences(string text) => text.Split('\n').Where(s => s.Length > 0).Select(Tokenize).ToArray();

    public List<string> Tokenize(string text) =>
        _options.Tokenizer == RougeTokenizer.Default
            ? TokenizeDefault(text, _options.UseStemmer)
            : TokenizeUnicode(text, _options.UseStemmer);

    static bool IsAsciiAlphanumeric(char c) => c is >= 'a' and <= 'z' or >= '0' and <= '9';

    static string MaybeStem(string token, bool stem) =>
        stem && token.Length > 3 && token.All(IsAsciiAlphanumeric) ? PorterStemmer.Stem(token) : token;

    static List<string> TokenizeDefault(string text, bool stem)
    {
        var tokens = new List<string>();
        var sb = new StringBuilder();
        foreach (char c in PythonText.Lower(text) + " ")
        {
            if (IsAsciiAlphanumeric(c))
                sb.Append(c);
            else if (sb.Length > 0)
            {
                tokens.Add(MaybeStem(sb.ToString(), stem));
                sb.Clear();
            }
        }
        return tokens;
    }

    static bool IsCjk(Rune r) =>
        r.Value
            is >= 0x3400
                and <= 0x4DBF // CJK extension A
                or >= 0x4E00
                and <= 0x9FFF // CJK unified ideographs
                or >= 0xF900
                and <= 0xFAFF // compatibility ideographs
                or >= 0x3040
                and <= 0x30FF // hiragana, katakana
                or >= 0x31F0
                and <= 0x31FF
                or >= 0xAC00
                and <= 0xD7AF // Hangul syllables
                or >= 0x20000
                and <= 0x3FFFF; // ideographic planes

    static List<string> TokenizeUnicode(string text, bool stem)
    {
        var tokens = new List<string>();
        var sb = new StringBuilder();
        void Flush()
        {
            if (sb.Length > 0)
                tokens.Add(MaybeStem(sb.ToString(), stem));
            sb.Clear();
        }
        foreach (var r in PythonText.Lower(text).EnumerateRunes())
        {
            if (IsCjk(r))
            {
                Flush();
                tokens.Add(r.ToString());
                continue;
            }
            var category = Rune.GetUnicodeCategory(r);
            bool wordCharacter =
                Rune.IsLetterOrDigit(r)
                || category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.LetterNumber;
            if (wordCharacter)
                sb.Append(r.ToString());
            else
                Flush();
        }
        Flush();
        return tokens;
    }

    static RougeScore FromCounts(double hits, int predictionCount, int targetCount)
    {
        double precision = hits / Math.Max(predictionCount, 1);
        double recall = hits / Math.Max(targetCount, 1);
        return new RougeScore(precision, recall, F1(precision, recall));
    }

    static double F1(double precision, double recall) => precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;

    static RougeScore Ngrams(List<string> target, List<string> prediction, int n)
    {
        var targetCounts = CountNgrams(target, n);
        var predictionCounts = CountNgrams(prediction, n);
        int overlap = 0;
        foreach (var (ngram, count) in targetCounts)
            overlap += Math.Min(count, predictionCounts.GetValueOrDefault(ngram));
        return FromCounts(overlap, predictionCounts.Values.Sum(), targetCounts.Values.Sum());
    }

    static Dictionary<string, int> CountNgrams(List<string> tokens, int n)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i + n <= tokens.Count; i++)
        {
            string key = string.Join(' ', tokens.Skip(i).Take(n));
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        return counts;
    }

    static RougeScore Lcs(List<string> target, List<string> prediction)
    {
        if (target.Count == 0 || prediction.Count == 0)
            return new RougeScore(0, 0, 0);
        int length = LcsTable(target, prediction)[target.Count, prediction.Count];
        double precision = (double)length / prediction.Count;
        double recall = (double)length / target.Count;
        return new RougeScore(precision, recall, F1(precision, recall));
    }

    static int[,] LcsTable(List<string> reference, List<string> candidate)
    {
        var table = new int[reference.Count + 1, candidate.Count + 1];
        for (int i = 1; i <= reference.Count; i++)
        for (int j = 1; j <= candidate.Count; j++)
            table[i, j] = reference[i - 1] == candidate[j - 1] ? table[i - 1, j - 1] + 1 : Math.Max(table[i - 1, j], table[i, j - 1]);
        return table;
    }

    /// <summary>The positions in the reference of one LCS, read back from the table as rouge-score does (it decides which LCS).</summary>
    static IEnumerable<int> LcsPositions(List<string> reference, List<string> candidate)
    {
        var table = LcsTable(reference, candidate);
        var positions = new List<int>();
        int i = reference.Count,
            j = candidate.Count;
        while (i > 0 && j > 0)
        {
            if (reference[i - 1] == candidate[j - 1])
            {
                positions.Add(i - 1);
                i--;
                j--;
            }
            else if (table[i, j - 1] > table[i - 1, j])
                j--;
            else
                i--;
        }
        return positions;
    }

    static RougeScore SummaryLevelLcs(List<string>[] referenceSentences, List<string>[] candidateSentences)
    {
        if (referenceSentences.Length == 0 || candidateSentences.Length == 0)
            return new RougeScore(0, 0, 0);
        int m = referenceSentences.Sum(s => s.Count),
            n = candidateSentences.Sum(s => s.Count);
        if (m == 0 || n == 0)
            return new RougeScore(0, 0, 0);
        var referenceCounts = TokenCounts(referenceSentences);
        var candidateCounts = TokenCounts(candidateSentences);
        int hits = 0;
        foreach (var reference in referenceSentences)
        {
            var union = new SortedSet<int>(candidateSentences.SelectMany(c => LcsPositions(reference, c)));
            foreach (int position in union)
            {
                string token = reference[position];
                if (candidateCounts.GetValueOrDefault(token) > 0 && referenceCounts.GetValueOrDefault(token) > 0)
                {
                    hits++;
                    candidateCounts[token]--;
                    referenceCounts[token]--;
                }
            }
        }
        double recall = (double)hits / m;
        double precision = (double)hits / n;
        return new RougeScore(precision, recall, F1(precision, recall));
    }

    static Dictionary<string, int> TokenCounts(IEnumerable<List<string>> sentences)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var sentence in sentences)
        foreach (string token in sentence)
            counts[token] = counts.GetValueOrDefault(token) + 1;
        return counts;
    }
}
