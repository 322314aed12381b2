using SharpLM.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Models;

/// <summary>
/// A pretrained body plus a task head (a sequence classifier, a token classifier, a span extractor), as fine-tuning,
/// prediction and the run folder see it: which parameters belong to which layer, input limits, and the files.
/// </summary>
public interface ITaskModel : IDisposable
{
    /// <summary>The model as a module (modes, parameters, optimizers).</summary>
    nn.Module Module { get; }
    IModelConfig ModelConfig { get; }

    /// <summary>The longest input the body accepts, in tokens.</summary>
    int MaxPositions { get; }

    /// <summary>
    /// Where texts are cut, in tokens (config.json's max_input_tokens: what fine-tuning used), at most <see cref="MaxPositions"/>.
    /// </summary>
    int MaxInputTokens { get; }
    int LayerCount { get; }

    /// <summary>The id batches are right-padded with (ignored through <c>attend</c>).</summary>
    long PadId { get; }

    /// <summary>Whether a parameter (by name) is part of the embeddings; <see cref="LayerOf"/> gives its layer, if any.</summary>
    bool IsEmbedding(string parameterName);
    int? LayerOf(string parameterName);

    void SaveConfig(string path);
    void SaveWeights(string path);
    void LoadWeights(string path);

    /// <summary>Copies the body (not the head) from a pretrained run's weights: masked-LM for BERT, causal LM for GPT.</summary>
    void LoadPretrainedBody(string path);
}

/// <summary>A task model with a sequence-classification head (BERT's pooled [CLS], or GPT's last real token).</summary>
public interface ISequenceClassifier : ITaskModel
{
    /// <summary>Class names, in logit order.</summary>
    string[] Labels { get; }

    /// <summary>Class logits [B, K] for right-padded ids [B, T]; <paramref name="attend"/> [B, T] is false on padding.</summary>
    Tensor Logits(Tensor ids, Tensor attend);

    /// <summary>A text as the model's input ids, cut to <paramref name="block"/> tokens including any special tokens.</summary>
    long[] Encode(Tokenizer tokenizer, string text, int block);
}

/// <summary>A task model with one label per token (HF *ForTokenClassification: named-entity recognition).</summary>
public interface ITokenClassifier : ITaskModel
{
    /// <summary>Tag names (e.g. O, B-PER, I-PER), in logit order.</summary>
    string[] Labels { get; }

    /// <summary>Tag logits [B, T, K] for right-padded ids [B, T]; <paramref name="attend"/> [B, T] is false on padding.</summary>
    Tensor TagLogits(Tensor ids, Tensor attend);
}
