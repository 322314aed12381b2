using System.Text.Json;

namespace SharpLM.Tokenization;

/// <summary>
/// The tokenizer of a model folder, in any of the forms Hugging Face folders carry: tokenizer.json (the fast
/// tokenizer's file, which SharpLM writes too), GPT-2's vocab.json + merges.txt, or BERT's vocab.txt; the last two
/// take their options (add_prefix_space, do_lower_case) from tokenizer_config.json.
/// </summary>
public static class ModelFolderTokenizer
{
    public const string TokenizerJsonFile = "tokenizer.json";

    /// <summary>Whether <paramref name="folder"/> has a tokenizer in one of the forms <see cref="Load"/> reads.</summary>
    public static bool Exists(string folder) =>
        File.Exists(Path.Combine(folder, TokenizerJsonFile))
        || (File.Exists(Path.Combine(folder, "vocab.json")) && File.Exists(Path.Combine(folder, "merges.txt")))
        || File.Exists(Path.Combine(folder, "vocab.txt"));

    public static Tokenizer Load(string folder)
    {
        string json = Path.Combine(folder, TokenizerJsonFile);
        if (File.Exists(json))
            return TokenizerJson.Load(json);
        string vocabJson = Path.Combine(folder, "vocab.json"),
            merges = Path.Combine(folder, "merges.txt"),
            vocabTxt = Path.Combine(folder, "vocab.txt");
        if (File.Exists(vocabJson) && File.Exists(merges))
            return TokenizerJson.FromGpt2Files(vocabJson, merges, Option(folder, "add_prefix_space") ?? false);
        if (File.Exists(vocabTxt))
            return WordPieceTokenizer.FromVocabTxt(vocabTxt, lowercase: Option(folder, "do_lower_case") ?? true);
        throw new SharpLMException(
            $"{folder} has no tokenizer: SharpLM reads tokenizer.json, vocab.json with merges.txt (GPT-2) or vocab.txt (BERT); copy "
                + "the model's tokenizer files into the folder."
        );
    }

    /// <summary>A boolean option of tokenizer_config.json, or null when the file or the option is absent.</summary>
    static bool? Option(string folder, string name)
    {
        string path = Path.Combine(folder, "tokenizer_config.json");
        if (!File.Exists(path))
            return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            return
                doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty(name, out var v)
                && v.ValueKind is JsonValueKind.True or JsonValueKind.False
                ? v.GetBoolean()
                : null;
        }
        catch (JsonException e)
        {
            throw new SharpLMException($"{path} is not valid JSON ({e.Message.Split('.')[0]}); fix or remove it.");
        }
    }
}
