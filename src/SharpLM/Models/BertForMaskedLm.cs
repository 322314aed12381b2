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
