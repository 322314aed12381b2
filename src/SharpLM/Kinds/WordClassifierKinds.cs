using SharpLM.Models;
using SharpLM.Sources;
using SharpLM.Tokenization;
using SharpLM.Training;

namespace SharpLM.Kinds;

/// <summary>The textbook classifiers that learn their own embeddings: no pretrained body, shape from the fine-tuning request.</summary>
public abstract class WordClassifierKind : SequenceClassifierKind
{
    protected abstract string ModelType { get; }
    protected abstract WordClassifier Build(WordClassifierConfig config);
    public override string DefaultTokenizer => TokenizerSource.BertBaseUncased;

    public override bool Recognises(ModelConfigFile.Summary c) => c.ModelType == ModelType;

    protected override ISequenceClassifier FromConfig(string path, int? legacyMaxInput, out int vocabulary)
    {
        var config = WordClassifierConfig.Load(path);
        vocabulary = config.VocabSize;
        return Build(config);
    }

    /// <summary>
    /// Embeddings and hidden layers n_embd wide, n_layer layers, texts cut at block_size; padding is the tokenizer's [PAD] (or id 0).
    /// </summary>
    public override ISequenceClassifier Create(ModelShape shape, Tokenizer tokenizer, string[] labels) =>
        Build(
            new WordClassifierConfig
            {
                ModelType = ModelType,
                VocabSize = tokenizer.VocabSize,
                EmbeddingDim = shape.Width,
                HiddenSize = shape.Width,
                NumLayers = shape.Layers,
                Dropout = shape.Dropout,
                PadTokenId = tokenizer.SpecialTokenId("[PAD]") ?? tokenizer.SpecialTokenId("<pad>") ?? 0,
                Labels = labels,
                MaxInputTokens = shape.Context,
            }
        );

    public override ISequenceClassifier CreateFrom(
        RunFolder pretrained,
        Tokenizer tokenizer,
        string[] labels,
        int maxInputTokens,
        double dropout
    ) =>
        throw new SharpLMException(
            $"The {Architecture} classifier learns its embeddings from scratch; leave out the pretrained run ({pretrained.Path})."
        );
}

/// <summary>Embedding → mean-pool → MLP.</summary>
public sealed class MlpClassifierKind : WordClassifierKind
{
    public override string Name => "mlp-classifier";
    public override string Description => "embedding + MLP classifier";
    public override string Architecture => "mlp";
    protected override string ModelType => "sharplm-mlp";

    protected override WordClassifier Build(WordClassifierConfig config) => new EmbeddingMlpClassifier(config);
}

/// <summary>Embedding → bidirectional LSTM → dense.</summary>
public sealed class BiLstmClassifierKind : WordClassifierKind
{
    public override string Name => "bilstm-classifier";
    public override string Description => "BiLSTM classifier";
    public override string Architecture => "bilstm";
    protected override string ModelType => "sharplm-bilstm";

    protected override WordClassifier Build(WordClassifierConfig config) => new BiLstmClassifier(config);
}
