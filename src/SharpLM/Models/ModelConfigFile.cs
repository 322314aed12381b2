using System.Text.Json;
using SharpLM.IO;

namespace SharpLM.Models;

/// <summary>What every model config.json has in common, and how the files are read and written.</summary>
public interface IModelConfig
{
    /// <summary>Hugging Face's model_type: "gpt2", "bert", ...</summary>
    string ModelType { get; }

    /// <summary>Class names of a classification head, null for other models.</summary>
    string[]? Labels { get; }

    /// <summary>The longest input in tokens.</summary>
    int Context { get; }

    /// <summary>For people: "GPT, 4 layers, 4 heads, 128 wide, context 64".</summary>
    string Describe();
}

public static class ModelConfigFile
{
    /// <summary>Reads and validates a config.json: a one-line error for a missing, empty, malformed or invalid file.</summary>
    public static T Load<T>(string path, Func<T, T> validate)
        where T : class, IModelConfig
    {
        if (!File.Exists(path))
            throw new SharpLMException(
                $"Model config {path} does not exist; point at a run folder written by SharpLM's training or fine-tuning."
            );
        T? config;
        try
        {
            config = JsonSerializer.Deserialize<T>(File.ReadAllText(path), Json.Indented);
        }
        catch (JsonException e)
        {
            throw new SharpLMException($"Model config {path} is not valid JSON ({e.Message.Split('.')[0]}); fix or recreate it.");
        }
        return validate(config ?? throw new SharpLMException($"Model config {path} is empty."));
    }

    /// <summary>Writes a config atomically with Hugging Face's field names.</summary>
    public static void Save<T>(T config, string path)
        where T : IModelConfig => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(config, Json.Indented));

    /// <summary>
    /// A classifier's label names: SharpLM's <c>labels</c>, else, for a Hugging Face *ForSequenceClassification or
    /// *ForTokenClassification config,
    /// its <c>id2label</c> in id order (ids must be 0…n−1). Other configs carry a default id2label that names no task, so
    /// it is not read for them.
    /// </summary>
    public static string[]? LabelsOf(string[]? labels, Dictionary<string, string>? id2Label, string[]? architectures, string config)
    {
        if (labels is not null || id2Label is null || !IsLabelledHead(architectures))
            return labels;
        var byId = new SortedDictionary<int, string>();
        foreach (var (id, name) in id2Label)
            if (!int.TryParse(id, out int i) || i < 0 || !byId.TryAdd(i, name))
                throw new SharpLMException($"{config}: id2label key '{id}' is not a label id (0, 1, …).");
        if (byId.Count == 0 || byId.Keys.Last() != byId.Count - 1)
            throw new SharpLMException($"{config}: id2label ids must be 0…{byId.Count - 1} without gaps.");
        return [.. byId.Values];
    }

    static bool IsLabelledHead(string[]? architectures) =>
        architectures?.Any(a =>
            a.EndsWith("ForSequenceClassification", StringComparison.Ordinal)
            || a.EndsWith("ForTokenClassification", StringComparison.Ordinal)
        ) == true;

    /// <summary>Whether a config's architectures name a head ending in <paramref name="suffix"/> ("ForTokenClassification").</summary>
    public static bool HasHead(string[]? architectures, string suffix) =>
        architectures?.Any(a => a.EndsWith(suffix, StringComparison.Ordinal)) == true;

    /// <summary>The fields a registry needs to tell which kind of model a config.json describes, without knowing the kind.</summary>
    public sealed record Summary(string ModelType, string[] Architectures, bool HasLabels)
    {
        /// <summary>Whether the architectures name a head ending in <paramref name="suffix"/>.</summary>
        public bool Has(string suffix) => HasHead(Architectures, suffix);
    }

    public static Summary ReadSummary(string path)
    {
        if (!File.Exists(path))
            throw new SharpLMException(
                $"{Path.GetDirectoryName(path)} has no config.json; point at a run folder written by SharpLM's training or fine-tuning."
            );
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new SharpLMException($"Model config {path} is not a JSON object; fix or recreate it.");
            string type = root.TryGetProperty("model_type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
            string[] architectures =
                root.TryGetProperty("architectures", out var a) && a.ValueKind == JsonValueKind.Array
                    ? a.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToArray()
                    : [];
            bool labels =
                (root.TryGetProperty("labels", out var l) && l.ValueKind == JsonValueKind.Array)
                || (IsLabelledHead(architectures) && root.TryGetProperty("id2label", out var i) && i.ValueKind == JsonValueKind.Object);
            return new Summary(type, architectures, labels);
        }
        catch (JsonException e)
        {
            throw new SharpLMException($"Model config {path} is not valid JSON ({e.Message.Split('.')[0]}); fix or recreate it.");
        }
    }
}
