using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.IO;
using SharpLM.Models;
using SharpLM.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>What fine-tuning adds to <see cref="TrainOptions"/>.</summary>
public sealed record FineTuneOptions
{
    /// <summary>
    /// Run folder of a pretrained model: a masked-LM BERT, a causal-LM GPT, or an earlier classifier (whose head is
    /// replaced). Null trains from scratch.
    /// </summary>
    public string? Pretrained { get; init; }
    /// <summary>From scratch: "bert" (pooled [CLS]) or "gpt2" (last token). A pretrained run brings its own.</summary>
    public string? Architecture { get; init; }
    /// <summary>Tokenizer when training from scratch: bert-base-uncased, gpt2, a vocab.txt or a tokenizer.json.</summary>
    public string? Tokenizer { get; init; }
    public bool FreezeEmbeddings { get; init; }
    /// <summary>Freeze the first k layers.</summary>
    public int FreezeLayers { get; init; }
    /// <summary>Weight each class by n / (classes · n_class) in the loss, for imbalanced data.</summary>
    public bool BalancedClassWeights { get; init; }

    public const string Bert = "bert", Gpt = "gpt2";

    /// <summary>The architecture to build: the pretrained run's, else <see cref="Architecture"/>, else BERT.</summary>
    public string ResolveArchitecture()
    {
        string? fromRun = Pretrained is string run ? new RunFolder(run).ModelType() : null;
        if (fromRun is not null and not (Bert or Gpt))
            throw new SharpLMException($"{Pretrained} holds a '{fromRun}' model; fine-tuning starts from a BERT run ('sharplm train --objective mlm') or a GPT run ('sharplm train').");
        string? asked = Architecture?.ToLowerInvariant() switch { null => null, "bert" => Bert, "gpt" or "gpt2" => Gpt, var other => throw new SharpLMException($"Unknown architecture '{other}'; use bert or gpt2.") };
        if (fromRun is not null && asked is not null && asked != fromRun)
            throw new SharpLMException($"--architecture {asked} contradicts {Pretrained}, which holds a {fromRun} model; leave --architecture out when fine-tuning a pretrained run.");
        return fromRun ?? asked ?? Bert;
    }
}

/// <summary>
/// Fine-tunes a sequence classifier (<see cref="BertClassifier"/> or <see cref="GptClassifier"/>) on labelled texts:
/// each text is encoded once as the model expects and cut to block_size; batches are right-padded to their longest
/// sequence. Examples are visited in a seeded shuffle per epoch that depends only on (seed, epoch), so training resumes
/// exactly. Evaluation reports loss, accuracy and macro-F1.
/// </summary>
public sealed class ClassificationTask : ITrainingTask
{
    readonly TrainOptions _o;
    readonly long[][] _trainIds, _valIds;
    readonly int[] _trainLabels, _valLabels;
    readonly Tensor? _classWeights;
    readonly Dictionary<int, int[]> _epochOrder = [];
    public ISequenceClassifier Classifier { get; }
    public Tokenizer Tokenizer { get; }
    public IReadOnlyList<string> Labels { get; }
    public nn.Module Model => Classifier.Module;
    public long TokensPerMicroBatch => (long)_o.BatchSize * _o.BlockSize;

    public ClassificationTask(LabelledDataset train, LabelledDataset val, Tokenizer tokenizer, TrainOptions o, FineTuneOptions f)
    {
        _o = o;
        Tokenizer = tokenizer;
        Labels = train.Labels;
        var unknown = val.Labels.Except(train.Labels).ToList();
        if (unknown.Count > 0) throw new SharpLMException($"The validation data has labels the training data lacks: {string.Join(", ", unknown)}.");
        _trainLabels = train.LabelIndex;
        _valLabels = val.Examples.Select(e => Labels.ToList().IndexOf(e.Label)).ToArray();
        if (f.BalancedClassWeights)
        {
            var counts = Enumerable.Range(0, Labels.Count).Select(c => _trainLabels.Count(l => l == c)).ToArray();
            var empty = Enumerable.Range(0, Labels.Count).Where(c => counts[c] == 0).Select(c => Labels[c]).ToList();
            if (empty.Count > 0) throw new SharpLMException($"Class {empty[0]} has no training examples; balanced class weights need every class.");
            using var scope = NewDisposeScope();
            _classWeights = tensor(counts.Select(c => (float)_trainLabels.Length / (Labels.Count * c)).ToArray()).MoveToOuterDisposeScope();
        }
        torch.manual_seed(o.Seed);
        Classifier = Build(f, tokenizer, o, [.. Labels]);
        try
        {
            if (o.BlockSize > Classifier.MaxPositions)
                throw new SharpLMException($"--block-size {o.BlockSize} is longer than the pretrained model's context ({Classifier.MaxPositions} positions).");
            if (f.FreezeLayers < 0 || f.FreezeLayers > Classifier.LayerCount)
                throw new SharpLMException($"--freeze-layers must be between 0 and the model's {Classifier.LayerCount} layers (got {f.FreezeLayers}).");
            if (f.Pretrained is not null) Classifier.LoadPretrainedBody(new RunFolder(f.Pretrained).Weights);
            foreach (var (name, p) in Classifier.Module.named_parameters())
                if ((f.FreezeEmbeddings && Classifier.IsEmbedding(name)) || Classifier.LayerOf(name) < f.FreezeLayers) p.requires_grad = false;
            _trainIds = Encode(Classifier, tokenizer, train, o.BlockSize);
            _valIds = Encode(Classifier, tokenizer, val, o.BlockSize);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>
    /// A classifier with freshly initialised weights (from torch's global generator): the pretrained run's architecture
    /// and shape with a new head, or one built from <paramref name="o"/> when training from scratch.
    /// </summary>
    static ISequenceClassifier Build(FineTuneOptions f, Tokenizer tokenizer, TrainOptions o, string[] labels)
    {
        string architecture = f.ResolveArchitecture();
        var run = f.Pretrained is string p ? new RunFolder(p) : null;
        if (architecture == FineTuneOptions.Gpt)
        {
            var config = (run is null
                ? new GptConfig { VocabSize = tokenizer.VocabSize, NPositions = o.BlockSize, NEmbd = o.NEmbd, NLayer = o.NLayer, NHead = o.NHead }
                : GptConfig.Load(run.Config)).WithDropout(o.Dropout) with { Labels = labels, Architectures = ["GPT2ForSequenceClassification"] };
            if (tokenizer.VocabSize > config.VocabSize)
                throw new SharpLMException($"The tokenizer has {tokenizer.VocabSize} tokens but the pretrained model only {config.VocabSize}; fine-tune with the run's own tokenizer.");
            return new GptClassifier(config.Validate());
        }
        int pad = tokenizer.SpecialTokenId("[PAD]") ?? throw new SharpLMException("The tokenizer has no [PAD] token; a BERT classifier needs a WordPiece (BERT) tokenizer (or use --architecture gpt2).");
        var bert = (run is null
            ? new BertConfig
            {
                VocabSize = tokenizer.VocabSize, HiddenSize = o.NEmbd, NumHiddenLayers = o.NLayer, NumAttentionHeads = o.NHead, IntermediateSize = 4 * o.NEmbd,
                MaxPositionEmbeddings = o.BlockSize, PadTokenId = pad,
            }
            : BertConfig.Load(run.Config)) with { Labels = labels, Architectures = ["BertForSequenceClassification"], HiddenDropoutProb = o.Dropout, AttentionProbsDropoutProb = o.Dropout };
        return new BertClassifier(bert.Validate());
    }

    /// <summary>Every example's text as the model's input ids.</summary>
    public static long[][] Encode(ISequenceClassifier model, Tokenizer tokenizer, LabelledDataset data, int block) =>
        Encode(model, tokenizer, data.Examples.Select(e => e.Text).ToArray(), block);

    public static long[][] Encode(ISequenceClassifier model, Tokenizer tokenizer, IReadOnlyList<string> texts, int block) =>
        texts.AsParallel().AsOrdered().Select(t => model.Encode(tokenizer, t, block)).ToArray();

    /// <summary>Right-pads sequences to the longest: ids [B, T] (pad id) and attend [B, T].</summary>
    public static (Tensor Ids, Tensor Attend) Pad(IReadOnlyList<long[]> sequences, long pad)
    {
        int t = sequences.Max(s => s.Length);
        var ids = new long[sequences.Count * t];
        var attend = new bool[sequences.Count * t];
        for (int b = 0; b < sequences.Count; b++)
            for (int i = 0; i < t; i++)
            {
                bool real = i < sequences[b].Length;
                ids[b * t + i] = real ? sequences[b][i] : pad;
                attend[b * t + i] = real;
            }
        return (tensor(ids, [sequences.Count, t]), tensor(attend, [sequences.Count, t]));
    }

    int[] EpochOrder(int epoch)
    {
        if (_epochOrder.TryGetValue(epoch, out var order)) return order;
        order = Enumerable.Range(0, _trainIds.Length).ToArray();
        var rng = new SplitMix64(SplitMix64.Mix((ulong)_o.Seed, 0xE90C, (ulong)epoch));
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = (int)(rng.Next() % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
        if (_epochOrder.Count > 4) _epochOrder.Clear();
        return _epochOrder[epoch] = order;
    }

    public Tensor MicroBatchLoss(int step, int micro)
    {
        long first = ((long)step * _o.GradAccumulation + micro) * _o.BatchSize;
        var picked = Enumerable.Range(0, _o.BatchSize).Select(k =>
        {
            long j = first + k;
            return EpochOrder((int)(j / _trainIds.Length))[(int)(j % _trainIds.Length)];
        }).ToArray();
        var (ids, attend) = Pad(picked.Select(i => _trainIds[i]).ToArray(), Classifier.PadId);
        var target = tensor(picked.Select(i => (long)_trainLabels[i]).ToArray());
        return nn.functional.cross_entropy(Classifier.Logits(ids, attend), target, weight: _classWeights);
    }

    /// <summary>Examples seen per epoch, so callers can turn epochs into steps.</summary>
    public int TrainExamples => _trainIds.Length;

    public EvalResult Evaluate(CancellationToken ct)
    {
        var (report, loss) = EvaluateSet(_valIds, _valLabels, ct);
        return new EvalResult(loss, new Dictionary<string, double> { ["accuracy"] = report.Accuracy, ["macro_f1"] = report.Macro.F1 });
    }

    /// <summary>Loss and full classification report of the current model on encoded examples.</summary>
    public (ClassificationReport Report, double Loss) EvaluateSet(long[][] ids, int[] labels, CancellationToken ct = default)
    {
        var (probabilities, predicted) = Predict(Classifier, ids, _o.BatchSize, ct);
        double nats = 0;
        for (int i = 0; i < labels.Length; i++) nats -= Math.Log(Math.Max(probabilities[i][labels[i]], 1e-12));
        var scores = Labels.Count == 2 ? probabilities.Select(p => (double)p[1]).ToArray() : null;
        return (ClassificationMetrics.Compute(labels, predicted, Labels, scores), nats / Math.Max(1, labels.Length));
    }

    /// <summary>Class probabilities and the most likely class of each encoded example (eval mode, no gradients).</summary>
    public static (float[][] Probabilities, int[] Predicted) Predict(ISequenceClassifier model, long[][] ids, int batch, CancellationToken ct = default)
    {
        using var inference = new Runtime.InferenceScope(model.Module);
        var probabilities = new float[ids.Length][];
        for (int i = 0; i < ids.Length; i += batch)
        {
            ct.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var chunk = ids.Skip(i).Take(batch).ToArray();
            var (x, attend) = Pad(chunk, model.PadId);
            var p = model.Logits(x, attend).softmax(-1);
            for (int b = 0; b < chunk.Length; b++) probabilities[i + b] = p[b].data<float>().ToArray();
        }
        return (probabilities, probabilities.Select(p => Array.IndexOf(p, p.Max())).ToArray());
    }

    /// <summary>
    /// A trained classifier's report on labelled examples (texts cut at <paramref name="block"/> tokens), with ROC-AUC for
    /// binary tasks. Labels the model was not trained on are an error, not a silent miss.
    /// </summary>
    public static ClassificationReport Score(ISequenceClassifier model, Tokenizer tokenizer, IReadOnlyList<LabelledExample> examples, int block, int batch,
        string source, CancellationToken ct = default)
    {
        RequireKnownLabels(model, examples, source);
        if (examples.Count == 0) return ClassificationMetrics.Compute([], [], model.Labels);
        var (p, _) = Predict(model, Encode(model, tokenizer, examples.Select(e => e.Text).ToArray(), block), batch, ct);
        return Report(model.Labels, examples, p);
    }

    public static void RequireKnownLabels(ISequenceClassifier model, IEnumerable<LabelledExample> examples, string source)
    {
        var unknown = examples.Select(e => e.Label).Distinct().Except(model.Labels).ToList();
        if (unknown.Count > 0)
            throw new SharpLMException($"{source} has labels the model was not trained on: {string.Join(", ", unknown)} (the model knows {string.Join(", ", model.Labels)}).");
    }

    /// <summary>The report for predicted class probabilities of labelled examples (argmax prediction; ROC-AUC when binary).</summary>
    public static ClassificationReport Report(string[] labels, IReadOnlyList<LabelledExample> examples, IReadOnlyList<float[]> probabilities) =>
        ClassificationMetrics.Compute(examples.Select(e => Array.IndexOf(labels, e.Label)).ToArray(), probabilities.Select(p => Array.IndexOf(p, p.Max())).ToArray(), labels,
            labels.Length == 2 ? probabilities.Select(x => (double)x[1]).ToArray() : null);

    /// <summary>Where fine-tuning cut texts (training.json's block size), else the model's longest input.</summary>
    public static int BlockOf(RunFolder run, ISequenceClassifier model) =>
        File.Exists(run.Training) ? TrainOptions.Load(run.Training).BlockSize : model.MaxPositions;

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
