using System.Text.Json.Serialization;
using SharpLM.Tokenization;

namespace SharpLM.Models;

/// <summary>An LSTM language model's configuration (model_type "sharplm-lstm").</summary>
public sealed record LstmConfig : IModelConfig
{
    [JsonPropertyName("model_type")]
    public string ModelType { get; init; } = "sharplm-lstm";

    [JsonPropertyName("architectures")]
    public string[] Architectures { get; init; } = ["LstmLanguageModel"];

    [JsonPropertyName("vocab_size")]
    public int VocabSize { get; init; }

    [JsonPropertyName("embedding_dim")]
    public int EmbeddingDim { get; init; } = 256;

    [JsonPropertyName("hidden_size")]
    public int HiddenSize { get; init; } = 256;

    [JsonPropertyName("num_layers")]
    public int NumLayers { get; init; } = 2;

    [JsonPropertyName("dropout")]
    public double Dropout { get; init; }

    /// <summary>Share the input embedding with the output layer (needs embedding_dim = hidden_size).</summary>
    [JsonPropertyName("tie_word_embeddings")]
    public bool TieWordEmbeddings { get; init; } = true;

    /// <summary>Tokens per training window (truncated back-propagation through time); generation has no limit.</summary>
    [JsonPropertyName("bptt")]
    public int Bptt { get; init; } = 128;

    [JsonIgnore]
    public string[]? Labels => null;

    /// <summary>The window trained on; an LSTM reads prompts of any length.</summary>
    [JsonIgnore]
    public int Context => Bptt;

    public string Describe() =>
        $"LSTM language model, {NumLayers} layers of {HiddenSize}, embeddings {EmbeddingDim} wide{(TieWordEmbeddings ? " (tied)" : "")}, "
        + $"windows of {Bptt}";

    /// <summary>
    /// A config of <paramref name="shape"/> for <paramref name="tokenizer"/>: width for embeddings and hidden state, layers, window.
    /// </summary>
    public static LstmConfig For(ModelShape shape, Tokenizer tokenizer) =>
        new LstmConfig
        {
            VocabSize = tokenizer.VocabSize,
            EmbeddingDim = shape.Width,
            HiddenSize = shape.Width,
            NumLayers = shape.Layers,
            Dropout = shape.Dropout,
            Bptt = shape.Context,
        }.Validate();

    public LstmConfig Validate()
    {
        void Positive(string name, int value)
        {
            if (value < 1)
                throw new SharpLMException($"LSTM config: {name} must be a positive integer (got {value}).");
        }
        Positive("vocab_size", VocabSize);
        Positive("embedding_dim", EmbeddingDim);
        Positive("hidden_size", HiddenSize);
        Positive("num_layers", NumLayers);
        Positive("bptt", Bptt);
        if (!(Dropout >= 0 && Dropout < 1))
            throw new SharpLMException($"LSTM config: dropout must be in [0, 1) (got {Dropout}).");
        if (TieWordEmbeddings && EmbeddingDim != HiddenSize)
            throw new SharpLMException(
                $"LSTM config: tie_word_embeddings needs embedding_dim ({EmbeddingDim}) = hidden_size ({HiddenSize}); untie them or "
                    + "make them equal."
            );
        return this;
    }

    public static LstmConfig Load(string path) => ModelConfigFile.Load<LstmConfig>(path, c => c.Validate());

    public void Save(string path) => ModelConfigFile.Save(this, path);
}
