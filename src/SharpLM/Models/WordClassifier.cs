using SharpLM.IO;
using SharpLM.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Models;

/// <summary>
/// What the textbook classifiers share (<see cref="EmbeddingMlpClassifier"/>, <see cref="BiLstmClassifier"/>): word
/// embeddings learned from scratch, plain ids cut at max_input_tokens, their own safetensors names, no pretrained body.
/// </summary>
public abstract class WordClassifier : nn.Module<Tensor, Tensor, Tensor>, ISequenceClassifier
{
    protected WordClassifier(WordClassifierConfig config, string name)
        : base(name) => Config = config.Validate();

    public WordClassifierConfig Config { get; }
    public nn.Module Module => this;
    public IModelConfig ModelConfig => Config;
    public string[] Labels => Config.Labels!;
    public int MaxPositions => Config.MaxInputTokens;
    public int MaxInputTokens => Config.MaxInputTokens;
    public int LayerCount => Config.NumLayers;
    public long PadId => Config.PadTokenId;

    public Tensor Logits(Tensor ids, Tensor attend) => forward(ids, attend);

    /// <summary>The text's ids, cut to the first <paramref name="block"/>; an empty text becomes one pad token.</summary>
    public long[] Encode(Tokenizer tokenizer, string text, int block)
    {
        var ids = tokenizer.Encode(text).Take(block).Select(i => (long)i).ToArray();
        return ids.Length > 0 ? ids : [PadId];
    }

    public bool IsEmbedding(string name) => name.StartsWith("embedding.", StringComparison.Ordinal);

    /// <summary>The index of the layer a parameter belongs to ("layers.N." for the MLP, "_lN" suffixes for the LSTM).</summary>
    public abstract int? LayerOf(string name);

    public void SaveConfig(string path) => Config.Save(path);

    public void SaveWeights(string path)
    {
        using var scope = NewDisposeScope();
        Safetensors.Save(
            path,
            named_parameters().Select(p => (p.name, p.parameter.detach())),
            new Dictionary<string, string> { ["format"] = "pt" }
        );
    }

    public void LoadWeights(string path)
    {
        var file = Safetensors.File.Open(path);
        using var noGrad = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            using var scope = NewDisposeScope();
            if (!file.Entries.TryGetValue(name, out var entry) || !entry.Shape.SequenceEqual(p.shape))
                throw new SharpLMException(
                    $"{path} has no tensor '{name}' of shape [{string.Join(", ", p.shape)}]; the weights belong to a different model."
                );
            p.copy_(file.Read(name).to(p.dtype));
        }
    }

    public void LoadPretrainedBody(string path) =>
        throw new SharpLMException(
            "The MLP and BiLSTM classifiers learn their embeddings from scratch; they have no pretrained body to start from."
        );
}
