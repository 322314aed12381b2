using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Evaluation.TaskMetrics;
using SharpLM.Kinds;
using SharpLM.Models;

namespace SharpLM.Pipelines;

/// <summary>
/// An entity found in a text: its type, its text, characters [Start, End) of the input, and the mean probability of
/// its words' predicted tags.
/// </summary>
public sealed record EntitySpan(string Type, string Text, int Start, int End, double Score);

/// <summary>
/// Named-entity recognition with a token-classifier run: the text is split into words with their offsets, each word
/// tagged at its first sub-word, and the tags grouped into entities as seqeval's default mode groups them.
/// </summary>
public sealed class TokenClassificationPipeline : IPipeline
{
    readonly ITokenClassifier _tagger;
    readonly Lock _gate = new();

    public TokenClassificationPipeline(LoadedModel model)
    {
        Model = model;
        _tagger = model.As<ITokenClassifier>("token classification");
    }

    public static TokenClassificationPipeline Load(string path) => new(ModelRegistry.Load(path));

    public string Task => "token-classification";
    public LoadedModel Model { get; }
    public IReadOnlyList<string> Labels => _tagger.Labels;

    /// <summary>Each text's words with their tags, and its entities.</summary>
    public IReadOnlyList<(IReadOnlyList<(WordSpan Word, string Tag)> Words, IReadOnlyList<EntitySpan> Entities)> Tag(
        IReadOnlyList<string> texts,
        int batch = 32,
        CancellationToken ct = default
    )
    {
        var words = texts.Select(WordSpans.Split).ToArray();
        var sentences = words.Select(w => new TaggedSentence(w.Select(x => x.Text).ToArray(), w.Select(_ => "O").ToArray())).ToArray();
        string[][] tags;
        float[][] confidence;
        lock (_gate)
            (tags, confidence, _) = TokenClassifierEvaluator.PredictWithConfidence(
                _tagger,
                TokenClassifierEvaluator.Encode(_tagger, Model.Tokenizer, sentences, labelled: false),
                batch,
                ct
            );
        return texts
            .Select(
                (text, i) =>
                {
                    var entities = Seqeval
                        .Entities([tags[i]])
                        .Select(e => new EntitySpan(
                            e.Type,
                            text[words[i][e.Start].Start..words[i][e.End].End],
                            words[i][e.Start].Start,
                            words[i][e.End].End,
                            confidence[i][e.Start..(e.End + 1)].Average()
                        ))
                        .ToArray();
                    return (
                        (IReadOnlyList<(WordSpan, string)>)words[i].Select((w, k) => (w, tags[i][k])).ToArray(),
                        (IReadOnlyList<EntitySpan>)entities
                    );
                }
            )
            .ToArray();
    }

    /// <summary>The entities of one text.</summary>
    public IReadOnlyList<EntitySpan> Entities(string text) => Tag([text])[0].Entities;

    public void Dispose() => Model.Dispose();
}
