using System.Text.Encodings.Web;
using System.Text.Json;

namespace SharpLM.IO;

/// <summary>Shared JSON settings: camelCase, readable non-ASCII.</summary>
public static class Json
{
    public static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
    public static readonly JsonSerializerOptions Compact = new(Indented) { WriteIndented = false };

    /// <summary>Reads a model's config.json: a one-line error for a missing, empty or malformed file.</summary>
    public static T LoadModelConfig<T>(string path) where T : class
    {
        if (!File.Exists(path)) throw new SharpLMException($"Model config {path} does not exist; point --model at a run folder written by 'sharplm train' or 'sharplm finetune'.");
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), Indented) ?? throw new SharpLMException($"Model config {path} is empty.");
        }
        catch (JsonException e)
        {
            throw new SharpLMException($"Model config {path} is not valid JSON ({e.Message.Split('.')[0]}); fix or recreate it.");
        }
    }
}
