using SharpLM.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Models;

/// <summary>
/// Extractive question answering on BERT (HF BertForQuestionAnswering: bert.* without a pooler, qa_outputs.*): a
/// linear layer gives every position a start and an end logit. Input: [CLS] question [SEP] context window [SEP], the
/// question's segment 0 and the context's segment 1.
/// </summary>
public sealed class BertQuestionAnswering : nn.Module<Tensor, Tensor, Tensor, (Tensor Start, Tensor End)>, ITaskModel, IHiddenStates
{
    readonly Bert bert;
    readonly Linear qa_outputs;

    public BertQuestionAnswering(BertConfig config)
        : base(nameof(BertQuestionAnswering))
    {
        bert = new Bert(config, addPoolingLayer: false);
        qa_outputs = nn.Linear(config.HiddenSize, 2);
        RegisterComponents();
        Bert.Initialise(this, config);
    }

    public BertConfig Config => bert.Config;
    public nn.Module Module => this;
    public IModelConfig ModelConfig => Config;
    public int MaxPositions => Config.MaxPositionEmbeddings;
    public int MaxInputTokens => Config.MaxInputTokens ?? MaxPositions;
    public int LayerCount => Config.NumHiddenLayers;
    public long PadId => Config.PadTokenId;

    /// <summary>Start and end logits [B, T] for ids, attend and segments [B, T].</summary>
    public override (Tensor Start, Tensor End) forward(Tensor ids, Tensor attend, Tensor segments)
    {
        var logits = qa_outputs.forward(bert.Forward(ids, attend, segments));
        return (logits[.., .., 0], logits[.., .., 1]);
    }

    Tensor IHiddenStates.HiddenStates(Tensor ids, Tensor attend) => bert.Forward(ids, attend);

    bool IHiddenStates.Bidirectional => true;
    int IHiddenStates.MaxInput => MaxInputTokens;

    long[] IHiddenStates.EncodeText(Tokenization.Tokenizer tokenizer, string text, int maxTokens) =>
        Bert.EncodeWithSpecials(tokenizer, text, maxTokens);

    public bool IsEmbedding(string name) => name.StartsWith("bert.embeddings.", StringComparison.Ordinal);

    public int? LayerOf(string name) => BertClassifier.LayerIndex(name, "bert.encoder.layer.");

    public void SaveConfig(string path) => Config.Save(path);

    public void SaveWeights(string path) => ModuleWeights.Save(this, path);

    /// <summary>Loads weights written by <see cref="SaveWeights"/> or Hugging Face's BertForQuestionAnswering.</summary>
    public void LoadWeights(string path) =>
        CheckpointReader.Load(this, path, new CheckpointRules { BodyPrefix = Bert.HuggingFacePrefix, Ignorable = Bert.IsKnownExtra });

    /// <summary>Only the encoder, from a masked-LM run, a classifier or a Hugging Face BERT.</summary>
    public void LoadPretrainedBody(string path) => CheckpointReader.Load(this, path, Bert.BodyRules);
}
