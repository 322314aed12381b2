using System.Globalization;
using System.Numerics.Tensors;
using System.Text;

namespace SharpLM.Embeddings;

/// <summary>
/// Word vectors in the word2vec text format that word2vec, GloVe (with its header line) and gensim read and write: a
/// first line "count dimensions", then one line per word, "word v1 v2 …". Lookups by word; nearest neighbours and
/// a:b::c:? analogies by cosine similarity over unit-length copies.
/// </summary>
public sealed class WordVectors
{
    public IReadOnlyList<string> Words { get; }
    public int Dimensions { get; }

    // Row-major [words, dimensions] as written, and a unit-length copy for cosine similarity.
    readonly float[] _vectors,
        _unit;
    readonly Dictionary<string, int> _index;

    public WordVectors(IReadOnlyList<string> words, float[] vectors, int dimensions)
    {
        if (vectors.Length != (long)words.Count * dimensions)
            throw new ArgumentException("One row of dimensions per word.", nameof(vectors));
        (Words, _vectors, Dimensions) = (words, vectors, dimensions);
        _index = new Dictionary<string, int>(words.Count, StringComparer.Ordinal);
        for (int i = 0; i < words.Count; i++)
            if (!_index.TryAdd(words[i], i))
                throw new SharpLMException($"The word vectors list '{words[i]}' twice.");
        _unit = (float[])vectors.Clone();
        for (int i = 0; i < words.Count; i++)
        {
            var row = _unit.AsSpan(i * dimensions, dimensions);
            float norm = TensorPrimitives.Norm(row);
            if (norm > 0)
                TensorPrimitives.Divide(row, norm, row);
        }
    }

    public bool Contains(string word) => _index.ContainsKey(word);

    /// <summary>A vectors file, or the vectors.txt of a folder that 'embeddings train' wrote.</summary>
    public static string FilePath(string path) => Directory.Exists(path) ? Path.Combine(path, "vectors.txt") : path;

    /// <summary>A copy of the word's vector, or null for a word without one.</summary>
    public float[]? VectorOf(string word) => _index.ContainsKey(word) ? this[word].ToArray() : null;

    public ReadOnlySpan<float> this[string word] =>
        _index.TryGetValue(word, out int i)
            ? _vectors.AsSpan(i * Dimensions, Dimensions)
            : throw new SharpLMException($"'{word}' is not in the vocabulary of {Words.Count:N0} words.");

    /// <summary>The <paramref name="top"/> words nearest to <paramref name="word"/> by cosine (the word itself excluded).</summary>
    public IReadOnlyList<(string Word, double Cosine)> Neighbours(string word, int top = 10) => Nearest(Unit(word).ToArray(), top, [word]);

    /// <summary>a : b :: c : ? — the words nearest to b − a + c (unit vectors; a, b and c excluded), as word2vec's analogy does.</summary>
    public IReadOnlyList<(string Word, double Cosine)> Analogy(string a, string b, string c, int top = 1)
    {
        var query = new float[Dimensions];
        TensorPrimitives.Subtract(Unit(b), Unit(a), query);
        TensorPrimitives.Add(query, Unit(c), query);
        return Nearest(query, top, [a, b, c]);
    }

    /// <summary>
    /// Accuracy on an analogy file in word2vec's questions-words.txt format ("a b c d" per line, ": section" lines
    /// between sections, compared lower-cased): a question counts when d is the nearest word to b − a + c; questions with a
    /// word outside the vocabulary are skipped, as word2vec's compute-accuracy skips them.
    /// </summary>
    public (int Correct, int Answered, int Skipped) AnalogyAccuracy(string path)
    {
        if (!File.Exists(path))
            throw new SharpLMException($"Analogy file {path} does not exist.");
        int correct = 0,
            answered = 0,
            skipped = 0,
            lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            var words = line.ToLowerInvariant().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (words.Length == 0 || words[0].StartsWith(':'))
                continue;
            if (words.Length != 4)
                throw new SharpLMException($"{path} line {lineNo} has {words.Length} words; an analogy line is 'a b c d'.");
            if (!words.All(Contains))
            {
                skipped++;
                continue;
            }
            answered++;
            if (Analogy(words[0], words[1], words[2], 1)[0].Word == words[3])
                correct++;
        }
        return (correct, answered, skipped);
    }

    ReadOnlySpan<float> Unit(string word) =>
        _index.TryGetValue(word, out int i)
            ? _unit.AsSpan(i * Dimensions, Dimensions)
            : throw new SharpLMException($"'{word}' is not in the vocabulary of {Words.Count:N0} words.");

    IReadOnlyList<(string Word, double Cosine)> Nearest(float[] query, int top, string[] exclude)
    {
        float norm = TensorPrimitives.Norm(query);
        if (norm > 0)
            TensorPrimitives.Divide(query, norm, query);
        var scores = new List<(string, double)>(Words.Count);
        for (int i = 0; i < Words.Count; i++)
            if (!exclude.Contains(Words[i]))
                scores.Add((Words[i], TensorPrimitives.Dot(query, _unit.AsSpan(i * Dimensions, Dimensions))));
        return scores.OrderByDescending(s => s.Item2).Take(top).ToList();
    }

    /// <summary>
    /// A word-level tokenizer over these words: BERT's normalisation (lower case) and pre-tokenization (punctuation
    /// apart), the BERT special tokens first, then each word once in file order; any other word is [UNK]. The
    /// embedding-layer classifiers use it so that token i's embedding can start as word i's vector.
    /// </summary>
    public Tokenization.WordPieceTokenizer WordLevelTokenizer()
    {
        var specials = Tokenization.WordPieceTokenizer.BertSpecialTokens;
        return new([.. specials, .. Words.Where(w => !specials.Contains(w)).Distinct(StringComparer.Ordinal)]);
    }

    /// <summary>
    /// Writes the word2vec text format (a "words dimensions" header, then a word and its numbers per line), or with
    /// <paramref name="header"/> false GloVe's (the same rows without the header); floats in round-trip form, so a reload
    /// gives the same vectors.
    /// </summary>
    public void Save(string path, bool header = true) =>
        IO.AtomicFile.Write(
            path,
            stream =>
            {
                using var w = new StreamWriter(stream, new UTF8Encoding(false), leaveOpen: true);
                if (header)
                    w.Write($"{Words.Count} {Dimensions}\n");
                var sb = new StringBuilder();
                for (int i = 0; i < Words.Count; i++)
                {
                    sb.Clear().Append(Words[i]);
                    for (int d = 0; d < Dimensions; d++)
                        sb.Append(' ').Append(_vectors[i * Dimensions + d].ToString("R", CultureInfo.InvariantCulture));
                    w.Write(sb.Append('\n'));
                }
            }
        );

    /// <summary>
    /// Reads the word2vec text format, or GloVe's (the same rows without the header line). Every row must have as many
    /// numbers as the first; a row that does not is a one-line error naming its line.
    /// </summary>
    public static WordVectors Load(string path)
    {
        if (!File.Exists(path))
            throw new SharpLMException($"Word vectors file {path} does not exist.");
        var words = new List<string>();
        var values = new List<float>();
        int dimensions = -1,
            lineNo = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNo++;
            var fields = raw.TrimEnd().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0)
                continue;
            if (lineNo == 1 && fields.Length == 2 && int.TryParse(fields[0], out _) && int.TryParse(fields[1], out int header))
            {
                dimensions = header;
                continue;
            }
            if (dimensions < 0)
                dimensions = fields.Length - 1;
            if (fields.Length - 1 != dimensions)
                throw new SharpLMException(
                    $"{path} line {lineNo} has {fields.Length - 1} numbers but the vectors have {dimensions} dimensions; every row of a "
                        + "vectors file has the same length."
                );
            words.Add(fields[0]);
            for (int d = 1; d < fields.Length; d++)
                values.Add(
                    float.TryParse(fields[d], NumberStyles.Float, CultureInfo.InvariantCulture, out float v)
                        ? v
                        : throw new SharpLMException($"{path} line {lineNo}: '{fields[d]}' is not a number.")
                );
        }
        if (words.Count == 0 || dimensions < 1)
            throw new SharpLMException($"{path} holds no word vectors.");
        return new WordVectors(words, [.. values], dimensions);
    }
}
