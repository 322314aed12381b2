using SharpLM.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Models;

/// <summary>
/// Token classification on BERT (HF BertForTokenClassification: bert.* without a pooler, classifier.*): dropout and a
/// linear layer on every position's final hidden state. Input: [CLS] words [SEP], padded with [PAD].
/// </summary>
public sealed class BertTokenClassifier : nn.Module<Tensor, Tensor, Tensor>, ITokenClassifier, IHiddenStates
{
    readonly Bert bert;
    readonly Dropout dropout;
    readonly Linear classifier;

    public BertTokenClassifier(BertConfig config)
        : base(nameof(BertTokenClassifier))
    {
        if (config.Labels is not { Length: >= 2 })
            throw new SharpLMException("A token classifier needs at least two tags.");
        bert = new Bert(config, addPoolingLayer: false);
        dropout = nn.Dropout(config.HiddenDropoutProb);
        classifier = nn.Linear(config.HiddenSize, config.Labels.Length);
        RegisterComponents();
        Bert.Initialise(this, config);
    }

    public BertConfig Config => bert.Config;
    public nn.Module Module => this;
    public IModelConfig ModelConfig => Config;
    public string[] Labels => Config.Labels!;
    public int MaxPositions => Config.MaxPositionEmbeddings;
    public int MaxInputTokens => Config.MaxInputTokens ?? MaxPositions;
    public int LayerCount => Config.NumHiddenLayers;
    public long PadId => Config.PadTokenId;

    /// <summary>Tag logits [B, T, K].</summary>
    public override Tensor forward(Tensor ids, Tensor attend) => classifier.forward(dropout.forward(bert.Forward(ids, attend)));

    public Tensor TagLogits(Tensor ids, Tensor attend) => forward(ids, attend);

    Tensor IHiddenStates.HiddenStates(Tensor ids, Tensor attend) => bert.Forward(ids, attend);

    bool IHiddenStates.Bidirectional => true;
    int IHiddenStates.MaxInput => MaxInputTokens;

    long[] IHiddenStates.EncodeText(Tokenization.Tokenizer tokenizer, string text, int maxTokens) =>
        Bert.EncodeWithSpecials(tokenizer, text, maxTokens);

    public bool IsEmbedding(string name) => name.StartsWith("bert.embeddings.", StringComparison.Ordinal);

    public int? LayerOf(string name) => BertClassifier.LayerIndex(name, "bert.encoder.layer.");

    public void SaveConfig(string path) => Config.Save(path);

    public void SaveWeights(string path) => ModuleWeights.Save(this, path);

    /// <summary>Loads weights written by <see cref="SaveWeights"/> or Hugging Face's BertForTokenClassification.</summary>
    public void LoadWeights(string path) =>
        CheckpointReader.Load(this, path, new CheckpointRules { BodyPrefix = Bert.HuggingFacePrefix, Ignorable = Bert.IsKnownExtra });

    /// <summary>Only the encoder, from a masked-LM run, a classifier or a Hugging Face BERT (its pooler and heads left alone).</summary>
    public void LoadPretrainedBody(string path) => CheckpointReader.Load(this, path, Bert.BodyRules);
}
