using System.Text.Json.Serialization;

namespace SharpLM.Models;

/// <summary>
/// Configuration of the textbook classifiers that learn their own word embeddings (no pretrained body): embedding →
/// mean-pool → MLP ("sharplm-mlp") and embedding → bidirectional LSTM → dense ("sharplm-bilstm").
/// </summary>
public sealed record WordClassifierConfig : IModelConfig
{
    [JsonPropertyName("model_type")]
    public string ModelType { get; init; } = "sharplm-mlp";

    [JsonPropertyName("architectures")]
    public string[] Architectures { get; init; } = ["EmbeddingMlpClassifier"];

    [JsonPropertyName("vocab_size")]
    public int VocabSize { get; init; }

    [JsonPropertyName("embedding_dim")]
    public int EmbeddingDim { get; init; } = 128;

    [JsonPropertyName("hidden_size")]
    public int HiddenSize { get; init; } = 128;

    /// <summary>MLP: hidden layers; BiLSTM: stacked bidirectional layers.</summary>
    [JsonPropertyName("num_layers")]
    public int NumLayers { get; init; } = 1;

    [JsonPropertyName("dropout")]
    public double Dropout { get; init; } = 0.1;

    [JsonPropertyName("pad_token_id")]
    public int PadTokenId { get; init; }

    [JsonPropertyName("labels")]
    public string[]? Labels { get; init; }

    [JsonPropertyName("max_input_tokens")]
    public int MaxInputTokens { get; init; } = 128;

    [JsonIgnore]
    public int Context => MaxInputTokens;

    [JsonIgnore]
    public bool IsLstm => ModelType == "sharplm-bilstm";

    public string Describe() =>
        IsLstm
            ? $"BiLSTM classifier, {NumLayers} layer(s) of 2 × {HiddenSize}, embeddings {EmbeddingDim} wide, input up to "
                + $"{MaxInputTokens} tokens"
            : $"embedding → mean-pool → MLP classifier, {NumLayers} hidden layer(s) of {HiddenSize}, embeddings {EmbeddingDim} wide";

    public WordClassifierConfig Validate()
    {
        void Positive(string name, int value)
        {
            if (value < 1)
                throw new SharpLMException($"classifier config: {name} must be a positive integer (got {value}).");
        }
        Positive("vocab_size", VocabSize);
        Positive("embedding_dim", EmbeddingDim);
        Positive("hidden_size", HiddenSize);
        Positive("num_layers", NumLayers);
        Positive("max_input_tokens", MaxInputTokens);
        if (!(Dropout >= 0 && Dropout < 1))
            throw new SharpLMException($"classifier config: dropout must be in [0, 1) (got {Dropout}).");
        if (Labels is not { Length: >= 2 })
            throw new SharpLMException("classifier config: labels must name at least two classes.");
        if (ModelType is not ("sharplm-mlp" or "sharplm-bilstm"))
            throw new SharpLMException($"classifier config: model_type must be sharplm-mlp or sharplm-bilstm (got {ModelType}).");
        return this;
    }

    public static WordClassifierConfig Load(string path) => ModelConfigFile.Load<WordClassifierConfig>(path, c => c.Validate());

    public void Save(string path) => ModelConfigFile.Save(this, path);
}
