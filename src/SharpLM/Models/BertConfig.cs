using System.Text.Json.Serialization;
using SharpLM.IO;

namespace SharpLM.Models;

/// <summary>BERT encoder configuration with Hugging Face BERT <c>config.json</c> field names.</summary>
public sealed record BertConfig : IModelConfig
{
    [JsonPropertyName("model_type")]
    public string ModelType { get; init; } = "bert";

    [JsonPropertyName("architectures")]
    public string[] Architectures { get; init; } = ["BertForMaskedLM"];

    [JsonPropertyName("vocab_size")]
    public int VocabSize { get; init; } = 30522;

    [JsonPropertyName("hidden_size")]
    public int HiddenSize { get; init; } = 768;

    [JsonPropertyName("num_hidden_layers")]
    public int NumHiddenLayers { get; init; } = 12;

    [JsonPropertyName("num_attention_heads")]
    public int NumAttentionHeads { get; init; } = 12;

    [JsonPropertyName("intermediate_size")]
    public int IntermediateSize { get; init; } = 3072;

    [JsonPropertyName("hidden_act")]
    public string HiddenAct { get; init; } = "gelu";

    [JsonPropertyName("hidden_dropout_prob")]
    public double HiddenDropoutProb { get; init; } = 0.1;

    [JsonPropertyName("attention_probs_dropout_prob")]
    public double AttentionProbsDropoutProb { get; init; } = 0.1;

    [JsonPropertyName("max_position_embeddings")]
    public int MaxPositionEmbeddings { get; init; } = 512;

    [JsonPropertyName("type_vocab_size")]
    public int TypeVocabSize { get; init; } = 2;

    [JsonPropertyName("layer_norm_eps")]
    public double LayerNormEps { get; init; } = 1e-12;

    [JsonPropertyName("initializer_range")]
    public double InitializerRange { get; init; } = 0.02;

    [JsonPropertyName("pad_token_id")]
    public int PadTokenId { get; init; }

    /// <summary>Class names of a sequence-classification head (Hugging Face's id2label, as a list).</summary>
    [JsonPropertyName("labels")]
    public string[]? Labels { get; init; }

    /// <summary>A classifier's input limit in tokens, [CLS] and [SEP] included; null means max_position_embeddings.</summary>
    [JsonPropertyName("max_input_tokens")]
    public int? MaxInputTokens { get; init; }

    /// <summary>A question-answering run's windows and answer length, as fine-tuning used them (SharpLM's; others ignore it).</summary>
    [JsonPropertyName("qa_windows")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public QaWindowConfig? QaWindows { get; init; }

    /// <summary>Hugging Face's: only "absolute" learned positions are computed; relative_key(_query) is refused.</summary>
    [JsonPropertyName("position_embedding_type")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? PositionEmbeddingType { get; init; }

    /// <summary>Hugging Face's: true makes the encoder causal (a decoder), which SharpLM's BERT is not (refused).</summary>
    [JsonPropertyName("is_decoder")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? IsDecoder { get; init; }

    /// <summary>Hugging Face's: true adds cross-attention layers (refused).</summary>
    [JsonPropertyName("add_cross_attention")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? AddCrossAttention { get; init; }

    /// <summary>Hugging Face's label names of a classifier ("0" → name); read into <see cref="Labels"/> when that is absent.</summary>
    [JsonPropertyName("id2label")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, string>? Id2Label { get; init; }

    [JsonIgnore]
    public int HeadDim => HiddenSize / NumAttentionHeads;

    [JsonIgnore]
    public int Context => MaxPositionEmbeddings;

    public string Describe() =>
        $"BERT{Head()}, {NumHiddenLayers} layers, " + $"{NumAttentionHeads} heads, {HiddenSize} wide, context {MaxPositionEmbeddings}";

    string Head() =>
        ModelConfigFile.HasHead(Architectures, "ForQuestionAnswering") ? " span extractor (question answering)"
        : Labels is null ? " (masked LM)"
        : ModelConfigFile.HasHead(Architectures, "ForTokenClassification") ? $" token classifier ({Labels.Length} tags)"
        : $" classifier ({Labels.Length} labels)";

    public BertConfig Validate()
    {
        static void Positive(string name, long value)
        {
            if (value < 1)
                throw new SharpLMException($"BERT config: {name} must be a positive integer (got {value}).");
        }
        Positive("vocab_size", VocabSize);
        Positive("hidden_size", HiddenSize);
        Positive("num_hidden_layers", NumHiddenLayers);
        Positive("num_attention_heads", NumAttentionHeads);
        Positive("intermediate_size", IntermediateSize);
        Positive("max_position_embeddings", MaxPositionEmbeddings);
        Positive("type_vocab_size", TypeVocabSize);
        if (HiddenSize % NumAttentionHeads != 0)
            throw new SharpLMException(
                $"BERT config: hidden_size ({HiddenSize}) must be divisible by num_attention_heads ({NumAttentionHeads})."
            );
        foreach (
            var (name, p) in new[]
            {
                ("hidden_dropout_prob", HiddenDropoutProb),
                ("attention_probs_dropout_prob", AttentionProbsDropoutProb),
            }
        )
            if (!(p >= 0 && p < 1))
                throw new SharpLMException($"BERT config: {name} must be in [0, 1) (got {p}).");
        Layers.Activation.Require("BERT config", "hidden_act", HiddenAct);
        if (PositionEmbeddingType is not (null or "absolute"))
            throw new SharpLMException(
                $"BERT config: position_embedding_type '{PositionEmbeddingType}' is not supported; SharpLM computes absolute positions."
            );
        if (IsDecoder == true || AddCrossAttention == true)
            throw new SharpLMException("BERT config: is_decoder / add_cross_attention true (a BERT decoder) is not supported.");
        if (!(LayerNormEps > 0))
            throw new SharpLMException($"BERT config: layer_norm_eps must be positive (got {LayerNormEps}).");
        if (!(InitializerRange > 0))
            throw new SharpLMException($"BERT config: initializer_range must be positive (got {InitializerRange}).");
        if (PadTokenId < 0 || PadTokenId >= VocabSize)
            throw new SharpLMException($"BERT config: pad_token_id {PadTokenId} is outside the vocabulary.");
        ModelSize.RequireValidLabels("BERT config", Labels);
        if (MaxInputTokens is int m && (m < 3 || m > MaxPositionEmbeddings))
            throw new SharpLMException(
                $"BERT config: max_input_tokens must be between 3 and max_position_embeddings {MaxPositionEmbeddings} (got {m})."
            );
        if (ModelType is null || Architectures is null)
            throw new SharpLMException("BERT config: model_type and architectures must not be null.");
        double h = HiddenSize;
        ModelSize.RequireFits(
            "BERT config",
            ((double)VocabSize + MaxPositionEmbeddings + TypeVocabSize) * h + NumHiddenLayers * (4.0 * h * h + 2 * h * IntermediateSize)
        );
        return this;
    }

    public static BertConfig Load(string path) =>
        ModelConfigFile.Load<BertConfig>(
            path,
            c => (c with { Labels = ModelConfigFile.LabelsOf(c.Labels, c.Id2Label, c.Architectures, "BERT config") }).Validate()
        );

    public void Save(string path) => ModelConfigFile.Save(this, path);

    /// <summary>A fresh BERT config of the given shape for a WordPiece tokenizer (which must have [PAD]); feed-forward 4 × width.</summary>
    public static BertConfig For(ModelShape shape, Tokenization.Tokenizer tokenizer)
    {
        shape.Validate();
        int pad =
            tokenizer.SpecialTokenId("[PAD]")
            ?? throw new SharpLMException(
                $"A BERT model needs a WordPiece tokenizer with [PAD]; this {tokenizer.Kind} tokenizer has none (use "
                    + "bert-base-uncased, or one trained with kind wordpiece)."
            );
        return new BertConfig
        {
            VocabSize = tokenizer.VocabSize,
            HiddenSize = shape.Width,
            NumHiddenLayers = shape.Layers,
            NumAttentionHeads = shape.Heads,
            IntermediateSize = 4 * shape.Width,
            MaxPositionEmbeddings = shape.Context,
            HiddenDropoutProb = shape.Dropout,
            AttentionProbsDropoutProb = shape.Dropout,
            PadTokenId = pad,
        }.Validate();
    }

    public BertConfig WithDropout(double p) => this with { HiddenDropoutProb = p, AttentionProbsDropoutProb = p };
}

/// <summary>How a question-answering model cuts contexts and reads answers (see Data.QaWindows).</summary>
public sealed record QaWindowConfig(
    [property: JsonPropertyName("doc_stride")] int DocStride,
    [property: JsonPropertyName("max_question_tokens")] int MaxQuestionTokens,
    [property: JsonPropertyName("max_answer_tokens")] int MaxAnswerTokens
);
