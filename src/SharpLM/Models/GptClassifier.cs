using SharpLM.IO;
using SharpLM.Runtime;
using SharpLM.Tokenization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Models;

/// <summary>
/// Sequence classification on a GPT (HF GPT2ForSequenceClassification: transformer.*, score.weight without bias): a
/// linear layer on the final hidden state of each text's last real token, the only position that has seen the whole
/// text. Batches are right-padded, so causal attention already keeps padding out of every real position.
/// </summary>
public sealed class GptClassifier : nn.Module<Tensor, Tensor, Tensor>, ISequenceClassifier, IHiddenStates
{
    readonly Gpt transformer;
    readonly Linear score;

    public GptClassifier(GptConfig config)
        : base(nameof(GptClassifier))
    {
        if (config.Labels is not { Length: >= 2 })
            throw new SharpLMException("A classifier needs at least two labels.");
        transformer = new Gpt(config);
        score = nn.Linear(config.NEmbd, config.Labels.Length, hasBias: false);
        RegisterComponents();
        using var noGrad = no_grad();
        nn.init.normal_(score.weight!, 0, config.InitializerRange);
    }

    public GptConfig Config => transformer.Config;
    public nn.Module Module => this;
    public IModelConfig ModelConfig => Config;
    public string[] Labels => Config.Labels!;
    public int MaxPositions => Config.NPositions;
    public int MaxInputTokens => Config.MaxInputTokens ?? MaxPositions;
    public int LayerCount => Config.NLayer;
    public long PadId => 0;

    /// <summary>Class logits [B, K] from the hidden state at each row's last position where <paramref name="attend"/> is true.</summary>
    public override Tensor forward(Tensor ids, Tensor attend)
    {
        var hidden = transformer.Hidden(ids);
        using var s = new Scalars();
        var last = attend.to(ScalarType.Int64).sum(1).sub(s[1L]).clamp_min(s[0L]);
        return score.forward(hidden[Arithmetic.Range(0, ids.shape[0], ids.device), last]);
    }

    public Tensor Logits(Tensor ids, Tensor attend) => forward(ids, attend);

    /// <summary>
    /// The text's ids, cut to the first <paramref name="block"/>; an empty text becomes one pad token (a fixed "empty" input).
    /// </summary>
    public long[] Encode(Tokenizer tokenizer, string text, int block)
    {
        var ids = tokenizer.Encode(text).Take(block).Select(i => (long)i).ToArray();
        return ids.Length > 0 ? ids : [PadId];
    }

    Tensor IHiddenStates.HiddenStates(Tensor ids, Tensor attend) => transformer.Hidden(ids);

    bool IHiddenStates.Bidirectional => false;
    int IHiddenStates.MaxInput => MaxInputTokens;

    long[] IHiddenStates.EncodeText(Tokenizer tokenizer, string text, int maxTokens) => Encode(tokenizer, text, maxTokens);

    public bool IsEmbedding(string name) =>
        name.StartsWith("transformer.wte.", StringComparison.Ordinal) || name.StartsWith("transformer.wpe.", StringComparison.Ordinal);

    public int? LayerOf(string name) => BertClassifier.LayerIndex(name, "transformer.h.");

    public void SaveConfig(string path) => Config.Save(path);

    /// <summary>Hugging Face layout: the body as GPT-2 writes it (transformer.*, Conv1D orientation) plus score.weight.</summary>
    public void SaveWeights(string path)
    {
        using var scope = NewDisposeScope();
        Safetensors.Save(
            path,
            transformer.HuggingFaceTensors().Append(("score.weight", score.weight!.detach())),
            new Dictionary<string, string> { ["format"] = "pt" }
        );
    }

    /// <summary>
    /// Loads a classifier written by <see cref="SaveWeights"/> or Hugging Face's GPT2ForSequenceClassification: the body
    /// and score.weight, nothing missing and nothing unknown.
    /// </summary>
    public void LoadWeights(string path) => CheckpointReader.Load(this, path, Gpt.Checkpoint(rejectUnknown: true));

    /// <summary>Only the body, from a language model's or another classifier's weights (their heads are left alone).</summary>
    public void LoadPretrainedBody(string path) => transformer.LoadWeights(path, rejectUnknown: false);
}
