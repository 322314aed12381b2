using System.Text.Json.Serialization;

namespace SharpLM.Models;

/// <summary>
/// Encoder–decoder Transformer configuration with Hugging Face BART's config.json field names: post-LayerNorm blocks
/// are BART's layout (model_type "bart"); pre-LayerNorm blocks with a final LayerNorm in encoder and decoder are
/// mBART's (model_type "mbart").
/// </summary>
public sealed record Seq2SeqConfig : IModelConfig
{
    [JsonPropertyName("model_type")]
    public string ModelType { get; init; } = "bart";

    [JsonPropertyName("architectures")]
    public string[] Architectures { get; init; } = ["BartForConditionalGeneration"];

    [JsonPropertyName("vocab_size")]
    public int VocabSize { get; init; }

    [JsonPropertyName("d_model")]
    public int DModel { get; init; } = 256;

    [JsonPropertyName("encoder_layers")]
    public int EncoderLayers { get; init; } = 3;

    [JsonPropertyName("decoder_layers")]
    public int DecoderLayers { get; init; } = 3;

    [JsonPropertyName("encoder_attention_heads")]
    public int EncoderAttentionHeads { get; init; } = 4;

    [JsonPropertyName("decoder_attention_heads")]
    public int DecoderAttentionHeads { get; init; } = 4;

    [JsonPropertyName("encoder_ffn_dim")]
    public int EncoderFfnDim { get; init; } = 1024;

    [JsonPropertyName("decoder_ffn_dim")]
    public int DecoderFfnDim { get; init; } = 1024;

    /// <summary>The longest source or target in tokens.</summary>
    [JsonPropertyName("max_position_embeddings")]
    public int MaxPositionEmbeddings { get; init; } = 256;

    [JsonPropertyName("dropout")]
    public double Dropout { get; init; } = 0.1;

    [JsonPropertyName("attention_dropout")]
    public double AttentionDropout { get; init; }

    [JsonPropertyName("activation_dropout")]
    public double ActivationDropout { get; init; }

    [JsonPropertyName("activation_function")]
    public string ActivationFunction { get; init; } = "gelu";

    /// <summary>Multiply token embeddings by √d_model (Marian, the original Transformer); BART does not.</summary>
    [JsonPropertyName("scale_embedding")]
    public bool ScaleEmbedding { get; init; }

    /// <summary>Pre-LayerNorm blocks (mBART); false is BART's post-LayerNorm.</summary>
    [JsonPropertyName("normalize_before")]
    public bool NormalizeBefore { get; init; }

    [JsonPropertyName("tie_word_embeddings")]
    public bool TieWordEmbeddings { get; init; } = true;

    [JsonPropertyName("pad_token_id")]
    public int PadTokenId { get; init; }

    [JsonPropertyName("bos_token_id")]
    public int BosTokenId { get; init; }

    [JsonPropertyName("eos_token_id")]
    public int EosTokenId { get; init; }

    [JsonPropertyName("decoder_start_token_id")]
    public int DecoderStartTokenId { get; init; }

    /// <summary>
    /// SharpLM's field: every LayerNorm's ε. BART hard-codes 1e-5 (the default); an encoder initialised from BERT keeps
    /// BERT's (1e-12), so it computes exactly what BERT computed.
    /// </summary>
    [JsonPropertyName("layer_norm_eps")]
    public double LayerNormEps { get; init; } = 1e-5;

    /// <summary>
    /// SharpLM's field: the encoder reads "bos source eos" instead of "source eos". BART's tokenizer adds &lt;s&gt; this way; an
    /// encoder initialised from BERT needs it, as BERT saw "[CLS] text [SEP]" in pretraining.
    /// </summary>
    [JsonPropertyName("add_bos_to_source")]
    public bool AddBosToSource { get; init; }

    [JsonPropertyName("is_encoder_decoder")]
    public bool IsEncoderDecoder { get; init; } = true;

    [JsonIgnore]
    public string[]? Labels => null;

    [JsonIgnore]
    public int Context => MaxPositionEmbeddings;

    public string Describe() =>
        $"encoder–decoder Transformer ({(NormalizeBefore ? "pre" : "post")}-LN), {EncoderLayers}+{DecoderLayers} layers, "
        + $"{EncoderAttentionHeads} heads, {DModel} wide, up to {MaxPositionEmbeddings} tokens";

    /// <summary>The model type and architecture that match <see cref="NormalizeBefore"/>.</summary>
    public Seq2SeqConfig WithLayout() =>
        NormalizeBefore
            ? this with
            {
                ModelType = "mbart",
                Architectures = ["MBartForConditionalGeneration"],
            }
            : this with
            {
                ModelType = "bart",
                Architectures = ["BartForConditionalGeneration"],
            };

    /// <summary>
    /// This shape with BERT's encoder: d_model and the encoder's layers, heads, feed-forward width and activation become
    /// <paramref name="bert"/>'s, sources start with its [CLS], and positions are cut to its table. BERT's blocks are
    /// post-LayerNorm, so pre-LN is refused; its LayerNorm ε is kept.
    /// </summary>
    public Seq2SeqConfig WithBertEncoder(BertConfig bert)
    {
        if (NormalizeBefore)
            throw new SharpLMException("normalize_before: a BERT encoder is post-LayerNorm; drop pre-LN to start from a BERT run.");
        return this with
        {
            DModel = bert.HiddenSize,
            EncoderLayers = bert.NumHiddenLayers,
            EncoderAttentionHeads = bert.NumAttentionHeads,
            EncoderFfnDim = bert.IntermediateSize,
            // BART's "gelu" is BERT's exact (erf) GELU; any other hidden_act is refused by this config's validation
            ActivationFunction = bert.HiddenAct,
            ScaleEmbedding = false,
            AddBosToSource = true,
            LayerNormEps = bert.LayerNormEps,
            MaxPositionEmbeddings = Math.Min(MaxPositionEmbeddings, bert.MaxPositionEmbeddings),
        };
    }

    /// <summary>A source text as encoder ids: ("bos") source "eos", cut to max_position_embeddings.</summary>
    public long[] SourceIds(Tokenization.Tokenizer tokenizer, string text)
    {
        int room = MaxPositionEmbeddings - (AddBosToSource ? 2 : 1);
        var ids = tokenizer.Encode(text).Take(room).Select(i => (long)i);
        return AddBosToSource ? [BosTokenId, .. ids, EosTokenId] : [.. ids, EosTokenId];
    }

    /// <summary>A target text as decoder labels: target "eos", cut to max_position_embeddings.</summary>
    public long[] TargetIds(Tokenization.Tokenizer tokenizer, string text) =>
        [.. tokenizer.Encode(text).Take(MaxPositionEmbeddings - 1).Select(i => (long)i), EosTokenId];

    public Seq2SeqConfig Validate()
    {
        void Positive(string name, long value)
        {
            if (value < 1)
                throw new SharpLMException($"seq2seq config: {name} must be a positive integer (got {value}).");
        }
        Positive("vocab_size", VocabSize);
        Positive("d_model", DModel);
        Positive("encoder_layers", EncoderLayers);
        Positive("decoder_layers", DecoderLayers);
        Positive("encoder_attention_heads", EncoderAttentionHeads);
        Positive("decoder_attention_heads", DecoderAttentionHeads);
        Positive("encoder_ffn_dim", EncoderFfnDim);
        Positive("decoder_ffn_dim", DecoderFfnDim);
        Positive("max_position_embeddings", MaxPositionEmbeddings);
        if (DModel % EncoderAttentionHeads != 0 || DModel % DecoderAttentionHeads != 0)
            throw new SharpLMException(
                $"seq2seq config: d_model ({DModel}) must be divisible by encoder_attention_heads ({EncoderAttentionHeads}) and "
                    + $"decoder_attention_heads ({DecoderAttentionHeads})."
            );
        foreach (
            var (name, p) in new[]
            {
                ("dropout", Dropout),
                ("attention_dropout", AttentionDropout),
                ("activation_dropout", ActivationDropout),
            }
        )
            if (!(p >= 0 && p < 1))
                throw new SharpLMException($"seq2seq config: {name} must be in [0, 1) (got {p}).");
        foreach (
            var (name, id) in new[]
            {
                ("pad_token_id", PadTokenId),
                ("bos_token_id", BosTokenId),
                ("eos_token_id", EosTokenId),
                ("decoder_start_token_id", DecoderStartTokenId),
            }
        )
            if (id < 0 || id >= VocabSize)
                throw new SharpLMException($"seq2seq config: {name} {id} is outside the vocabulary (vocab_size {VocabSize}).");
        if (!(LayerNormEps > 0 && LayerNormEps < 1))
            throw new SharpLMException($"seq2seq config: layer_norm_eps must be in (0, 1) (got {LayerNormEps}).");
        if (ActivationFunction is not ("gelu" or "relu"))
            throw new SharpLMException($"seq2seq config: activation_function must be gelu or relu (got {ActivationFunction}).");
        return this;
    }

    public static Seq2SeqConfig Load(string path) => ModelConfigFile.Load<Seq2SeqConfig>(path, c => c.Validate());

    public void Save(string path) => ModelConfigFile.Save(this, path);
}
