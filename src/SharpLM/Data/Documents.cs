using System.Text;
using System.Text.Json;
using SharpLM.Catalogue;

namespace SharpLM.Data;

/// <summary>One document of a corpus: where it came from and its text.</summary>
public sealed record Document(string Source, string Text);

/// <summary>
/// Turns inputs (files, folders, catalogue names) into documents. Files larger than <see cref="ChunkChars"/> are
/// yielded as consecutive chunks cut after a newline that is followed by a non-space character, a boundary at which
/// GPT-2-style pre-tokenizers always split, so chunking never changes the tokens and huge files stream.
/// </summary>
public sealed class DocumentSource(DataCatalogClient catalog)
{
    public int ChunkChars { get; init; } = 4 << 20;

    /// <summary>Resolves inputs to (path, layout) pairs, downloading catalogue entries as needed.</summary>
    public async Task<List<(string Path, DocumentLayout Layout)>> ResolveAsync(
        IEnumerable<string> inputs,
        IProgress<DownloadProgress>? progress = null
    )
    {
        var files = new List<(string, DocumentLayout)>();
        foreach (string input in inputs)
        {
            if (File.Exists(input))
                files.Add((Path.GetFullPath(input), LayoutOf(input)));
            else if (Directory.Exists(input))
            {
                var inFolder = Directory
                    .EnumerateFiles(input, "*", SearchOption.AllDirectories)
                    .Where(f => !Path.GetFileName(f).StartsWith('.'))
                    .Order(StringComparer.Ordinal)
                    .ToList();
                if (inFolder.Count == 0)
                    throw new SharpLMException($"Folder {input} holds no files; give a folder of text files.");
                files.AddRange(inFolder.Select(f => (Path.GetFullPath(f), LayoutOf(f))));
            }
            else if (Catalog.Find(input) is { } entry)
            {
                if (entry.Layout == DocumentLayout.Assets)
                    throw new SharpLMException(
                        $"Data set '{entry.Name}' holds tokenizer or parallel-corpus assets, not a text corpus; pick a corpus such as "
                            + "moby-dick."
                    );
                string dir = await catalog.GetAsync(entry, progress: progress);
                files.AddRange(DataCatalogClient.CorpusFiles(entry, dir).Select(f => (f, entry.Layout)));
            }
            else if (input.Contains('/') || input.Contains('\\') || input.Contains('.'))
                throw new SharpLMException(
                    $"Input {input} does not exist; give an existing file or folder, or a data set name from 'sharplm data list'."
                );
            else
                throw new SharpLMException(
                    $"'{input}' is neither a file nor a folder nor a known data set; 'sharplm data list' shows the names."
                );
        }
        return files;
    }

    /// <summary>Streams the documents of the resolved files in a fixed order.</summary>
    public IEnumerable<Document> Read(IEnumerable<(string Path, DocumentLayout Layout)> files)
    {
        foreach (var (path, layout) in files)
        {
            switch (layout)
            {
                case DocumentLayout.PoemJson:
                    foreach (var d in ReadPoems(path))
                        yield return d;
                    break;
                case DocumentLayout.Emails:
                    // The package keeps a .json copy of every .txt e-mail; read each e-mail once.
                    if (path.EndsWith(".txt", StringComparison.OrdinalIgnoreCase))
                        yield return new Document(path, Email.ToText(path));
                    break;
                case DocumentLayout.Jsonl:
                    foreach (var d in ReadJsonLines(path))
                        yield return d;
                    break;
                default:
                    foreach (var chunk in ReadChunks(path))
                        yield return new Document(path, chunk);
                    break;
            }
        }
    }

    static DocumentLayout LayoutOf(string path) =>
        Path.GetExtension(path).ToLowerInvariant() is ".jsonl" or ".ndjson" ? DocumentLayout.Jsonl : DocumentLayout.TextFiles;

    static IEnumerable<Document> ReadJsonLines(string path)
    {
        int line = 0;
        foreach (var raw in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(raw))
                continue;
            string? text;
            try
            {
                using var doc = System.Text.Json.JsonDocument.Parse(raw);
                text =
                    doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object && doc.RootElement.TryGetProperty("text", out var t)
                        ? t.GetString()
                        : null;
            }
            catch (System.Text.Json.JsonException)
            {
                text = null;
            }
            yield return new Document(
                $"{path}:{line}",
                text ?? throw new SharpLMException($"{path} line {line} is not a JSON object with a \"text\" string.")
            );
        }
    }

    IEnumerable<string> ReadChunks(string path)
    {
        using var reader = new StreamReader(
            path,
            new UTF8Encoding(false, false),
            detectEncodingFromByteOrderMarks: true,
            bufferSize: 1 << 16
        );
        var buffer = new char[ChunkChars];
        var carry = new StringBuilder();
        int read;
        while ((read = reader.ReadBlock(buffer, 0, buffer.Length)) > 0)
        {
            carry.Append(buffer, 0, read);
            if (read < buffer.Length)
                break;
            string text = carry.ToString();
            int cut = LastSafeCut(text);
            if (cut <= 0)
                continue; // no boundary yet: keep accumulating
            yield return text[..cut];
            carry.Clear().Append(text, cut, text.Length - cut);
        }
        if (carry.Length > 0)
            yield return carry.ToString();
    }

    /// <summary>Position after the last "\n" that is followed by a non-whitespace character.</summary>
    internal static int LastSafeCut(string text)
    {
        for (int i = text.Length - 2; i >= 0; i--)
            if (text[i] == '\n' && !char.IsWhiteSpace(text[i + 1]) && !char.IsLowSurrogate(text[i + 1]))
                return i + 1;
        return -1;
    }

    static IEnumerable<Document> ReadPoems(string path)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException)
        {
            throw new SharpLMException($"{path} is not valid JSON; download the data set again (sharplm data get NAME --force).");
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
                yield break;
            int i = 0;
            foreach (var poem in doc.RootElement.EnumerateArray())
            {
                var sb = new StringBuilder();
                if (poem.TryGetProperty("rhythmic", out var r) || poem.TryGetProperty("title", out r))
                    sb.Append(r.GetString()).Append('\n');
                if (poem.TryGetProperty("paragraphs", out var ps))
                    foreach (var p in ps.EnumerateArray())
                        sb.Append(p.GetString()).Append('\n');
                yield return new Document($"{path}#{i++}", sb.ToString());
            }
        }
    }
}
