using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Models;
using SharpLM.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>What fine-tuning a classifier adds to <see cref="TrainOptions"/>.</summary>
public sealed record FineTuneOptions
{
    /// <summary>
    /// Run folder of a pretrained model: a masked-LM BERT, a causal-LM GPT, or an earlier classifier (whose head is
    /// replaced). Null trains from scratch.
    /// </summary>
    public string? Pretrained { get; init; }

    /// <summary>From scratch: the body to build, "bert" (pooled [CLS]) or "gpt2" (last token). A pretrained run brings its own.</summary>
    public string? Architecture { get; init; }

    /// <summary>Tokenizer when training from scratch: bert-base-uncased, gpt2, a vocab.txt or a tokenizer.json.</summary>
    public string? Tokenizer { get; init; }
    public bool FreezeEmbeddings { get; init; }

    /// <summary>Freeze the first k layers.</summary>
    public int FreezeLayers { get; init; }

    /// <summary>
    /// A word2vec or GloVe text file whose vectors start the embedding layer of the mlp and bilstm classifiers (with no
    /// tokenizer given, its words become a word-level vocabulary; the width becomes the vectors' dimension).
    /// </summary>
    public string? WordVectors { get; init; }

    /// <summary>Weight each class by n / (classes · n_class) in the loss, for imbalanced data.</summary>
    public bool BalancedClassWeights { get; init; }

    /// <summary>Stops gradients in the embeddings and the first <see cref="FreezeLayers"/> layers of <paramref name="model"/>.</summary>
    public void Freeze(ITaskModel model)
    {
        if (FreezeLayers < 0 || FreezeLayers > model.LayerCount)
            throw new SharpLMException($"freeze_layers must be between 0 and the model's {model.LayerCount} layers (got {FreezeLayers}).");
        foreach (var (name, p) in model.Module.named_parameters())
            if ((FreezeEmbeddings && model.IsEmbedding(name)) || model.LayerOf(name) < FreezeLayers)
                p.requires_grad = false;
    }
}

/// <summary>
/// Fine-tunes a sequence classifier (<see cref="BertClassifier"/> or <see cref="GptClassifier"/>) on labelled texts:
/// each text is encoded once as the model expects and cut at its input limit; batches are right-padded to their longest
/// sequence. Examples are visited in a seeded shuffle per epoch that depends only on (seed, epoch), so training resumes
/// exactly. Evaluation reports loss, accuracy and macro-F1. The task owns (and disposes) the classifier.
/// </summary>
public sealed class ClassificationTask : ITrainingTask
{
    readonly long[][] _trainIds,
        _valIds;
    readonly int[] _trainLabels,
        _valLabels;
    readonly Tensor? _classWeights;
    readonly EpochShuffle _shuffle;
    public ISequenceClassifier Classifier { get; }
    public Tokenizer Tokenizer { get; }
    public IReadOnlyList<string> Labels => Classifier.Labels;
    public TrainOptions Options { get; }
    public IModelConfig ModelConfig => Classifier.ModelConfig;
    public nn.Module Model => Classifier.Module;

    public ClassificationTask(
        LabelledDataset train,
        LabelledDataset val,
        Tokenizer tokenizer,
        ISequenceClassifier classifier,
        TrainOptions options,
        FineTuneOptions f
    )
    {
        Options = options.Validate();
        Tokenizer = tokenizer;
        Classifier = classifier;
        try
        {
            if (!train.Labels.SequenceEqual(classifier.Labels))
                throw new ArgumentException("The classifier's labels must be the training data's, in the same order.");
            var unknown = val.Labels.Except(train.Labels).ToList();
            if (unknown.Count > 0)
                throw new SharpLMException($"The validation data has labels the training data lacks: {string.Join(", ", unknown)}.");
            _trainLabels = train.LabelIndex;
            _valLabels = val.Examples.Select(e => Labels.ToList().IndexOf(e.Label)).ToArray();
            if (f.BalancedClassWeights)
            {
                var counts = Enumerable.Range(0, Labels.Count).Select(c => _trainLabels.Count(l => l == c)).ToArray();
                var empty = Enumerable.Range(0, Labels.Count).Where(c => counts[c] == 0).Select(c => Labels[c]).ToList();
                if (empty.Count > 0)
                    throw new SharpLMException($"Class {empty[0]} has no training examples; balanced class weights need every class.");
                using var scope = NewDisposeScope();
                _classWeights = tensor(counts.Select(c => (float)_trainLabels.Length / (Labels.Count * c)).ToArray())
                    .MoveToOuterDisposeScope();
            }
            f.Freeze(Classifier);
            _trainIds = ClassifierEvaluator.Encode(Classifier, tokenizer, train.Examples.Select(e => e.Text).ToArray());
            _shuffle = new EpochShuffle(_trainIds.Length, Options.Seed, 0xE90C);
            _valIds = ClassifierEvaluator.Encode(Classifier, tokenizer, val.Examples.Select(e => e.Text).ToArray());
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public MicroBatch MicroBatchLoss(int step, int micro)
    {
        var picked = _shuffle.Batch(step, micro, Options);
        var (ids, attend) = ClassifierEvaluator.Pad(picked.Select(i => _trainIds[i]).ToArray(), Classifier.PadId);
        var target = tensor(picked.Select(i => (long)_trainLabels[i]).ToArray());
        return new MicroBatch(
            nn.functional.cross_entropy(Classifier.Logits(ids, attend), target, weight: _classWeights),
            picked.Sum(i => (long)_trainIds[i].Length)
        );
    }

    public bool SupportsDataParallel => true;

    public EvalResult Evaluate(CancellationToken ct)
    {
        var (probabilities, predicted) = ClassifierEvaluator.Predict(Classifier, _valIds, Options.BatchSize, ct);
        double nats = 0;
        for (int i = 0; i < _valLabels.Length; i++)
            nats -= Math.Log(Math.Max(probabilities[i][_valLabels[i]], 1e-12));
        var report = ClassificationMetrics.Compute(_valLabels, predicted, Labels);
        return new EvalResult(
            nats / Math.Max(1, _valLabels.Length),
            new Dictionary<string, double> { ["accuracy"] = report.Accuracy, ["macro_f1"] = report.Macro.F1 }
        );
    }

    public void SaveWeights(string path) => Classifier.SaveWeights(path);

    public void LoadWeights(string path) => Classifier.LoadWeights(path);

    public void WriteRunFiles(RunFolder run)
    {
        Classifier.SaveConfig(run.Config);
        Tokenizer.Save(run.Tokenizer);
    }

    public void Dispose()
    {
        _classWeights?.Dispose();
        Classifier.Dispose();
    }
}
