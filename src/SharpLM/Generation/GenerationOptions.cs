namespace SharpLM.Generation;

/// <summary>How to pick each next token and when to stop.</summary>
public sealed record GenerationOptions
{
    public int MaxNewTokens { get; init; } = 200;

    /// <summary>Divides the logits; 0 means greedy (always the most likely token).</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Keep only the k most likely tokens; 0 disables.</summary>
    public int TopK { get; init; }

    /// <summary>Keep the smallest set of most likely tokens whose probability reaches p; 1 disables.</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Hugging Face / CTRL penalty on tokens already in the sequence; 1 disables.</summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary>Generation of a sequence ends (and the text is cut) where one of these appears.</summary>
    public IReadOnlyList<string> StopSequences { get; init; } = [];

    /// <summary>End a sequence when the model emits its end-of-text token.</summary>
    public bool StopAtEndOfText { get; init; } = true;
    public long Seed { get; init; } = 1337;

    /// <summary>Blocked words and patterns: generation that would produce one is cut there and finishes with "content_filter".</summary>
    public SafetyFilter? Safety { get; init; }

    /// <summary>Keep keys/values of past positions (fast); false recomputes the whole context every step.</summary>
    public bool UseKvCache { get; init; } = true;

    /// <summary>
    /// Beam search instead of sampling when set (num_beams &gt; 1): deterministic, so temperature, top-k and top-p do not
    /// apply; max_new_tokens and repetition_penalty carry over.
    /// </summary>
    public BeamSearchOptions? Beams { get; init; }

    public GenerationOptions Validate()
    {
        if (MaxNewTokens < 0)
            throw new SharpLMException($"max_new_tokens must be 0 or more (got {MaxNewTokens}).");
        if (!(Temperature >= 0) || double.IsInfinity(Temperature))
            throw new SharpLMException($"temperature must be 0 (greedy) or positive (got {Temperature}).");
        if (TopK < 0)
            throw new SharpLMException($"top_k must be 0 (off) or positive (got {TopK}).");
        if (!(TopP > 0 && TopP <= 1))
            throw new SharpLMException($"top_p must be in (0, 1] (got {TopP}).");
        if (!(RepetitionPenalty > 0) || double.IsInfinity(RepetitionPenalty))
            throw new SharpLMException($"repetition_penalty must be positive (got {RepetitionPenalty}); 1 disables it.");
        if (StopSequences.Any(string.IsNullOrEmpty))
            throw new SharpLMException("stop_sequences must not be empty.");
        Beams?.Validate();
        return this;
    }
}

/// <summary>
/// One generated continuation. FinishReason is "length", "stop" (a stop sequence), "eos" (end-of-text token) or
/// "content_filter" (the safety filter cut it).
/// </summary>
public sealed record GenerationResult(string Prompt, string Text, int[] TokenIds, string FinishReason, int PromptTokens, bool PromptCropped)
{
    /// <summary>Beam search: the hypothesis's score (sum of log-probabilities ÷ length^length_penalty); null when sampled.</summary>
    public double? Score { get; init; }
}
