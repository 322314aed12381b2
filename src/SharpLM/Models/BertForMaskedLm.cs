using SharpLM.Models.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Models;

/// <summary>BERT with the masked-LM head (HF BertForMaskedLM: bert.*, cls.predictions.*), decoder tied to the word embeddings.</summary>
public sealed class BertForMaskedLm : nn.Module<Tensor, Tensor, Tensor>, IHiddenStates
{
    readonly Bert bert;
    readonly BertOnlyMlmHead cls;

    public BertForMaskedLm(BertConfig config)
        : base(nameof(BertForMaskedLm))
    {
        bert = new Bert(config);
        cls = new BertOnlyMlmHead(config, () => bert.WordEmbeddings);
        RegisterComponents();
        Bert.Initialise(this, config);
    }

    public BertConfig Config => bert.Config;

    /// <summary>False when the weights came from a file without the masked-LM head (Hugging Face BertModel).</summary>
    public bool HasMaskedLmHead { get; private set; } = true;

    /// <summary>
    /// Loads a run's weights or a Hugging Face BertForMaskedLM / BertForPreTraining / BertModel file. The pooler (absent
    /// from masked-LM files) and the head (absent from BertModel files) may be missing; without the head the model
    /// serves features and fine-tuning, not fill-mask.
    /// </summary>
    public void LoadWeights(string path)
    {
        var absent = IO.CheckpointReader.Load(
            this,
            path,
            new IO.CheckpointRules
            {
                BodyPrefix = Bert.HuggingFacePrefix,
                MayBeMissing = name => Bert.IsPooler(name) || name.StartsWith(HeadPrefix, StringComparison.Ordinal),
                Ignorable = Bert.IsKnownExtra,
            }
        );
        HasMaskedLmHead = !absent.Any(name => name.StartsWith(HeadPrefix, StringComparison.Ordinal));
    }

    const string HeadPrefix = "cls.";

    /// <summary>The masked-LM head's absence as a one-line refusal for <paramref name="purpose"/>.</summary>
    public void RequireMaskedLmHead(string purpose)
    {
        if (!HasMaskedLmHead)
            throw new SharpLMException(
                $"This BERT has no masked-LM head (a Hugging Face BertModel), so it cannot do {purpose}; fine-tune it (finetune --from) "
                    + "or use it for features."
            );
    }

    Tensor IHiddenStates.HiddenStates(Tensor ids, Tensor attend) => bert.Forward(ids, attend);

    long IHiddenStates.PadId => Config.PadTokenId;
    bool IHiddenStates.Bidirectional => true;
    int IHiddenStates.MaxInput => Config.MaxPositionEmbeddings;

    long[] IHiddenStates.EncodeText(Tokenization.Tokenizer tokenizer, string text, int maxTokens) =>
        Bert.EncodeWithSpecials(tokenizer, text, maxTokens);

    /// <summary>Vocabulary logits [B, T, V].</summary>
    public override Tensor forward(Tensor ids, Tensor attend) => cls.forward(bert.Forward(ids, attend));

    /// <summary>
    /// Vocabulary logits [N, V] at the N positions where <paramref name="selected"/> [B, T] is true only: training needs
    /// the head at the ~15% masked positions, and the vocabulary projection is the largest matrix product of a small BERT.
    /// </summary>
    public Tensor ForwardSelected(Tensor ids, Tensor attend, Tensor selected) => cls.forward(bert.Forward(ids, attend)[selected]);
}
