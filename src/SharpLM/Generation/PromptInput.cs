using SharpLM.Tokenization;

namespace SharpLM.Generation;

/// <summary>Continues prompts with a language model; raises text as it becomes certain (GPT and LSTM generators).</summary>
public interface ITextGenerator
{
    /// <summary>Raised with (row, new text) as soon as text is certain.</summary>
    event Action<int, string>? TextProduced;

    /// <summary>Raised for warnings such as a cropped prompt.</summary>
    event Action<string>? Warning;

    IReadOnlyList<GenerationResult> Generate(IReadOnlyList<string> prompts, GenerationOptions options, CancellationToken ct = default);
}

/// <summary>What every generator does with prompts before the model sees them, and with beam search's hypotheses after.</summary>
static class PromptInput
{
    /// <summary>
    /// Validates the options, refuses prompts the safety filter blocks, and encodes each prompt (special tokens allowed);
    /// an empty prompt starts from &lt;|endoftext|&gt;.
    /// </summary>
    public static List<int>[] Encode(Tokenizer tokenizer, IReadOnlyList<string> prompts, GenerationOptions options)
    {
        options.Validate();
        if (prompts.Count == 0)
            throw new SharpLMException("Give at least one prompt.");
        for (int b = 0; b < prompts.Count; b++)
            if (options.Safety?.FirstMatch(prompts[b]) >= 0)
                throw new SharpLMException($"Prompt {b + 1} was refused: it matches an entry of the safety filter.");
        int? eot = tokenizer.SpecialTokenId("<|endoftext|>");
        return prompts
            .Select(prompt =>
            {
                var ids = tokenizer.Encode(prompt, allowSpecial: true).ToList();
                if (ids.Count == 0)
                    ids.Add(
                        eot
                            ?? throw new SharpLMException(
                                "The prompt is empty and the tokenizer has no <|endoftext|> token to start from; give a prompt of at "
                                    + "least one character."
                            )
                    );
                return ids;
            })
            .ToArray();
    }

    /// <summary>
    /// Each prompt's hypotheses as results, best first (prompt-major): decoded, cut at a stop sequence or blocked text,
    /// and released through <paramref name="emit"/> once the search has ended.
    /// </summary>
    public static List<GenerationResult> FromBeams(
        Tokenizer tokenizer,
        IReadOnlyList<string> prompts,
        List<List<BeamHypothesis>> found,
        int[] promptTokens,
        bool[] cropped,
        GenerationOptions options,
        Action<int, string> emit
    )
    {
        var results = new List<GenerationResult>();
        for (int b = 0; b < prompts.Count; b++)
            foreach (var hypothesis in found[b])
            {
                var stream = new TextStream(tokenizer, options.StopSequences, options.Safety);
                foreach (int id in hypothesis.Tokens)
                    stream.Add(id);
                stream.Flush();
                emit(b, stream.Text);
                string finish = stream.Finish ?? (hypothesis.EndedWithEos ? "eos" : "length");
                results.Add(
                    new GenerationResult(prompts[b], stream.Text, hypothesis.Tokens, finish, promptTokens[b], cropped[b])
                    {
                        Score = hypothesis.Score,
                    }
                );
            }
        return results;
    }
}
