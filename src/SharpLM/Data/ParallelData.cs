using System.Text.Json;
using Microsoft.VisualBasic.FileIO;

namespace SharpLM.Data;

/// <summary>A source text and its target (a translation, a pronunciation…).</summary>
public sealed record TextPair(string Source, string Target);

/// <summary>
/// Pairs for sequence-to-sequence training: a TSV/CSV file with a header naming the source and target columns, or JSONL
/// with those fields. Every row needs both, non-empty; anything else is a one-line error naming the line.
/// </summary>
public static class ParallelData
{
    public static List<TextPair> Load(string path, string sourceColumn = "source", string targetColumn = "target")
    {
        if (Directory.Exists(path))
            throw new SharpLMException($"{path} is a folder; give a TSV, CSV or JSONL file of '{sourceColumn}'/'{targetColumn}' pairs.");
        if (!File.Exists(path))
            throw new SharpLMException($"{path} does not exist; give a TSV, CSV or JSONL file of '{sourceColumn}'/'{targetColumn}' pairs.");
        var pairs = Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".tsv" or ".tab" => Delimited(path, '\t', sourceColumn, targetColumn),
            ".csv" => Delimited(path, ',', sourceColumn, targetColumn),
            ".jsonl" or ".ndjson" => Jsonl(path, sourceColumn, targetColumn),
            var ext => throw new SharpLMException($"{path}: unknown pair-file format '{ext}'; use .tsv, .csv or .jsonl."),
        };
        if (pairs.Count == 0)
            throw new SharpLMException($"{path} has no pairs; it needs one '{sourceColumn}'/'{targetColumn}' pair per line.");
        return pairs;
    }

    static TextPair Pair(string? source, string? target, string where, string sourceColumn, string targetColumn)
    {
        if (string.IsNullOrWhiteSpace(source))
            throw new SharpLMException($"{where}: '{sourceColumn}' is empty; every pair needs a source and a target.");
        if (string.IsNullOrWhiteSpace(target))
            throw new SharpLMException($"{where}: '{targetColumn}' is empty; every pair needs a source and a target.");
        return new TextPair(source.Trim(), target.Trim());
    }

    static List<TextPair> Delimited(string path, char delimiter, string sourceColumn, string targetColumn)
    {
        using var parser = new TextFieldParser(path)
        {
            TextFieldType = FieldType.Delimited,
            HasFieldsEnclosedInQuotes = delimiter == ',',
            TrimWhiteSpace = false,
        };
        parser.SetDelimiters(delimiter.ToString());
        try
        {
            var header =
                parser.ReadFields()
                ?? throw new SharpLMException($"{path} is empty; it needs a header row naming '{sourceColumn}' and '{targetColumn}'.");
            int Column(string name, string option)
            {
                int i = Array.FindIndex(header, h => string.Equals(h.Trim(), name, StringComparison.OrdinalIgnoreCase));
                return i >= 0
                    ? i
                    : throw new SharpLMException(
                        $"{path} has no column '{name}' ({option}); its columns are: {string.Join(", ", header)}."
                    );
            }
            int s = Column(sourceColumn, "source_column"),
                t = Column(targetColumn, "target_column");
            var pairs = new List<TextPair>();
            while (!parser.EndOfData)
            {
                long line = parser.LineNumber;
                var fields = parser.ReadFields();
                if (fields is null || fields.All(string.IsNullOrWhiteSpace))
                    continue;
                if (fields.Length <= Math.Max(s, t))
                    throw new SharpLMException(
                        $"{path} line {line}: {fields.Length} field(s), but '{(s > t ? sourceColumn : targetColumn)}' is column "
                            + $"{Math.Max(s, t) + 1}; every row needs both columns."
                    );
                pairs.Add(Pair(fields[s], fields[t], $"{path} line {line}", sourceColumn, targetColumn));
            }
            return pairs;
        }
        catch (MalformedLineException e)
        {
            throw new SharpLMException($"{path} line {e.LineNumber}: malformed {(delimiter == ',' ? "CSV" : "TSV")} (unbalanced quotes?).");
        }
    }

    static List<TextPair> Jsonl(string path, string sourceColumn, string targetColumn)
    {
        var pairs = new List<TextPair>();
        int line = 0;
        foreach (var raw in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(raw))
                continue;
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(raw);
            }
            catch (JsonException)
            {
                throw new SharpLMException($"{path} line {line} is not valid JSON.");
            }
            using (doc)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new SharpLMException($"{path} line {line} is not a JSON object.");
                string? Field(string name) =>
                    doc.RootElement.TryGetProperty(name, out var v)
                        ? v.ValueKind == JsonValueKind.String
                            ? v.GetString()
                            : v.GetRawText()
                        : throw new SharpLMException(
                            $"{path} line {line} has no field '{name}'; it has: "
                                + $"{string.Join(", ", doc.RootElement.EnumerateObject().Select(p => p.Name))}."
                        );
                pairs.Add(Pair(Field(sourceColumn), Field(targetColumn), $"{path} line {line}", sourceColumn, targetColumn));
            }
        }
        return pairs;
    }
}

/// <summary>
/// pairs_split.json of a sequence-to-sequence run: the pair file, its columns, the seed and the indices of the train /
/// validation / test parts, so evaluation repeats on exactly the same pairs.
/// </summary>
public sealed record ParallelSplit(string Data, string SourceColumn, string TargetColumn, int Seed, int[] Train, int[] Val, int[] Test)
{
    public const string FileName = "pairs_split.json";

    /// <summary>Seeded shuffle of the pair indices, then the test part, the validation part and the rest for training.</summary>
    public static (int[] Train, int[] Val, int[] Test) Make(int count, double valFraction, double testFraction, int seed)
    {
        if (!(valFraction > 0 && testFraction >= 0 && valFraction + testFraction < 1))
            throw new SharpLMException(
                $"val_fraction must be positive, test_fraction non-negative, and together below 1 (got {valFraction} and {testFraction})."
            );
        var order = Enumerable.Range(0, count).ToArray();
        var rng = new SplitMix64(SplitMix64.Mix((ulong)seed, 0x5B117, 0));
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = (int)(rng.Next() % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
        int test = (int)Math.Round(count * testFraction),
            val = Math.Max(1, (int)Math.Round(count * valFraction));
        return (order[(test + val)..].Order().ToArray(), order[test..(test + val)].Order().ToArray(), order[..test].Order().ToArray());
    }

    public void Save(string runDir) =>
        IO.AtomicFile.WriteAllText(Path.Combine(runDir, FileName), JsonSerializer.Serialize(this, IO.Json.Compact));

    /// <summary>The pairs of one part ("train", "val" or "test") recorded in <paramref name="runDir"/>.</summary>
    public static (List<TextPair> Pairs, string Source) Part(string runDir, string part)
    {
        string path = Path.Combine(runDir, FileName);
        if (!File.Exists(path))
            throw new SharpLMException($"{runDir} has no {FileName} (it was not written by finetune --task seq2seq); give pairs to score.");
        ParallelSplit? split;
        try
        {
            split = JsonSerializer.Deserialize<ParallelSplit>(File.ReadAllText(path), IO.Json.Compact);
        }
        catch (JsonException e)
        {
            throw new SharpLMException($"{path} is not a valid split record ({e.Message.Split('.')[0]}); give pairs to score instead.");
        }
        if (split is null)
            throw new SharpLMException($"{path} is empty; give pairs to score instead.");
        if (!File.Exists(split.Data))
            throw new SharpLMException($"{split.Data}, the pairs {runDir} was trained on, is gone; give pairs to score instead.");
        var pairs = ParallelData.Load(split.Data, split.SourceColumn, split.TargetColumn);
        int[] indices = part switch
        {
            "train" => split.Train,
            "val" => split.Val,
            "test" => split.Test,
            _ => throw new SharpLMException($"split '{part}' is not one of train, val, test."),
        };
        if (indices.Any(i => i < 0 || i >= pairs.Count))
            throw new SharpLMException($"{path} does not match {split.Data} any more (an index is out of range); give pairs to score.");
        return (indices.Select(i => pairs[i]).ToList(), $"the {part} split of {split.Data}");
    }
}
