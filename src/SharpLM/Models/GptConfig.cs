using System.Text.Json.Serialization;
using SharpLM.IO;

namespace SharpLM.Models;

/// <summary>
/// GPT configuration with Hugging Face GPT-2 <c>config.json</c> field names, so a run folder
/// (config.json + model.safetensors) can be opened by transformers' GPT2LMHeadModel as well.
/// </summary>
public sealed record GptConfig : IModelConfig
{
    [JsonPropertyName("model_type")]
    public string ModelType { get; init; } = "gpt2";

    [JsonPropertyName("architectures")]
    public string[] Architectures { get; init; } = ["GPT2LMHeadModel"];

    [JsonPropertyName("vocab_size")]
    public int VocabSize { get; init; } = 50257;

    [JsonPropertyName("n_positions")]
    public int NPositions { get; init; } = 1024;

    [JsonPropertyName("n_embd")]
    public int NEmbd { get; init; } = 768;

    [JsonPropertyName("n_layer")]
    public int NLayer { get; init; } = 12;

    [JsonPropertyName("n_head")]
    public int NHead { get; init; } = 12;

    /// <summary>Feed-forward width; null means 4 × n_embd (as in GPT-2).</summary>
    [JsonPropertyName("n_inner")]
    public int? NInner { get; init; }

    /// <summary>"gelu_new" (tanh approximation, GPT-2's) or "gelu" (exact erf form).</summary>
    [JsonPropertyName("activation_function")]
    public string ActivationFunction { get; init; } = "gelu_new";

    [JsonPropertyName("embd_pdrop")]
    public double EmbdPdrop { get; init; } = 0.1;

    [JsonPropertyName("attn_pdrop")]
    public double AttnPdrop { get; init; } = 0.1;

    [JsonPropertyName("resid_pdrop")]
    public double ResidPdrop { get; init; } = 0.1;

    [JsonPropertyName("layer_norm_epsilon")]
    public double LayerNormEpsilon { get; init; } = 1e-5;

    [JsonPropertyName("initializer_range")]
    public double InitializerRange { get; init; } = 0.02;

    [JsonPropertyName("tie_word_embeddings")]
    public bool TieWordEmbeddings { get; init; } = true;

    [JsonPropertyName("bos_token_id")]
    public int? BosTokenId { get; init; }

    [JsonPropertyName("eos_token_id")]
    public int? EosTokenId { get; init; }

    /// <summary>Class names of a sequence-classification head (as in BertConfig); null for a language model.</summary>
    [JsonPropertyName("labels")]
    public string[]? Labels { get; init; }

    /// <summary>A classifier's input limit in tokens (texts are cut there, as in fine-tuning); null means n_positions.</summary>
    [JsonPropertyName("max_input_tokens")]
    public int? MaxInputTokens { get; init; }

    /// <summary>Hugging Face's: false would drop the 1/√d attention scaling, which SharpLM always applies (refused).</summary>
    [JsonPropertyName("scale_attn_weights")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? ScaleAttnWeights { get; init; }

    /// <summary>Hugging Face's: true would scale layer i's attention by a further 1/(i+1) (refused).</summary>
    [JsonPropertyName("scale_attn_by_inverse_layer_idx")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? ScaleAttnByInverseLayerIdx { get; init; }

    /// <summary>
    /// Hugging Face's: true computes the attention scores in fp32 with the scaling applied before the product. SharpLM's
    /// fp32 attention is that computation, so it is honoured in fp32; bf16 compute is refused for such a model.
    /// </summary>
    [JsonPropertyName("reorder_and_upcast_attn")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? ReorderAndUpcastAttn { get; init; }

    /// <summary>Hugging Face's: true adds cross-attention layers (an encoder–decoder's decoder), which a GPT has not (refused).</summary>
    [JsonPropertyName("add_cross_attention")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? AddCrossAttention { get; init; }

    /// <summary>Hugging Face's label names of a classifier ("0" → name); read into <see cref="Labels"/> when that is absent.</summary>
    [JsonPropertyName("id2label")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, string>? Id2Label { get; init; }

    /// <summary>
    /// SharpLM's field (GPT-2's config has none): each head's width when it is not n_embd ÷ n_head, as after
    /// structured head pruning leaves fewer heads of the same width. Null: n_embd ÷ n_head.
    /// </summary>
    [JsonPropertyName("head_dim")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? HeadDimOverride { get; init; }

    [JsonIgnore]
    public int HeadDim => HeadDimOverride ?? NEmbd / NHead;

    /// <summary>The attention's inner width: n_head × head_dim (n_embd unless heads were pruned).</summary>
    [JsonIgnore]
    public int AttentionWidth => NHead * HeadDim;

    [JsonIgnore]
    public int Context => NPositions;

    public string Describe() => $"GPT{Head()}, {NLayer} layers, {NHead} heads, {NEmbd} wide, context " + $"{NPositions}";

    [JsonIgnore]
    public int InnerDim => NInner ?? 4 * NEmbd;

    /// <summary>Sets every dropout probability at once.</summary>
    string Head() =>
        Labels is null ? ""
        : ModelConfigFile.HasHead(Architectures, "ForTokenClassification") ? $" token classifier ({Labels.Length} tags)"
        : $" classifier ({Labels.Length} labels)";

    public GptConfig WithDropout(double p) => this with { EmbdPdrop = p, AttnPdrop = p, ResidPdrop = p };

    /// <summary>Throws a <see cref="SharpLMException"/> naming the first bad field and what would be valid.</summary>
    public GptConfig Validate()
    {
        static void Positive(string name, long value)
        {
            if (value < 1)
                throw new SharpLMException($"GPT config: {name} must be a positive integer (got {value}).");
        }
        Positive("vocab_size", VocabSize);
        Positive("n_positions", NPositions);
        Positive("n_embd", NEmbd);
        Positive("n_layer", NLayer);
        Positive("n_head", NHead);
        if (NInner is int inner)
            Positive("n_inner", inner);
        if (HeadDimOverride is int hd)
            Positive("head_dim", hd);
        else if (NEmbd % NHead != 0)
            throw new SharpLMException(
                $"GPT config: n_embd ({NEmbd}) must be divisible by n_head ({NHead}); try n_head {Divisors(NEmbd)}."
            );
        foreach (var (name, p) in new[] { ("embd_pdrop", EmbdPdrop), ("attn_pdrop", AttnPdrop), ("resid_pdrop", ResidPdrop) })
            if (!(p >= 0 && p < 1))
                throw new SharpLMException($"GPT config: {name} must be in [0, 1) (got {p}).");
        Layers.Activation.Require("GPT config", "activation_function", ActivationFunction);
        if (ScaleAttnWeights == false)
            throw new SharpLMException("GPT config: scale_attn_weights false (attention without 1/√d scaling) is not supported.");
        if (ScaleAttnByInverseLayerIdx == true)
            throw new SharpLMException(
                "GPT config: scale_attn_by_inverse_layer_idx true (a further 1/(layer+1) attention scaling) is not supported."
            );
        if (AddCrossAttention == true)
            throw new SharpLMException("GPT config: add_cross_attention true (a decoder with cross-attention) is not supported.");
        if (!(LayerNormEpsilon > 0))
            throw new SharpLMException($"GPT config: layer_norm_epsilon must be positive (got {LayerNormEpsilon}).");
        if (!(InitializerRange > 0))
            throw new SharpLMException($"GPT config: initializer_range must be positive (got {InitializerRange}).");
        ModelSize.RequireValidLabels("GPT config", Labels);
        if (!TieWordEmbeddings)
            throw new SharpLMException("GPT config: tie_word_embeddings must be true (the LM head shares the token embedding).");
        foreach (var (name, id) in new[] { ("bos_token_id", BosTokenId), ("eos_token_id", EosTokenId) })
            if (id is int i && (i < 0 || i >= VocabSize))
                throw new SharpLMException($"GPT config: {name} {i} is outside the vocabulary of {VocabSize}.");
        if (ModelType is null || Architectures is null)
            throw new SharpLMException("GPT config: model_type and architectures must not be null.");
        if (MaxInputTokens is int m && (m < 1 || m > NPositions))
            throw new SharpLMException($"GPT config: max_input_tokens must be between 1 and n_positions {NPositions} (got {m}).");
        double e = NEmbd,
            ff = InnerDim,
            a = (double)NHead * HeadDim;
        ModelSize.RequireFits("GPT config", (double)VocabSize * e + (double)NPositions * e + NLayer * (4.0 * e * a + 2 * e * ff));
        return this;
    }

    static string Divisors(int n) => string.Join(", ", Enumerable.Range(1, Math.Min(n, 64)).Where(d => n % d == 0).TakeLast(4));

    public static GptConfig Load(string path) =>
        ModelConfigFile.Load<GptConfig>(
            path,
            c => (c with { Labels = ModelConfigFile.LabelsOf(c.Labels, c.Id2Label, c.Architectures, "GPT config") }).Validate()
        );

    public void Save(string path) => ModelConfigFile.Save(this, path);

    /// <summary>A fresh GPT-2-style config of the given shape for a tokenizer's vocabulary (its end-of-text token as BOS/EOS).</summary>
    public static GptConfig For(ModelShape shape, Tokenization.Tokenizer tokenizer)
    {
        shape.Validate();
        int? eot = tokenizer.SpecialTokenId("<|endoftext|>");
        return new GptConfig
        {
            VocabSize = tokenizer.VocabSize,
            NPositions = shape.Context,
            NEmbd = shape.Width,
            NLayer = shape.Layers,
            NHead = shape.Heads,
            EosTokenId = eot,
            BosTokenId = eot,
        }
            .WithDropout(shape.Dropout)
            .Validate();
    }

    /// <summary>Parameter count (the LM head is tied, so it adds nothing).</summary>
    [JsonIgnore]
    public long ParameterCount
    {
        get
        {
            long e = NEmbd,
                inner = InnerDim,
                a = AttentionWidth;
            long perLayer = 2 * 2 * e + (e * 3 * a + 3 * a) + (a * e + e) + (e * inner + inner) + (inner * e + e);
            return (long)VocabSize * e + (long)NPositions * e + NLayer * perLayer + 2 * e;
        }
    }
}
