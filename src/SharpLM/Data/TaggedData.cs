using System.Text.Json;

namespace SharpLM.Data;

/// <summary>One sentence of a token-classification corpus: its words and one tag per word (BIO/IOB2 for NER).</summary>
public sealed record TaggedSentence(IReadOnlyList<string> Words, IReadOnlyList<string> Tags);

/// <summary>
/// Token-classification corpora: the CoNLL-2003 format (one token per line, whitespace-separated columns, the word
/// first and the tag last; a blank line between sentences; -DOCSTART- lines skipped) and JSON Lines with "tokens" and
/// "tags" arrays. A row with another number of columns than the file's first token row, or tags and tokens of
/// different lengths, is a one-line error naming the line.
/// </summary>
public static class TaggedData
{
    public static List<TaggedSentence> Load(string path)
    {
        if (!File.Exists(path))
            throw new SharpLMException($"Tagged data file {path} does not exist.");
        return path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            ? ReadJsonLines(path)
            : ReadConll(path);
    }

    public static List<TaggedSentence> ReadConll(string path)
    {
        var sentences = new List<TaggedSentence>();
        var words = new List<string>();
        var tags = new List<string>();
        int columns = 0,
            lineNo = 0;
        void Flush()
        {
            if (words.Count > 0)
                sentences.Add(new TaggedSentence([.. words], [.. tags]));
            words.Clear();
            tags.Clear();
        }
        foreach (var raw in File.ReadLines(path))
        {
            lineNo++;
            string line = raw.TrimEnd('\r');
            var fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0)
            {
                Flush();
                continue;
            }
            if (fields[0] == "-DOCSTART-")
            {
                Flush();
                continue;
            }
            if (fields.Length < 2)
                throw new SharpLMException(
                    $"{path} line {lineNo} has one column; CoNLL rows are 'word ... tag' (the tag in the last column)."
                );
            if (columns == 0)
                columns = fields.Length;
            else if (fields.Length != columns)
                throw new SharpLMException(
                    $"{path} line {lineNo} has {fields.Length} columns but earlier rows have {columns}; every row of a CoNLL file has the "
                        + "same columns."
                );
            words.Add(fields[0]);
            tags.Add(fields[^1]);
        }
        Flush();
        if (sentences.Count == 0)
            throw new SharpLMException($"{path} has no tagged sentences.");
        return sentences;
    }

    public static List<TaggedSentence> ReadJsonLines(string path)
    {
        var sentences = new List<TaggedSentence>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line))
                continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement;
                if (
                    root.ValueKind != JsonValueKind.Object
                    || !root.TryGetProperty("tokens", out var tokens)
                    || !root.TryGetProperty("tags", out var tagArray)
                    || tokens.ValueKind != JsonValueKind.Array
                    || tagArray.ValueKind != JsonValueKind.Array
                )
                    throw new SharpLMException($"{path} line {lineNo} needs \"tokens\" and \"tags\" arrays.");
                var words = tokens.EnumerateArray().Select(t => t.GetString() ?? "").ToList();
                // Tags as names, or as ids (the Hugging Face datasets' ner_tags) written as numbers.
                var tags = tagArray
                    .EnumerateArray()
                    .Select(t =>
                        t.ValueKind == JsonValueKind.Number
                            ? t.GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture)
                            : t.GetString() ?? ""
                    )
                    .ToList();
                if (words.Count != tags.Count)
                    throw new SharpLMException(
                        $"{path} line {lineNo} has {words.Count} tokens but {tags.Count} tags; each token needs one tag."
                    );
                if (words.Count > 0)
                    sentences.Add(new TaggedSentence(words, tags));
            }
            catch (JsonException e)
            {
                throw new SharpLMException($"{path} line {lineNo} is not JSON ({e.Message.Split('.')[0]}).");
            }
            catch (InvalidOperationException)
            {
                throw new SharpLMException($"{path} line {lineNo}: tokens must be strings and tags strings or integers.");
            }
        }
        if (sentences.Count == 0)
            throw new SharpLMException($"{path} has no tagged sentences.");
        return sentences;
    }

    /// <summary>
    /// A sentence as model input with one label per sub-word token: each word is tokenized on its own (after a space,
    /// for byte-level BPE, except the first), its first sub-word carries the word's label and the others
    /// <paramref name="ignore"/> (left out of the loss, as Hugging Face's token-classification recipe does); BERT's
    /// [CLS] and [SEP] are added with <paramref name="ignore"/>. Stops before <paramref name="maxTokens"/> would be
    /// exceeded; words cut off get no label. Returns the ids, the labels, and for each token the word it came from (−1
    /// for specials).
    /// </summary>
    public static (long[] Ids, long[] Labels, int[] Words) AlignToSubwords(
        Tokenization.Tokenizer tokenizer,
        IReadOnlyList<string> words,
        IReadOnlyList<int> labels,
        int maxTokens,
        long ignore = -100
    )
    {
        if (words.Count != labels.Count)
            throw new ArgumentException("One label per word.", nameof(labels));
        int? cls = tokenizer.SpecialTokenId("[CLS]"),
            sep = tokenizer.SpecialTokenId("[SEP]");
        bool bert = cls is not null && sep is not null;
        bool spaceBefore = tokenizer is Tokenization.ByteLevelBpeTokenizer;
        var ids = new List<long>();
        var aligned = new List<long>();
        var from = new List<int>();
        int budget = maxTokens - (bert ? 1 : 0);
        if (bert)
            (ids, aligned, from) = ([cls!.Value], [ignore], [-1]);
        for (int w = 0; w < words.Count; w++)
        {
            var pieces = tokenizer.Encode(spaceBefore && w > 0 ? " " + words[w] : words[w]);
            if (pieces.Length == 0)
                continue; // a word the tokenizer drops entirely (e.g. a control character) gets no token
            if (ids.Count + pieces.Length > budget)
                break;
            for (int k = 0; k < pieces.Length; k++)
            {
                ids.Add(pieces[k]);
                aligned.Add(k == 0 ? labels[w] : ignore);
                from.Add(w);
            }
        }
        if (bert)
        {
            ids.Add(sep!.Value);
            aligned.Add(ignore);
            from.Add(-1);
        }
        return ([.. ids], [.. aligned], [.. from]);
    }
}
