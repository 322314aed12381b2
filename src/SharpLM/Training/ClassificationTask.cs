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
    /// <summary>Run folder of a pretrained encoder (masked-LM or an earlier classifier); null trains from scratch.</summary>
    public string? Pretrained { get; init; }
    /// <summary>Tokenizer when training from scratch: bert-base-uncased, a vocab.txt or a tokenizer.json.</summary>
    public string? Tokenizer { get; init; }
    public bool FreezeEmbeddings { get; init; }
    /// <summary>Freeze the first k encoder layers.</summary>
    public int FreezeLayers { get; init; }
    /// <summary>Weight each class by n / (classes · n_class) in the loss, for imbalanced data.</summary>
    public bool BalancedClassWeights { get; init; }
}

/// <summary>
/// Fine-tunes a BERT classifier on labelled texts: each text is WordPiece-encoded once, cut to block_size − 2 and
/// wrapped in [CLS] … [SEP]; batches are padded to their longest sequence. Examples are visited in a seeded shuffle per
/// epoch that depends only on (seed, epoch), so training resumes exactly. Evaluation reports loss, accuracy and macro-F1.
/// </summary>
public sealed class ClassificationTask : ITrainingTask
{
    readonly TrainOptions _o;
    readonly long[][] _trainIds, _valIds;
    readonly int[] _trainLabels, _valLabels;
    readonly Tensor? _classWeights;
    readonly int _pad;
    readonly Dictionary<int, int[]> _epochOrder = [];
    public BertClassifier Classifier { get; }
    public Tokenizer Tokenizer { get; }
    public IReadOnlyList<string> Labels { get; }
    public nn.Module Model => Classifier;
    public long TokensPerMicroBatch => (long)_o.BatchSize * _o.BlockSize;

    public ClassificationTask(LabelledDataset train, LabelledDataset val, Tokenizer tokenizer, TrainOptions o, FineTuneOptions f, BertConfig? pretrainedConfig = null)
    {
        _o = o;
        Tokenizer = tokenizer;
        Labels = train.Labels;
        var unknown = val.Labels.Except(train.Labels).ToList();
        if (unknown.Count > 0) throw new SharpLMException($"The validation data has labels the training data lacks: {string.Join(", ", unknown)}.");
        _pad = tokenizer.SpecialTokenId("[PAD]") ?? throw new SharpLMException("The tokenizer has no [PAD] token; classification needs a WordPiece (BERT) tokenizer.");
        _trainIds = Encode(tokenizer, train, o.BlockSize);
        _valIds = Encode(tokenizer, val, o.BlockSize);
        _trainLabels = train.LabelIndex;
        _valLabels = val.Examples.Select(e => Labels.ToList().IndexOf(e.Label)).ToArray();
        var config = (pretrainedConfig ?? new BertConfig
        {
            VocabSize = tokenizer.VocabSize, HiddenSize = o.NEmbd, NumHiddenLayers = o.NLayer, NumAttentionHeads = o.NHead, IntermediateSize = 4 * o.NEmbd,
            MaxPositionEmbeddings = o.BlockSize, PadTokenId = _pad,
        }) with { Labels = [.. Labels], Architectures = ["BertForSequenceClassification"], HiddenDropoutProb = o.Dropout, AttentionProbsDropoutProb = o.Dropout };
        if (o.BlockSize > config.MaxPositionEmbeddings)
            throw new SharpLMException($"--block-size {o.BlockSize} is longer than the pretrained encoder's max_position_embeddings ({config.MaxPositionEmbeddings}).");
        if (f.FreezeLayers < 0 || f.FreezeLayers > config.NumHiddenLayers)
            throw new SharpLMException($"--freeze-layers must be between 0 and the encoder's {config.NumHiddenLayers} layers (got {f.FreezeLayers}).");
        torch.manual_seed(o.Seed);
        Classifier = new BertClassifier(config.Validate());
        if (f.Pretrained is not null)
        {
            var run = new RunFolder(f.Pretrained);
            ModuleWeights.Load(Classifier, run.Weights, name => name.StartsWith("bert.", StringComparison.Ordinal));
        }
        foreach (var (name, p) in Classifier.named_parameters())
        {
            bool frozen = (f.FreezeEmbeddings && name.StartsWith("bert.embeddings.", StringComparison.Ordinal))
                          || Enumerable.Range(0, f.FreezeLayers).Any(i => name.StartsWith($"bert.encoder.layer.{i}.", StringComparison.Ordinal));
            if (frozen) p.requires_grad = false;
        }
        if (f.BalancedClassWeights)
        {
            var counts = Enumerable.Range(0, Labels.Count).Select(c => _trainLabels.Count(l => l == c)).ToArray();
            var empty = Enumerable.Range(0, Labels.Count).Where(c => counts[c] == 0).Select(c => Labels[c]).ToList();
            if (empty.Count > 0) throw new SharpLMException($"Class {empty[0]} has no training examples; balanced class weights need every class.");
            using var scope = NewDisposeScope();
            _classWeights = tensor(counts.Select(c => (float)_trainLabels.Length / (Labels.Count * c)).ToArray()).MoveToOuterDisposeScope();
        }
    }

    /// <summary>[CLS] + the text's ids (cut to block − 2) + [SEP].</summary>
    public static long[][] Encode(Tokenizer tokenizer, LabelledDataset data, int block) =>
        data.Examples.AsParallel().AsOrdered().Select(e => Wrap(tokenizer, e.Text, block)).ToArray();

    public static long[] Wrap(Tokenizer tokenizer, string text, int block)
    {
        int cls = tokenizer.SpecialTokenId("[CLS]") ?? throw new SharpLMException("The tokenizer has no [CLS] token; classification needs a WordPiece (BERT) tokenizer.");
        int sep = tokenizer.SpecialTokenId("[SEP]") ?? throw new SharpLMException("The tokenizer has no [SEP] token; classification needs a WordPiece (BERT) tokenizer.");
        var ids = tokenizer.Encode(text);
        return [cls, .. ids.Take(block - 2).Select(i => (long)i), sep];
    }

    /// <summary>Pads sequences to the longest: ids [B, T] (pad id) and attend [B, T].</summary>
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
        var (ids, attend) = Pad(picked.Select(i => _trainIds[i]).ToArray(), _pad);
        var target = tensor(picked.Select(i => (long)_trainLabels[i]).ToArray());
        return nn.functional.cross_entropy(Classifier.forward(ids, attend), target, weight: _classWeights);
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
        var (probabilities, predicted) = Predict(Classifier, ids, _pad, _o.BatchSize, ct);
        double nats = 0;
        for (int i = 0; i < labels.Length; i++) nats -= Math.Log(Math.Max(probabilities[i][labels[i]], 1e-12));
        var scores = Labels.Count == 2 ? probabilities.Select(p => (double)p[1]).ToArray() : null;
        return (ClassificationMetrics.Compute(labels, predicted, Labels, scores), nats / Math.Max(1, labels.Length));
    }

    /// <summary>Class probabilities and the most likely class of each encoded example (eval mode, no gradients).</summary>
    public static (float[][] Probabilities, int[] Predicted) Predict(BertClassifier model, long[][] ids, long pad, int batch, CancellationToken ct = default)
    {
        using var inference = new Runtime.InferenceScope(model);
        var probabilities = new float[ids.Length][];
        for (int i = 0; i < ids.Length; i += batch)
        {
            ct.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var chunk = ids.Skip(i).Take(batch).ToArray();
            var (x, attend) = Pad(chunk, pad);
            var p = model.forward(x, attend).softmax(-1);
            for (int b = 0; b < chunk.Length; b++) probabilities[i + b] = p[b].data<float>().ToArray();
        }
        return (probabilities, probabilities.Select(p => Array.IndexOf(p, p.Max())).ToArray());
    }

    public void SaveWeights(string path) => ModuleWeights.Save(Classifier, path);
    public void LoadWeights(string path) => ModuleWeights.Load(Classifier, path);

    public void WriteRunFiles(RunFolder run)
    {
        Classifier.Config.Save(run.Config);
        Tokenizer.Save(run.Tokenizer);
    }

    public void Dispose()
    {
        _classWeights?.Dispose();
        Classifier.Dispose();
    }
}
