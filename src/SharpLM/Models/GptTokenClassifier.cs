using SharpLM.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Models;

/// <summary>
/// Token classification on a GPT (HF GPT2ForTokenClassification: transformer.*, classifier.weight and bias): dropout and
/// a linear layer on every position's final hidden state. Causal attention means a word's tag is decided from the words
/// before it and itself only, which is why BERT is the usual body for tagging.
/// </summary>
public sealed class GptTokenClassifier : nn.Module<Tensor, Tensor, Tensor>, ITokenClassifier, IHiddenStates
{
    readonly Gpt transformer;
    readonly Dropout dropout;
    readonly Linear classifier;

    public GptTokenClassifier(GptConfig config)
        : base(nameof(GptTokenClassifier))
    {
        if (config.Labels is not { Length: >= 2 })
            throw new SharpLMException("A token classifier needs at least two tags.");
        transformer = new Gpt(config);
        dropout = nn.Dropout(config.ResidPdrop);
        classifier = nn.Linear(config.NEmbd, config.Labels.Length);
        RegisterComponents();
        using var noGrad = no_grad();
        nn.init.normal_(classifier.weight!, 0, config.InitializerRange);
        nn.init.zeros_(classifier.bias!);
    }

    public GptConfig Config => transformer.Config;
    public nn.Module Module => this;
    public IModelConfig ModelConfig => Config;
    public string[] Labels => Config.Labels!;
    public int MaxPositions => Config.NPositions;
    public int MaxInputTokens => Config.MaxInputTokens ?? MaxPositions;
    public int LayerCount => Config.NLayer;
    public long PadId => 0;

    /// <summary>Tag logits [B, T, K]; right padding never reaches a real position through causal attention.</summary>
    public override Tensor forward(Tensor ids, Tensor attend) => classifier.forward(dropout.forward(transformer.Hidden(ids)));

    public Tensor TagLogits(Tensor ids, Tensor attend) => forward(ids, attend);

    Tensor IHiddenStates.HiddenStates(Tensor ids, Tensor attend) => transformer.Hidden(ids);

    bool IHiddenStates.Bidirectional => false;
    int IHiddenStates.MaxInput => MaxInputTokens;

    long[] IHiddenStates.EncodeText(Tokenization.Tokenizer tokenizer, string text, int maxTokens)
    {
        var ids = tokenizer.Encode(text).Take(maxTokens).Select(i => (long)i).ToArray();
        return ids.Length > 0 ? ids : [PadId];
    }

    public bool IsEmbedding(string name) =>
        name.StartsWith("transformer.wte.", StringComparison.Ordinal) || name.StartsWith("transformer.wpe.", StringComparison.Ordinal);

    public int? LayerOf(string name) => BertClassifier.LayerIndex(name, "transformer.h.");

    public void SaveConfig(string path) => Config.Save(path);

    /// <summary>Hugging Face layout: the body as GPT-2 writes it (transformer.*, Conv1D orientation) plus classifier.*.</summary>
    public void SaveWeights(string path)
    {
        using var scope = NewDisposeScope();
        Safetensors.Save(
            path,
            transformer
                .HuggingFaceTensors()
                .Append(("classifier.weight", classifier.weight!.detach()))
                .Append(("classifier.bias", classifier.bias!.detach())),
            new Dictionary<string, string> { ["format"] = "pt" }
        );
    }

    /// <summary>Loads weights written by <see cref="SaveWeights"/> or Hugging Face's GPT2ForTokenClassification.</summary>
    public void LoadWeights(string path) => CheckpointReader.Load(this, path, Gpt.Checkpoint(rejectUnknown: true));

    /// <summary>Only the body, from a language model's or a classifier's weights (their heads are left alone).</summary>
    public void LoadPretrainedBody(string path) => transformer.LoadWeights(path, rejectUnknown: false);
}
