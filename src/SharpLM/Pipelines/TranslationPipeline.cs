using SharpLM.Generation;
using SharpLM.Kinds;
using SharpLM.Models;

namespace SharpLM.Pipelines;

/// <summary>Translates (or transduces: spelling → phonemes…) texts with a sequence-to-sequence run, greedily or by beam search.</summary>
public sealed class TranslationPipeline : IPipeline
{
    readonly Seq2SeqGenerator _generator;
    readonly Lock _gate = new();

    public TranslationPipeline(LoadedModel model)
    {
        Model = model;
        Transformer = model.As<Seq2SeqTransformer>("translation");
        _generator = new Seq2SeqGenerator(Transformer, model.Tokenizer);
    }

    public static TranslationPipeline Load(string path) => new(ModelRegistry.Load(path));

    public string Task => "translation";
    public LoadedModel Model { get; }
    public Seq2SeqTransformer Transformer { get; }

    /// <summary>
    /// The output of each text (greedy), or with <paramref name="beams"/> each text's best num_return_sequences (text-major).
    /// <paramref name="maxNewTokens"/> null: up to the model's limit.
    /// </summary>
    public IReadOnlyList<Seq2SeqOutput> Translate(
        IReadOnlyList<string> texts,
        int? maxNewTokens = null,
        BeamSearchOptions? beams = null,
        CancellationToken ct = default
    )
    {
        if (texts.Count == 0)
            return [];
        lock (_gate)
            return _generator.Generate(texts, maxNewTokens ?? Transformer.Config.MaxPositionEmbeddings - 1, beams, ct: ct);
    }

    public void Dispose() => Model.Dispose();
}
