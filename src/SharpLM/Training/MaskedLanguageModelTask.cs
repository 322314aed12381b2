using SharpLM.Data;
using SharpLM.IO;
using SharpLM.Models;
using SharpLM.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>
/// Masked-LM pretraining of a BERT encoder on prepared WordPiece shards: each example is a random window of
/// block_size − 2 tokens wrapped in [CLS] … [SEP], corrupted by <see cref="MlmMasking"/>; the loss counts selected
/// positions only. Evaluation: loss and accuracy on the masked tokens of fixed validation windows with fixed masks.
/// </summary>
public sealed class MaskedLanguageModelTask : ITrainingTask
{
    readonly TokenDataset _train, _val;
    readonly TrainOptions _o;
    readonly MlmMasking _masking;
    readonly int _cls, _sep;
    readonly long[] _evalStarts;
    public BertForMaskedLm Mlm { get; }
    public Tokenizer Tokenizer { get; }
    public string DataDir { get; }
    public nn.Module Model => Mlm;
    public long TokensPerMicroBatch => (long)_o.BatchSize * _o.BlockSize;

    public MaskedLanguageModelTask(string dataDir, TrainOptions o)
    {
        DataDir = Path.GetFullPath(dataDir);
        _o = o;
        if (!Directory.Exists(dataDir)) throw new SharpLMException($"Data folder {dataDir} does not exist; create it with 'sharplm prepare --tokenizer bert-base-uncased --output {dataDir} ...'.");
        Tokenizer = TokenizerJson.Load(Path.Combine(dataDir, "tokenizer.json"));
        int Special(string t) => Tokenizer.SpecialTokenId(t)
            ?? throw new SharpLMException($"Masked-LM training needs a WordPiece tokenizer with {t}; {dataDir} was prepared with a {Tokenizer.Kind} tokenizer without it (use --tokenizer bert-base-uncased, or one from 'sharplm tokenizer train --kind wordpiece').");
        _cls = Special("[CLS]");
        _sep = Special("[SEP]");
        int mask = Special("[MASK]"), pad = Special("[PAD]");
        if (o.BlockSize < 3) throw new SharpLMException("Masked-LM training needs --block-size of at least 3 ([CLS], a token, [SEP]).");
        _masking = new MlmMasking(mask, Tokenizer.VocabSize, Tokenizer.AddedTokens.Where(t => t.Special).Select(t => t.Id).ToHashSet());
        _train = TokenDataset.Open(dataDir, "train", Tokenizer.VocabSize);
        _val = TokenDataset.Open(dataDir, "val", Tokenizer.VocabSize);
        _train.RequireWindow(o.BlockSize - 2);
        _val.RequireWindow(o.BlockSize - 2);
        var config = new BertConfig
        {
            VocabSize = Tokenizer.VocabSize, HiddenSize = o.NEmbd, NumHiddenLayers = o.NLayer, NumAttentionHeads = o.NHead, IntermediateSize = 4 * o.NEmbd,
            MaxPositionEmbeddings = o.BlockSize, HiddenDropoutProb = o.Dropout, AttentionProbsDropoutProb = o.Dropout, PadTokenId = pad,
        }.Validate();
        torch.manual_seed(o.Seed);
        Mlm = new BertForMaskedLm(config);
        _evalStarts = _val.RandomStarts(o.EvalBatches * o.BatchSize, o.BlockSize - 2, SplitMix64.Mix((ulong)o.Seed, 0xE7A1));
    }

    (Tensor Ids, Tensor Attend, Tensor Labels) Batch(TokenDataset data, IReadOnlyList<long> starts, ulong maskSeed)
    {
        int inner = _o.BlockSize - 2, t = _o.BlockSize;
        var ids = new long[starts.Count * t];
        var buffer = new int[inner];
        for (int b = 0; b < starts.Count; b++)
        {
            data.Read(starts[b], buffer);
            ids[b * t] = _cls;
            for (int i = 0; i < inner; i++) ids[b * t + 1 + i] = buffer[i];
            ids[b * t + t - 1] = _sep;
        }
        var attend = Enumerable.Repeat(true, ids.Length).ToArray();
        var labels = _masking.Apply(ids, attend, maskSeed);
        return (tensor(ids, [starts.Count, t]), tensor(attend, [starts.Count, t]), tensor(labels, [starts.Count, t]));
    }

    public Tensor MicroBatchLoss(int step, int micro)
    {
        ulong seed = SplitMix64.Mix((ulong)_o.Seed, (ulong)step, (ulong)micro);
        var rng = new SplitMix64(seed);
        long range = _train.Count - (_o.BlockSize - 2);
        var starts = Enumerable.Range(0, _o.BatchSize).Select(_ => (long)(rng.Next() % (ulong)range)).ToArray();
        var (ids, attend, labels) = Batch(_train, starts, rng.Next());
        var selected = labels.ne(MlmMasking.Ignore);
        return nn.functional.cross_entropy(Mlm.ForwardSelected(ids, attend, selected), labels[selected]);
    }

    public EvalResult Evaluate(CancellationToken ct) => EvaluateAt(_evalStarts, ct);

    /// <summary>The validation split, e.g. to choose covering windows for <see cref="EvaluateAt"/>.</summary>
    public TokenDataset Validation => _val;

    /// <summary>Masked loss and accuracy on validation windows of block_size − 2 tokens starting at <paramref name="starts"/> (fixed masks per batch).</summary>
    public EvalResult EvaluateAt(IReadOnlyList<long> starts, CancellationToken ct = default)
    {
        using var inference = new Runtime.InferenceScope(Mlm);
        double nats = 0;
        long count = 0, correct = 0;
        for (int i = 0; i < starts.Count; i += _o.BatchSize)
        {
            ct.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var (ids, attend, labels) = Batch(_val, starts.Skip(i).Take(_o.BatchSize).ToArray(), SplitMix64.Mix((ulong)_o.Seed, 0x3A5C, (ulong)i));
            var selected = labels.ne(MlmMasking.Ignore);
            long n = selected.sum().item<long>();
            if (n == 0) continue;
            var logits = Mlm.ForwardSelected(ids, attend, selected);
            var target = labels[selected];
            nats += nn.functional.cross_entropy(logits, target, reduction: nn.Reduction.Sum).item<float>();
            correct += logits.argmax(-1).eq(target).sum().item<long>();
            count += n;
        }
        double loss = nats / Math.Max(1, count);
        return new EvalResult(loss, new Dictionary<string, double> { ["masked_accuracy"] = (double)correct / Math.Max(1, count), ["perplexity"] = Math.Exp(loss) });
    }

    public void SaveWeights(string path) => ModuleWeights.Save(Mlm, path);
    public void LoadWeights(string path) => ModuleWeights.Load(Mlm, path);

    public void WriteRunFiles(RunFolder run)
    {
        Mlm.Config.Save(run.Config);
        Tokenizer.Save(run.Tokenizer);
        AtomicFile.WriteAllText(run.Data, DataDir + Environment.NewLine);
    }

    public void Dispose()
    {
        _train.Dispose();
        _val.Dispose();
        Mlm.Dispose();
    }
}
