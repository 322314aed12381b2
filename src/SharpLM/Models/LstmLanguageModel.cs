using SharpLM.IO;
using SharpLM.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Models;

/// <summary>An LSTM's state between windows or decoding steps: hidden and cell states [layers, B, hidden].</summary>
public readonly record struct LstmState(Tensor Hidden, Tensor Cell)
{
    /// <summary>Row r becomes what row <paramref name="rows"/>[r] was (beams following their parents, prompts gathered).</summary>
    public LstmState Select(Tensor rows) => new(Hidden.index_select(1, rows), Cell.index_select(1, rows));

    public LstmState Detach() => new(Hidden.detach(), Cell.detach());

    /// <summary>Rows stacked: states of single prompts into one batch.</summary>
    public static LstmState Concat(IReadOnlyList<LstmState> states) =>
        new(cat(states.Select(s => s.Hidden).ToArray(), 1), cat(states.Select(s => s.Cell).ToArray(), 1));
}

/// <summary>
/// The recurrent language model of the textbooks (Zaremba et al., 2014; Merity et al.'s weight tying): embedding →
/// dropout → stacked LSTM → dropout → linear to the vocabulary (tied to the embedding by default). Its state carries
/// from one window to the next, so it reads any length; training truncates back-propagation at each window.
/// </summary>
public sealed class LstmLanguageModel : nn.Module<Tensor, Tensor>
{
    readonly Embedding embedding;
    readonly LSTM lstm;
    readonly Linear? output;
    readonly Parameter output_bias;
    readonly Dropout dropout;
    public LstmConfig Config { get; }

    public LstmLanguageModel(LstmConfig config)
        : base(nameof(LstmLanguageModel))
    {
        Config = config.Validate();
        embedding = nn.Embedding(config.VocabSize, config.EmbeddingDim);
        lstm = nn.LSTM(
            config.EmbeddingDim,
            config.HiddenSize,
            config.NumLayers,
            batchFirst: true,
            dropout: config.NumLayers > 1 ? config.Dropout : 0
        );
        if (!config.TieWordEmbeddings)
            output = nn.Linear(config.HiddenSize, config.VocabSize, hasBias: false);
        output_bias = new Parameter(zeros(config.VocabSize));
        dropout = nn.Dropout(config.Dropout);
        RegisterComponents();
        using var noGrad = no_grad();
        nn.init.uniform_(embedding.weight!, -0.1, 0.1);
    }

    public override Tensor forward(Tensor ids) => Forward(ids, null).Logits;

    /// <summary>Logits [B, T, V] for ids [B, T] continuing <paramref name="state"/> (zeros when null), and the state after them.</summary>
    public (Tensor Logits, LstmState State) Forward(Tensor ids, LstmState? state)
    {
        var x = dropout.forward(embedding.forward(ids));
        var (y, h, c) = lstm.call(x, state is LstmState s ? (s.Hidden, s.Cell) : null);
        y = dropout.forward(y);
        var logits = output is null ? nn.functional.linear(y, embedding.weight!, output_bias) : output.forward(y).Plus(output_bias);
        return (logits, new LstmState(h, c));
    }

    public void SaveWeights(string path, LstmState? state = null)
    {
        using var scope = NewDisposeScope();
        var tensors = named_parameters().Select(p => (p.name, p.parameter.detach())).ToList();
        if (state is LstmState s)
            tensors.AddRange([("training_state.hidden", s.Hidden), ("training_state.cell", s.Cell)]);
        Safetensors.Save(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>Loads the weights; returns the training state stored beside them (a checkpoint's), if any.</summary>
    public LstmState? LoadWeights(string path)
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
        if (!file.Entries.ContainsKey("training_state.hidden"))
            return null;
        return new LstmState(
            file.Read("training_state.hidden").DetachFromDisposeScope(),
            file.Read("training_state.cell").DetachFromDisposeScope()
        );
    }
}
