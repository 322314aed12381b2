using SharpLM.Models.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Models;

/// <summary>
/// BERT-style bidirectional encoder: token, position and segment embeddings, post-LayerNorm blocks of multi-head
/// self-attention with a padding mask and a GELU feed-forward, and the [CLS] pooler. Names follow Hugging Face's BertModel.
/// </summary>
public sealed class Bert : nn.Module<Tensor, Tensor, Tensor>
{
    readonly BertEmbeddings embeddings;
    readonly BertEncoder encoder;
    readonly BertPooler? pooler;

    public BertConfig Config { get; }

    /// <summary>Prefix of the encoder's names in Hugging Face BertFor* files; BertModel files store them without it.</summary>
    public const string HuggingFacePrefix = "bert.";

    /// <summary>Whether a parameter belongs to the [CLS] pooler.</summary>
    public static bool IsPooler(string name) => name.Contains("pooler.", StringComparison.Ordinal);

    /// <summary>
    /// Stored tensors BERT files carry that are not parameters to load: the position-ids buffer, the decoder copies of the
    /// tied word embeddings and bias, and the next-sentence head of BertForPreTraining.
    /// </summary>
    public static bool IsKnownExtra(string stored) =>
        stored.EndsWith("embeddings.position_ids", StringComparison.Ordinal)
        || stored is "cls.predictions.decoder.weight" or "cls.predictions.decoder.bias"
        || stored.StartsWith("cls.seq_relationship.", StringComparison.Ordinal);

    /// <summary>
    /// A new encoder; <paramref name="addPoolingLayer"/> false leaves out the [CLS] pooler, as transformers does for the
    /// heads that read every position (token classification, question answering).
    /// </summary>
    /// <summary>
    /// How a task model takes only the encoder from a pretrained file (masked LM, classifier or Hugging Face BERT): the
    /// pooler may be missing (masked-LM files have none; a new head's model may have none), other heads are left alone.
    /// </summary>
    public static IO.CheckpointRules BodyRules =>
        new()
        {
            BodyPrefix = HuggingFacePrefix,
            Include = name => name.StartsWith(HuggingFacePrefix, StringComparison.Ordinal),
            MayBeMissing = IsPooler,
            RejectUnknown = false,
        };

    public Bert(BertConfig config, bool addPoolingLayer = true)
        : base(nameof(Bert))
    {
        // library callers get the same runtime set-up (heap policy, threads, a clear load error) as the CLI
        Runtime.TorchRuntime.EnsureLoaded();
        Config = config.Validate();
        embeddings = new BertEmbeddings(config);
        encoder = new BertEncoder(config);
        pooler = addPoolingLayer ? new BertPooler(config) : null;
        RegisterComponents();
    }

    public Parameter WordEmbeddings => embeddings.WordEmbeddings;
    public IReadOnlyList<BertLayer> Layers => encoder.Layers;

    /// <summary>Hidden states [B, T, H] for ids [B, T]; <paramref name="attend"/> [B, T] is false on padding.</summary>
    public override Tensor forward(Tensor ids, Tensor attend) => Forward(ids, attend);

    public Tensor Forward(Tensor ids, Tensor attend, Tensor? segments = null)
    {
        if (ids.shape[1] > Config.MaxPositionEmbeddings)
            throw new SharpLMException(
                $"Sequence of {ids.shape[1]} tokens is longer than the model's max_position_embeddings ({Config.MaxPositionEmbeddings})."
            );
        segments ??= zeros_like(ids);
        var x = embeddings.forward(ids, segments);
        return encoder.forward(x, attend.to(ScalarType.Bool).unsqueeze(1).unsqueeze(1));
    }

    /// <summary>[CLS] text [SEP] as ids, the text cut so that the whole is at most <paramref name="block"/> tokens.</summary>
    public static long[] EncodeWithSpecials(Tokenization.Tokenizer tokenizer, string text, int block)
    {
        int cls =
            tokenizer.SpecialTokenId("[CLS]")
            ?? throw new SharpLMException("The tokenizer has no [CLS] token; a BERT model needs a WordPiece (BERT) tokenizer.");
        int sep =
            tokenizer.SpecialTokenId("[SEP]")
            ?? throw new SharpLMException("The tokenizer has no [SEP] token; a BERT model needs a WordPiece (BERT) tokenizer.");
        return [cls, .. tokenizer.Encode(text).Take(block - 2).Select(i => (long)i), sep];
    }

    /// <summary>The pooled [CLS] representation [B, H].</summary>
    public Tensor Pool(Tensor hidden) =>
        (pooler ?? throw new InvalidOperationException("This encoder was built without a pooler.")).forward(hidden);

    /// <summary>BERT initialisation: normal(0, initializer_range) weights, zero biases, unit LayerNorm, zero padding row.</summary>
    public static void Initialise(nn.Module module, BertConfig config)
    {
        using var noGrad = no_grad();
        foreach (var (name, p) in module.named_parameters())
        {
            if (name.EndsWith("LayerNorm.weight"))
                nn.init.ones_(p);
            else if (name.EndsWith(".bias") || name.EndsWith("predictions.bias"))
                nn.init.zeros_(p);
            else
                nn.init.normal_(p, 0, config.InitializerRange);
            if (name.EndsWith("word_embeddings.weight"))
                p[config.PadTokenId].zero_();
        }
    }
}
