using System.Text.Json;
using SharpLM.Catalogue;
using SharpLM.IO;

namespace SharpLM.Data;

/// <summary>
/// Resolves pair data given by path or by name: "quran-parallel:zh-en" / "quran-parallel:en-zh" (the 6,236 verses of
/// quran-json in Chinese and English, in verse order, each pair with its "chapter:verse" id) and "cmudict" (each word of
/// the CMU Pronouncing Dictionary, lower-cased, with its first pronunciation's ARPAbet phonemes). A named set is written
/// once as a JSONL pair file next to its catalogue download, and that file is what runs record.
/// </summary>
public static class ParallelDataSource
{
    public static readonly IReadOnlyList<string> Names = ["quran-parallel:zh-en", "quran-parallel:en-zh", "cmudict"];

    public static async Task<string> ResolveAsync(string data, DataCatalogClient catalog, CancellationToken ct = default)
    {
        if (File.Exists(data) || Directory.Exists(data))
            return data;
        switch (data.ToLowerInvariant())
        {
            case "quran-parallel" or "quran-parallel:zh-en" or "quran-parallel:en-zh":
            {
                bool zhToEn = !data.EndsWith(":en-zh", StringComparison.OrdinalIgnoreCase);
                string dir = await catalog.GetAsync(Catalog.Get("quran-parallel"), ct: ct);
                string path = Path.Combine(dir, zhToEn ? "pairs-zh-en.jsonl" : "pairs-en-zh.jsonl");
                if (!File.Exists(path))
                    AtomicFile.WriteAllText(path, string.Join('\n', QuranPairs(dir, zhToEn)) + "\n");
                return path;
            }
            case "cmudict":
            {
                string dir = await catalog.GetAsync(Catalog.Get("cmudict"), ct: ct);
                string path = Path.Combine(dir, "pairs-word-phonemes.jsonl");
                if (!File.Exists(path))
                    AtomicFile.WriteAllText(path, string.Join('\n', CmuDictPairs(Path.Combine(dir, "data", "dict.txt"))) + "\n");
                return path;
            }
            default:
                throw new SharpLMException(
                    $"{data} is neither a pair file nor a named pair set; give a TSV/CSV/JSONL file or one of {string.Join(", ", Names)}."
                );
        }
    }

    static string Line(string id, string source, string target) =>
        JsonSerializer.Serialize(
            new Dictionary<string, string>
            {
                ["id"] = id,
                ["source"] = source,
                ["target"] = target,
            }
        );

    static IEnumerable<string> QuranPairs(string dir, bool zhToEn)
    {
        static Dictionary<string, string> Verses(string file)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            var verses = new Dictionary<string, string>();
            foreach (var chapter in doc.RootElement.EnumerateArray())
            foreach (var verse in chapter.GetProperty("verses").EnumerateArray())
                verses[$"{chapter.GetProperty("id").GetInt32()}:{verse.GetProperty("id").GetInt32()}"] = verse
                    .GetProperty("translation")
                    .GetString()!
                    .Trim();
            return verses;
        }
        var zh = Verses(Path.Combine(dir, "dist", "quran_zh.json"));
        var en = Verses(Path.Combine(dir, "dist", "quran_en.json"));
        foreach (var (id, chinese) in zh)
            if (en.TryGetValue(id, out var english) && chinese.Length > 0 && english.Length > 0)
                yield return zhToEn ? Line(id, chinese, english) : Line(id, english, chinese);
    }

    static IEnumerable<string> CmuDictPairs(string dictionary)
    {
        foreach (string raw in File.ReadLines(dictionary))
        {
            int split = raw.IndexOf("  ", StringComparison.Ordinal);
            if (split <= 0)
                continue;
            string word = raw[..split];
            // Alternates are WORD(1), WORD(2)…; entries such as "{BRACE" spell punctuation, not words.
            if (word.Contains('(') || !char.IsAsciiLetter(word[0]))
                continue;
            yield return Line(word, word.ToLowerInvariant(), raw[(split + 2)..].Trim());
        }
    }
}
