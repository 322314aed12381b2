using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Models;

/// <summary>
/// Sequence classification on BERT (HF BertForSequenceClassification: bert.*, classifier.*): dropout and a linear layer
/// on the pooled [CLS] representation.
/// </summary>
public sealed class BertClassifier : nn.Module<Tensor, Tensor, Tensor>
{
    readonly Bert bert;
    readonly Dropout dropout;
    readonly Linear classifier;

    public BertClassifier(BertConfig config, double? classifierDropout = null) : base(nameof(BertClassifier))
    {
        if (config.Labels is not { Length: >= 2 }) throw new SharpLMException("A classifier needs at least two labels.");
        bert = new Bert(config);
        dropout = nn.Dropout(classifierDropout ?? config.HiddenDropoutProb);
        classifier = nn.Linear(config.HiddenSize, config.Labels.Length);
        RegisterComponents();
        Bert.Initialise(this, config);
    }

    public Bert Encoder => bert;
    public BertConfig Config => bert.Config;

    /// <summary>Class logits [B, K].</summary>
    public override Tensor forward(Tensor ids, Tensor attend) => classifier.forward(dropout.forward(bert.Pool(bert.Forward(ids, attend))));
}
