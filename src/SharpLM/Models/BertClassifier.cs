using SharpLM.IO;
using SharpLM.Tokenization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Models;

/// <summary>
/// Sequence classification on BERT (HF BertForSequenceClassification: bert.*, classifier.*): dropout and a linear layer
/// on the pooled [CLS] representation. Input: [CLS] text [SEP], padded with [PAD].
/// </summary>
public sealed class BertClassifier : nn.Module<Tensor, Tensor, Tensor>, ISequenceClassifier, IHiddenStates
{
    readonly Bert bert;
    readonly Dropout dropout;
    readonly Linear classifier;

    public BertClassifier(BertConfig config, double? classifierDropout = null)
        : base(nameof(BertClassifier))
    {
        if (config.Labels is not { Length: >= 2 })
            throw new SharpLMException("A classifier needs at least two labels.");
        bert = new Bert(config);
        dropout = nn.Dropout(classifierDropout ?? config.HiddenDropoutProb);
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

    /// <summary>Class logits [B, K].</summary>
    public override Tensor forward(Tensor ids, Tensor attend) => classifier.forward(dropout.forward(bert.Pool(bert.Forward(ids, attend))));

    public Tensor Logits(Tensor ids, Tensor attend) => forward(ids, attend);

    public long[] Encode(Tokenizer tokenizer, string text, int block) => Bert.EncodeWithSpecials(tokenizer, text, block);

    Tensor IHiddenStates.HiddenStates(Tensor ids, Tensor attend) => bert.Forward(ids, attend);

    bool IHiddenStates.Bidirectional => true;
    int IHiddenStates.MaxInput => MaxInputTokens;

    long[] IHiddenStates.EncodeText(Tokenizer tokenizer, string text, int maxTokens) => Encode(tokenizer, text, maxTokens);

    public bool IsEmbedding(string name) => name.StartsWith("bert.embeddings.", StringComparison.Ordinal);

    public int? LayerOf(string name) => LayerIndex(name, "bert.encoder.layer.");

    /// <summary>The layer number in "prefix{N}.…", or null.</summary>
    internal static int? LayerIndex(string name, string prefix)
    {
        if (!name.StartsWith(prefix, StringComparison.Ordinal))
            return null;
        int dot = name.IndexOf('.', prefix.Length);
        return dot > prefix.Length && int.TryParse(name.AsSpan(prefix.Length, dot - prefix.Length), out int i) ? i : null;
    }

    public void SaveConfig(string path) => Config.Save(path);

    public void SaveWeights(string path) => ModuleWeights.Save(this, path);

    /// <summary>Loads a classifier written by <see cref="SaveWeights"/> or Hugging Face's BertForSequenceClassification.</summary>
    public void LoadWeights(string path) =>
        CheckpointReader.Load(this, path, new CheckpointRules { BodyPrefix = Bert.HuggingFacePrefix, Ignorable = Bert.IsKnownExtra });

    /// <summary>
    /// Only the encoder, from a masked-LM run or a Hugging Face BERT (a masked-LM file has no pooler: it keeps its
    /// initialisation, as in transformers).
    /// </summary>
    public void LoadPretrainedBody(string path) => CheckpointReader.Load(this, path, Bert.BodyRules);
}
