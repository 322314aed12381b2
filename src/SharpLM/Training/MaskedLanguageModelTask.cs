using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.IO;
using SharpLM.Models;
using SharpLM.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>
/// Masked-LM pretraining of a BERT encoder on prepared WordPiece shards: each example is a random window of
/// max_position_embeddings − 2 tokens wrapped in [CLS] … [SEP], corrupted by <see cref="MlmMasking"/>; the loss counts
/// selected positions only. Evaluation: loss and accuracy on the masked tokens of fixed validation windows with fixed masks.
/// </summary>
public sealed class MaskedLanguageModelTask : ITrainingTask
{
    readonly TokenDataset _train,
        _val;
    readonly MaskedWindows _trainWindows,
        _valWindows;
    readonly long[] _evalStarts;
    public BertForMaskedLm Mlm { get; }
    public Tokenizer Tokenizer { get; }
    public string DataDir { get; }
    public TrainOptions Options { get; }
    public IModelConfig ModelConfig => Mlm.Config;
    public nn.Module Model => Mlm;

    public MaskedLanguageModelTask(string dataDir, BertConfig config, TrainOptions options)
    {
        DataDir = Path.GetFullPath(dataDir);
        Options = options.Validate();
        Tokenizer = PreparedData.Tokenizer(dataDir);
        var masking = Masking(Tokenizer, dataDir, out int cls, out int sep);
        int context = config.MaxPositionEmbeddings;
        if (context < 3)
            throw new SharpLMException("Masked-LM training needs a block_size of at least 3 ([CLS], a token, [SEP]).");
        if (Tokenizer.VocabSize > config.VocabSize)
            throw new SharpLMException(
                $"{dataDir} was prepared with {Tokenizer.VocabSize} tokens but the model has only {config.VocabSize}; prepare the data "
                    + "with the run's tokenizer.json."
            );
        _train = TokenDataset.Open(dataDir, "train", config.VocabSize);
        _val = TokenDataset.Open(dataDir, "val", config.VocabSize);
        try
        {
            _train.RequireWindow(context - 2);
            _val.RequireWindow(context - 2);
            _trainWindows = new MaskedWindows(_train, context, cls, sep, masking);
            _valWindows = new MaskedWindows(_val, context, cls, sep, masking);
            torch.manual_seed(options.Seed);
            Mlm = new BertForMaskedLm(config);
            _evalStarts = _val.RandomStarts(
                options.EvalBatches * options.BatchSize,
                context - 2,
                SplitMix64.Mix((ulong)options.Seed, 0xE7A1)
            );
        }
        catch
        {
            _train.Dispose();
            _val.Dispose();
            throw;
        }
    }

    /// <summary>The masking of a WordPiece tokenizer (which must have [CLS], [SEP], [MASK] and [PAD]).</summary>
    public static MlmMasking Masking(Tokenizer tokenizer, string source, out int cls, out int sep)
    {
        int Special(string t) =>
            tokenizer.SpecialTokenId(t)
            ?? throw new SharpLMException(
                $"Masked-LM models need a WordPiece tokenizer with {t}; {source} has a {tokenizer.Kind} tokenizer without it (use "
                    + "bert-base-uncased, or one trained with kind wordpiece)."
            );
        cls = Special("[CLS]");
        sep = Special("[SEP]");
        Special("[PAD]");
        return new MlmMasking(
            Special("[MASK]"),
            tokenizer.VocabSize,
            tokenizer.AddedTokens.Where(t => t.Special).Select(t => t.Id).ToHashSet()
        );
    }

    public MicroBatch MicroBatchLoss(int step, int micro)
    {
        var rng = new SplitMix64(SplitMix64.Mix((ulong)Options.Seed, (ulong)step, (ulong)micro));
        long range = _train.Count - _trainWindows.Inner;
        var starts = Enumerable.Range(0, Options.BatchSize).Select(_ => (long)(rng.Next() % (ulong)range)).ToArray();
        var (ids, attend, labels) = _trainWindows.Batch(starts, rng.Next());
        using var s = new Runtime.Scalars();
        var selected = labels.ne(s[MlmMasking.Ignore]);
        return new MicroBatch(nn.functional.cross_entropy(Mlm.ForwardSelected(ids, attend, selected), labels[selected]), ids.numel());
    }

    public EvalResult Evaluate(CancellationToken ct)
    {
        var m = MaskedLanguageModelEvaluator.Evaluate(Mlm, _valWindows, _evalStarts, Options.BatchSize, Options.Seed, ct: ct);
        return new EvalResult(
            m.Loss,
            new Dictionary<string, double> { ["masked_accuracy"] = m.MaskedAccuracy, ["perplexity"] = m.Perplexity }
        );
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
