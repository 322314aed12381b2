using System.Text.Json;
using Microsoft.VisualBasic.FileIO;
using MimeKit;

namespace SharpLM.Data;

public sealed record LabelledExample(string Text, string Label);

/// <summary>
/// Texts with class labels, for classification. Labels are kept in sorted (ordinal) order so that class indices are
/// stable across runs; <see cref="LabelIndex"/> maps each example to its class.
/// </summary>
public sealed class LabelledDataset
{
    public IReadOnlyList<LabelledExample> Examples { get; }
    public IReadOnlyList<string> Labels { get; }
    public int[] LabelIndex { get; }

    public LabelledDataset(IReadOnlyList<LabelledExample> examples, string source)
    {
        if (examples.Count == 0)
            throw new SharpLMException($"{source} holds no labelled examples.");
        Examples = examples;
        Labels = examples.Select(e => e.Label).Distinct().Order(StringComparer.Ordinal).ToArray();
        if (Labels.Count < 2)
            throw new SharpLMException($"{source} has a single label ('{Labels[0]}'); classification needs at least two classes.");
        var index = Labels.Select((l, i) => (l, i)).ToDictionary(x => x.l, x => x.i, StringComparer.Ordinal);
        LabelIndex = examples.Select(e => index[e.Label]).ToArray();
    }

    public LabelledDataset Subset(IEnumerable<int> indices, string source) => new(indices.Select(i => Examples[i]).ToArray(), source);

    /// <summary>
    /// Reads labelled data from: a CSV/TSV file (<paramref name="textColumn"/>, <paramref name="labelColumn"/> by header
    /// name), a JSONL file (the same names as fields), a folder with one sub-folder per label (one example per file), or
    /// the spam-assassin catalogue folder (raw e-mails; ham vs spam).
    /// </summary>
    public static LabelledDataset Load(string path, string textColumn = "text", string labelColumn = "label")
    {
        if (Directory.Exists(path))
            return File.Exists(Path.Combine(path, "data", "file_list.json")) && Directory.Exists(Path.Combine(path, "data", "spam-1"))
                ? SpamAssassin(path)
                : FromFolders(path);
        if (!File.Exists(path))
            throw new SharpLMException($"{path} does not exist; give a CSV, TSV or JSONL file, or a folder with one sub-folder per label.");
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".csv" => FromDelimited(path, ',', textColumn, labelColumn),
            ".tsv" or ".tab" => FromDelimited(path, '\t', textColumn, labelColumn),
            ".jsonl" or ".ndjson" => FromJsonl(path, textColumn, labelColumn),
            var ext => throw new SharpLMException(
                $"{path}: unknown labelled-data format '{ext}'; use .csv, .tsv, .jsonl, or a folder with one sub-folder per label."
            ),
        };
    }

    static LabelledDataset FromDelimited(string path, char delimiter, string textColumn, string labelColumn)
    {
        using var parser = new TextFieldParser(path)
        {
            TextFieldType = FieldType.Delimited,
            HasFieldsEnclosedInQuotes = true,
            TrimWhiteSpace = false,
        };
        parser.SetDelimiters(delimiter.ToString());
        string[] header;
        try
        {
            header =
                parser.ReadFields()
                ?? throw new SharpLMException(
                    $"{path} is empty; it needs a header row naming the '{textColumn}' and '{labelColumn}' columns."
                );
        }
        catch (MalformedLineException e)
        {
            throw new SharpLMException(
                $"{path} line {e.LineNumber}: the header row is malformed {(delimiter == ',' ? "CSV" : "TSV")} (unbalanced quotes?)."
            );
        }
        int Column(string name, string option)
        {
            int i = Array.FindIndex(header, h => string.Equals(h.Trim(), name, StringComparison.OrdinalIgnoreCase));
            return i >= 0
                ? i
                : throw new SharpLMException($"{path} has no column '{name}' ({option}); its columns are: {string.Join(", ", header)}.");
        }
        int text = Column(textColumn, "text_column"),
            label = Column(labelColumn, "label_column");
        var examples = new List<LabelledExample>();
        try
        {
            while (!parser.EndOfData)
            {
                long line = parser.LineNumber;
                var fields = parser.ReadFields();
                if (fields is null || fields.All(string.IsNullOrWhiteSpace))
                    continue;
                if (fields.Length <= Math.Max(text, label))
                    throw new SharpLMException(
                        $"{path} line {line}: {fields.Length} fields, but column '{(text > label ? textColumn : labelColumn)}' is "
                            + $"number {Math.Max(text, label) + 1}."
                    );
                examples.Add(Example(fields[text], fields[label], $"{path} line {line}"));
            }
        }
        catch (MalformedLineException e)
        {
            throw new SharpLMException($"{path} line {e.LineNumber}: malformed {(delimiter == ',' ? "CSV" : "TSV")} (unbalanced quotes?).");
        }
        return new LabelledDataset(examples, path);
    }

    static LabelledDataset FromJsonl(string path, string textField, string labelField)
    {
        var examples = new List<LabelledExample>();
        int line = 0;
        foreach (var raw in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(raw))
                continue;
            try
            {
                using var doc = JsonDocument.Parse(raw);
                string Field(string name) =>
                    doc.RootElement.TryGetProperty(name, out var v)
                        ? v.ValueKind == JsonValueKind.String
                            ? v.GetString()!
                            : v.GetRawText()
                        : throw new SharpLMException(
                            $"{path} line {line} has no field '{name}'; it has: "
                                + $"{string.Join(", ", doc.RootElement.EnumerateObject().Select(p => p.Name))}."
                        );
                examples.Add(Example(Field(textField), Field(labelField), $"{path} line {line}"));
            }
            catch (JsonException)
            {
                throw new SharpLMException($"{path} line {line} is not a JSON object.");
            }
            catch (InvalidOperationException)
            {
                throw new SharpLMException($"{path} line {line} is not a JSON object.");
            }
        }
        return new LabelledDataset(examples, path);
    }

    static LabelledDataset FromFolders(string dir)
    {
        var folders = Directory.GetDirectories(dir).Order(StringComparer.Ordinal).ToArray();
        if (folders.Length == 0)
            throw new SharpLMException($"{dir} has no sub-folders; put each label's texts in a sub-folder named after the label.");
        var examples = new List<LabelledExample>();
        foreach (var folder in folders)
        {
            var files = Directory.GetFiles(folder).Order(StringComparer.Ordinal).ToArray();
            if (files.Length == 0)
                throw new SharpLMException($"Label folder {folder} is empty; every class needs at least one example.");
            string label = Path.GetFileName(folder);
            examples.AddRange(files.Select(f => new LabelledExample(File.ReadAllText(f), label)));
        }
        return new LabelledDataset(examples, dir);
    }

    /// <summary>
    /// The spam-assassin corpus: each raw e-mail becomes "subject\n\nbody" (plain part preferred, else the HTML part as text).
    /// </summary>
    public static LabelledDataset SpamAssassin(string entryDir)
    {
        var list = Path.Combine(entryDir, "data", "file_list.json");
        var files = JsonSerializer.Deserialize<string[]>(File.ReadAllText(list)) ?? [];
        var examples = new List<LabelledExample>(files.Length);
        foreach (var rel in files)
        {
            string group = rel.Split('/')[0];
            string label = group.StartsWith("spam", StringComparison.Ordinal) ? "spam" : "ham";
            examples.Add(new LabelledExample(Email.ToText(Path.Combine(entryDir, "data", rel)), label));
        }
        return new LabelledDataset(examples, entryDir);
    }

    static LabelledExample Example(string text, string label, string where)
    {
        label = label.Trim();
        if (label.Length == 0)
            throw new SharpLMException($"{where}: the label is empty.");
        return new LabelledExample(text, label);
    }
}

/// <summary>Raw e-mail → text a classifier can read, with MimeKit doing the MIME, encodings and charsets.</summary>
public static class Email
{
    static readonly TextCleaner HtmlToText = new(new CleaningOptions { StripHtml = true });

    public static string ToText(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            // The corpus files start with an mbox "From " line; MimeKit's parser expects headers, so skip it.
            var parser = new MimeParser(stream, MimeFormat.Entity);
            var message = parser.ParseMessage();
            string body = message.TextBody ?? (message.HtmlBody is string html ? HtmlToText.Clean(html) : "");
            return $"{message.Subject}\n\n{body}".Trim();
        }
        catch (FormatException)
        {
            return File.ReadAllText(path); // not MIME at all: keep the raw text rather than lose the example
        }
    }
}
