namespace SharpLM.Models;

/// <summary>
/// The shape of a transformer built from scratch — what a model config takes from the user rather than from a tokenizer
/// or a pretrained run. Each model kind turns it into its own config (GPT-2 or BERT field names).
/// </summary>
public sealed record ModelShape
{
    /// <summary>Transformer blocks.</summary>
    public int Layers { get; init; } = 4;

    /// <summary>Attention heads per block.</summary>
    public int Heads { get; init; } = 4;

    /// <summary>Width of the embeddings and hidden states.</summary>
    public int Width { get; init; } = 128;

    /// <summary>The longest input in tokens (GPT's n_positions, BERT's max_position_embeddings), also the training window.</summary>
    public int Context { get; init; } = 64;

    /// <summary>Dropout probability everywhere in the body.</summary>
    public double Dropout { get; init; }

    public ModelShape Validate()
    {
        static void Positive(string name, int value)
        {
            if (value < 1)
                throw new SharpLMException($"Model shape: {name} must be at least 1 (got {value}).");
        }
        Positive("n_layer", Layers);
        Positive("n_head", Heads);
        Positive("n_embd", Width);
        Positive("block_size", Context);
        if (Width % Heads != 0)
            throw new SharpLMException($"Model shape: n_embd ({Width}) must be divisible by n_head ({Heads}).");
        if (!(Dropout >= 0 && Dropout < 1))
            throw new SharpLMException($"Model shape: dropout must be in [0, 1) (got {Dropout}).");
        return this;
    }
}
