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

    /// <summary>
    /// Starts the embedding of every token that <paramref name="vector"/> knows (by the token's text; special tokens
    /// excepted) at that vector; the others keep their random start. Returns how many tokens got a vector.
    /// </summary>
    public int InitialiseEmbeddings(Tokenizer tokenizer, int dimensions, Func<string, float[]?> vector)
    {
        var weight = named_parameters().First(p => IsEmbedding(p.name)).parameter;
        if (dimensions != weight.shape[1])
            throw new SharpLMException(
                $"The word vectors have {dimensions} dimensions but the embedding layer {weight.shape[1]}; make the width the vectors'."
            );
        var specials = tokenizer.AddedTokens.Where(t => t.Special).Select(t => t.Id).ToHashSet();
        var rows = new float[weight.shape[0] * dimensions];
        using var noGrad = no_grad();
        using (var scope = NewDisposeScope())
            weight.to(ScalarType.Float32).data<float>().CopyTo(rows);
        int count = 0;
        for (int id = 0; id < Math.Min(tokenizer.VocabSize, (int)weight.shape[0]); id++)
            if (!specials.Contains(id) && vector(tokenizer.TokenText(id)) is float[] v)
            {
                v.CopyTo(rows, id * dimensions);
                count++;
            }
        using (var scope = NewDisposeScope())
            weight.copy_(tensor(rows, weight.shape).to(weight.dtype));
        return count;
    }

    public void LoadPretrainedBody(string path) =>
        throw new SharpLMException(
            "The MLP and BiLSTM classifiers learn their embeddings from scratch; they have no pretrained body to start from."
        );
}
