using SharpLM.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Models;

/// <summary>
/// Word embeddings → a stacked bidirectional LSTM → dense: the final forward state (at each text's last real token) and
/// the final backward state (at its first) are concatenated and classified. Sequences are packed by length, so padding
/// never reaches either direction.
/// </summary>
public sealed class BiLstmClassifier : WordClassifier
{
    readonly Embedding embedding;
    readonly LSTM lstm;
    readonly Linear output;
    readonly Dropout dropout;

    public BiLstmClassifier(WordClassifierConfig config)
        : base(config with { ModelType = "sharplm-bilstm", Architectures = ["BiLstmClassifier"] }, nameof(BiLstmClassifier))
    {
        embedding = nn.Embedding(Config.VocabSize, Config.EmbeddingDim, padding_idx: Config.PadTokenId);
        lstm = nn.LSTM(
            Config.EmbeddingDim,
            Config.HiddenSize,
            Config.NumLayers,
            batchFirst: true,
            dropout: Config.NumLayers > 1 ? Config.Dropout : 0,
            bidirectional: true
        );
        output = nn.Linear(2 * Config.HiddenSize, Config.Labels!.Length);
        dropout = nn.Dropout(Config.Dropout);
        RegisterComponents();
    }

    public override Tensor forward(Tensor ids, Tensor attend)
    {
        using var s = new Scalars();
        var lengths = attend.to(ScalarType.Int64).sum(1).clamp_min(s[1L]).cpu();
        var packed = nn.utils.rnn.pack_padded_sequence(
            dropout.forward(embedding.forward(ids)),
            lengths,
            batch_first: true,
            enforce_sorted: false
        );
        var (_, h, _) = lstm.call(packed, null);
        // h: [layers × 2, B, H]; the last layer's forward and backward final states.
        var final = cat([h[^2], h[^1]], 1);
        return output.forward(dropout.forward(final));
    }

    public override int? LayerOf(string name)
    {
        int at = name.LastIndexOf("_l", StringComparison.Ordinal);
        if (!name.StartsWith("lstm.", StringComparison.Ordinal) || at < 0)
            return null;
        var digits = new string(name[(at + 2)..].TakeWhile(char.IsDigit).ToArray());
        return int.TryParse(digits, out int layer) ? layer : null;
    }
}
