using SharpLM.Data;

namespace SharpLM.Tokenization;

/// <summary>Resolves a tokenizer given by name or path: "gpt2", a tokenizer.json, or a folder holding one.</summary>
public static class TokenizerSource
{
    public const string Gpt2 = "gpt2";
    public const string Char = "char";

    public static async Task<Tokenizer> LoadAsync(string spec, DataCatalogClient catalog, IProgress<DownloadProgress>? progress = null)
    {
        if (string.Equals(spec, Gpt2, StringComparison.OrdinalIgnoreCase))
        {
            var entry = Catalog.Get("gpt2-tokenizer");
            string dir = await catalog.GetAsync(entry, progress: progress);
            return Gpt2Tokenizer.FromTiktokenFile(Path.Combine(dir, "data", "r50k_base.tiktoken"));
        }
        if (string.Equals(spec, Char, StringComparison.OrdinalIgnoreCase))
            throw new SharpLMException("The char tokenizer is built from a corpus; use it with 'sharplm prepare', or pass the tokenizer.json that prepare wrote.");
        if (File.Exists(spec) || Directory.Exists(spec)) return TokenizerJson.Load(spec);
        throw new SharpLMException($"Tokenizer '{spec}' is neither gpt2 nor an existing tokenizer.json or folder; train one with 'sharplm tokenizer train' or pass gpt2.");
    }
}
