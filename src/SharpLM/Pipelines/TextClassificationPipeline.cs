using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Kinds;
using SharpLM.Models;

namespace SharpLM.Pipelines;

/// <summary>A text's most likely label and every class's probability.</summary>
public sealed record ClassPrediction(string Text, string Label, IReadOnlyDictionary<string, double> Probabilities);

/// <summary>Labels texts with a fine-tuned classifier run (BERT or GPT); texts are cut where fine-tuning cut them.</summary>
public sealed class TextClassificationPipeline : IPipeline
{
    readonly ISequenceClassifier _classifier;
    readonly Lock _gate = new();

    public TextClassificationPipeline(LoadedModel model)
    {
        Model = model;
        _classifier = model.As<ISequenceClassifier>("classification");
    }

    public static TextClassificationPipeline Load(string path) => new(ModelRegistry.Load(path));

    public string Task => "text-classification";
    public LoadedModel Model { get; }
    public IReadOnlyList<string> Labels => _classifier.Labels;

    /// <summary>Where texts are cut, in tokens.</summary>
    public int MaxInputTokens => _classifier.MaxInputTokens;

    public IReadOnlyList<ClassPrediction> Classify(IReadOnlyList<string> texts, int batch = 32, CancellationToken ct = default)
    {
        if (texts.Count == 0)
            return [];
        float[][] probabilities;
        lock (_gate)
            (probabilities, _) = ClassifierEvaluator.Predict(
                _classifier,
                ClassifierEvaluator.Encode(_classifier, Model.Tokenizer, texts),
                batch,
                ct
            );
        var labels = _classifier.Labels;
        return texts
            .Select(
                (t, i) =>
                {
                    var p = probabilities[i];
                    return new ClassPrediction(
                        t,
                        labels[Array.IndexOf(p, p.Max())],
                        labels.Select((l, c) => (l, c)).ToDictionary(x => x.l, x => (double)p[x.c])
                    );
                }
            )
            .ToArray();
    }

    public ClassPrediction Classify(string text) => Classify([text])[0];

    /// <summary>The report for predictions already made on labelled examples (labels the model does not know are an error).</summary>
    public ClassificationReport Report(
        IReadOnlyList<LabelledExample> examples,
        IReadOnlyList<ClassPrediction> predictions,
        string source = "the labelled data"
    )
    {
        ClassifierEvaluator.RequireKnownLabels(_classifier, examples, source);
        return ClassifierEvaluator.Report(
            Labels,
            examples,
            predictions.Select(x => Labels.Select(l => (float)x.Probabilities[l]).ToArray()).ToArray()
        );
    }

    /// <summary>The classification report on labelled examples (labels the model does not know are an error).</summary>
    public ClassificationReport Score(
        IReadOnlyList<LabelledExample> examples,
        string source = "the labelled data",
        int batch = 32,
        CancellationToken ct = default
    )
    {
        lock (_gate)
            return ClassifierEvaluator.Score(_classifier, Model.Tokenizer, examples, batch, source, ct);
    }

    public void Dispose() => Model.Dispose();
}
