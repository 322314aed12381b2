using SharpLM.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Models;

/// <summary>
/// The first classifier of a textbook: word embeddings averaged over a text's real tokens (padding excluded), then a
/// multi-layer perceptron (Linear → ReLU → dropout, num_layers times) and a linear output layer.
/// </summary>
public sealed class EmbeddingMlpClassifier : WordClassifier
{
    readonly Embedding embedding;
    readonly ModuleList<Linear> layers;
    readonly Linear output;
    readonly Dropout dropout;

    public EmbeddingMlpClassifier(WordClassifierConfig config)
        : base(config with { ModelType = "sharplm-mlp", Architectures = ["EmbeddingMlpClassifier"] }, nameof(EmbeddingMlpClassifier))
    {
        embedding = nn.Embedding(Config.VocabSize, Config.EmbeddingDim, padding_idx: Config.PadTokenId);
        layers = nn.ModuleList<Linear>();
        for (int i = 0; i < Config.NumLayers; i++)
            layers.Add(nn.Linear(i == 0 ? Config.EmbeddingDim : Config.HiddenSize, Config.HiddenSize));
        output = nn.Linear(Config.HiddenSize, Config.Labels!.Length);
        dropout = nn.Dropout(Config.Dropout);
        RegisterComponents();
    }

    public override Tensor forward(Tensor ids, Tensor attend)
    {
        var mask = attend.to(ScalarType.Float32).unsqueeze(-1);
        using var s = new Scalars();
        var x = embedding.forward(ids).mul(mask).sum(1).div(mask.sum(1).clamp_min(s[1.0]));
        foreach (var layer in layers)
            x = dropout.forward(nn.functional.relu(layer.forward(x)));
        return output.forward(x);
    }

    public override int? LayerOf(string name) => BertClassifier.LayerIndex(name, "layers.");
}
