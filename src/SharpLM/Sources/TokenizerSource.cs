using SharpLM.Catalogue;
using SharpLM.Tokenization;

namespace SharpLM.Sources;

/// <summary>
/// Resolves a tokenizer given by name or path: "gpt2", "bert-base-uncased", a BERT vocab.txt, a tokenizer.json, or a folder holding one.
/// </summary>
public static class TokenizerSource
{
    public const string Gpt2 = "gpt2";
    public const string Char = "char";
    public const string BertBaseUncased = "bert-base-uncased";

    public static async Task<Tokenizer> LoadAsync(string spec, DataCatalogClient catalog, IProgress<DownloadProgress>? progress = null)
    {
        if (string.Equals(spec, Gpt2, StringComparison.OrdinalIgnoreCase))
        {
            var entry = Catalog.Get("gpt2-tokenizer");
            string dir = await catalog.GetAsync(entry, progress: progress);
            return Gpt2Tokenizer.FromTiktokenFile(Path.Combine(dir, "data", "r50k_base.tiktoken"));
        }
        if (string.Equals(spec, BertBaseUncased, StringComparison.OrdinalIgnoreCase))
        {
            string dir = await catalog.GetAsync(Catalog.Get("bert-uncased-vocab"), progress: progress);
            return WordPieceTokenizer.FromSentencePieceStyleJson(Path.Combine(dir, "assets", "vocab.json"));
        }
        if (string.Equals(spec, Char, StringComparison.OrdinalIgnoreCase))
            throw new SharpLMException(
                "The char tokenizer is built from a corpus; use it with 'sharplm prepare', or pass the tokenizer.json that prepare wrote."
            );
        if (File.Exists(spec) && spec.EndsWith(".txt", StringComparison.OrdinalIgnoreCase))
            return WordPieceTokenizer.FromVocabTxt(spec);
        if (File.Exists(spec) || Directory.Exists(spec))
            return TokenizerJson.Load(spec);
        throw new SharpLMException(
            $"Tokenizer '{spec}' is neither gpt2, bert-base-uncased, a vocab.txt nor an existing tokenizer.json or folder; train one "
                + "with 'sharplm tokenizer train' or pass gpt2."
        );
    }
}
