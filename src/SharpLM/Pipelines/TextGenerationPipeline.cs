using SharpLM.Generation;
using SharpLM.Kinds;
using SharpLM.Models;

namespace SharpLM.Pipelines;

/// <summary>
/// Continues prompts with a GPT run (<see cref="TextGenerator"/>: KV cache) or an LSTM run (<see cref="LstmTextGenerator"/>):
/// sampling or beam search, stop sequences, streaming.
/// </summary>
public sealed class TextGenerationPipeline : IPipeline
{
    readonly Gpt? _gpt;
    readonly LstmLanguageModel? _lstm;
    readonly Lock _gate = new();

    public TextGenerationPipeline(LoadedModel model)
    {
        Model = model;
        _lstm = model.Module as LstmLanguageModel;
        _gpt = _lstm is null ? model.As<Gpt>("text generation") : null;
    }

    public static TextGenerationPipeline Load(string path) => new(ModelRegistry.Load(path));

    public string Task => "text-generation";
    public LoadedModel Model { get; }

    /// <summary>The model's context in tokens (longer prompts keep their last tokens); an LSTM has no limit.</summary>
    public int Context => _gpt?.Config.NPositions ?? int.MaxValue;

    /// <summary>
    /// Continues each prompt. <paramref name="onText"/> gets (prompt index, text) as soon as text is certain; <paramref name="onWarning"/>
    /// gets warnings (a cropped prompt).
    /// </summary>
    public IReadOnlyList<GenerationResult> Generate(
        IReadOnlyList<string> prompts,
        GenerationOptions? options = null,
        Action<int, string>? onText = null,
        Action<string>? onWarning = null,
        CancellationToken ct = default
    )
    {
        ITextGenerator generator = _lstm is not null
            ? new LstmTextGenerator(_lstm, Model.Tokenizer)
            : new TextGenerator(_gpt!, Model.Tokenizer);
        if (onText is not null)
            generator.TextProduced += onText;
        if (onWarning is not null)
            generator.Warning += onWarning;
        lock (_gate)
            return generator.Generate(prompts, options ?? new GenerationOptions(), ct);
    }

    public GenerationResult Generate(string prompt, GenerationOptions? options = null, CancellationToken ct = default) =>
        Generate([prompt], options, ct: ct)[0];

    public void Dispose() => Model.Dispose();
}
