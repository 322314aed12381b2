namespace SharpLM.Data;

/// <summary>
/// Sentence boundaries of plain prose: a sentence ends at . ! or ? before a space, except after an initial ("John F.
/// Kennedy") or a title (Mr. Mrs. Ms. Dr. St.).
/// </summary>
public static class Sentences
{
    /// <summary>
    /// A paragraph cut into consecutive runs of whole sentences (sentence ends as above), each at most
    /// <paramref name="maxChars"/> long unless one sentence alone is longer; a short paragraph is one run.
    /// </summary>
    public static IEnumerable<string> Runs(string paragraph, int maxChars)
    {
        if (maxChars < 1)
            throw new SharpLMException($"max_chars must be at least 1 (got {maxChars}).");
        int runStart = 0,
            lastEnd = -1;
        for (int i = 0; i <= paragraph.Length; i++)
        {
            bool sentenceEnd =
                i == paragraph.Length
                || (i > 0 && paragraph[i] == ' ' && paragraph[i - 1] is '.' or '!' or '?' && !IsAbbreviation(paragraph, i - 1));
            if (!sentenceEnd)
                continue;
            // Cut before this sentence when it would make the run too long (a single long sentence stays whole).
            if (i - runStart > maxChars && lastEnd > runStart)
            {
                yield return paragraph[runStart..lastEnd];
                runStart = lastEnd + 1;
            }
            lastEnd = i;
        }
        if (runStart < paragraph.Length)
            yield return paragraph[runStart..];
    }

    static readonly string[] Abbreviations = ["Mr", "Mrs", "Ms", "Dr", "St"];

    /// <summary>Whether the full stop at <paramref name="dot"/> ends an initial or a title rather than a sentence.</summary>
    static bool IsAbbreviation(string text, int dot)
    {
        if (text[dot] != '.')
            return false;
        int start = dot;
        while (start > 0 && char.IsLetter(text[start - 1]))
            start--;
        string word = text[start..dot];
        return (word.Length == 1 && char.IsUpper(word[0])) || Abbreviations.Contains(word);
    }

    /// <summary>Each sentence of a paragraph on its own.</summary>
    public static IEnumerable<string> Split(string paragraph) => Runs(paragraph, 1);
}
