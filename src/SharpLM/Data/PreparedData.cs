using SharpLM.Tokenization;

namespace SharpLM.Data;

/// <summary>A folder written by <see cref="CorpusPreparer"/>: token shards, tokenizer.json and summary.json.</summary>
public static class PreparedData
{
    /// <summary>The tokenizer the folder was prepared with, with a one-line error when the folder or file is missing.</summary>
    public static Tokenizer Tokenizer(string dataDir)
    {
        if (!Directory.Exists(dataDir))
            throw new SharpLMException($"Data folder {dataDir} does not exist; prepare it first (sharplm prepare).");
        string path = Path.Combine(dataDir, "tokenizer.json");
        if (!File.Exists(path))
            throw new SharpLMException($"{dataDir} has no tokenizer.json; it is not a folder written by prepare.");
        return TokenizerJson.Load(path);
    }
}
