using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Models;
using SharpLM.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>Next-token prediction for a GPT on prepared token shards: random windows of n_positions + 1 tokens.</summary>
public sealed class LanguageModelTask : ITrainingTask
{
    readonly TokenDataset _train,
        _val;
    readonly int[] _tokenBytes;
    readonly long[] _evalStarts;
    public Gpt Gpt { get; }
    public Tokenizer Tokenizer { get; }
    public string DataDir { get; }
    public TrainOptions Options { get; }
    public IModelConfig ModelConfig => Gpt.Config;
    public nn.Module Model => Gpt;

    /// <summary>Opens the data folder written by prepare and builds (seeded) a GPT with <paramref name="config"/>.</summary>
    public LanguageModelTask(string dataDir, GptConfig config, TrainOptions options)
    {
        DataDir = Path.GetFullPath(dataDir);
        Options = options.Validate();
        Tokenizer = PreparedData.Tokenizer(dataDir);
        if (Tokenizer.VocabSize > config.VocabSize)
            throw new SharpLMException(
                $"{dataDir} was prepared with {Tokenizer.VocabSize} tokens but the model has only {config.VocabSize}; prepare the data "
                    + "with the run's tokenizer.json."
            );
        int block = config.NPositions;
        _train = TokenDataset.Open(dataDir, "train", config.VocabSize);
        _val = TokenDataset.Open(dataDir, "val", config.VocabSize);
        try
        {
            _train.RequireWindow(block);
            _val.RequireWindow(block);
            _tokenBytes = Evaluation.LanguageModelMetrics.TokenBytes(Tokenizer, config.VocabSize);
            torch.manual_seed(options.Seed);
            Gpt = new Gpt(config);
            // The same validation windows at every evaluation, so successive figures are comparable; data-parallel ranks
            // all evaluate the global batch's worth, as one process with the whole batch would.
            int windows = options.EvalBatches * options.BatchSize * (options.Parallel?.Size ?? 1);
            _evalStarts = _val.RandomStarts(windows, block, SplitMix64.Mix((ulong)options.Seed, 0xE7A1));
        }
        catch
        {
            _train.Dispose();
            _val.Dispose();
            throw;
        }
    }

    public MicroBatch MicroBatchLoss(int step, int micro)
    {
        // The global micro-batch is batch_size × ranks windows drawn from one seeded stream; this rank takes its rows.
        int ranks = Options.Parallel?.Size ?? 1,
            rank = Options.Parallel?.Rank ?? 0;
        var starts = _train.RandomStarts(
            Options.BatchSize * ranks,
            Gpt.Config.NPositions,
            SplitMix64.Mix((ulong)Options.Seed, (ulong)step, (ulong)micro)
        );
        var (x, y) = _train.Windows(new ArraySegment<long>(starts, rank * Options.BatchSize, Options.BatchSize), Gpt.Config.NPositions);
        return new MicroBatch(Gpt.Loss(Gpt.forward(x), y), y.numel());
    }

    public bool SupportsDataParallel => true;

    public EvalResult Evaluate(CancellationToken ct)
    {
        var m = LanguageModelEvaluator.Evaluate(Gpt, _val, _evalStarts, Gpt.Config.NPositions, Options.BatchSize, _tokenBytes, ct: ct);
        return new EvalResult(m.Loss, new Dictionary<string, double> { ["perplexity"] = m.Perplexity, ["bits_per_byte"] = m.BitsPerByte });
    }

    public void SaveWeights(string path) => Gpt.SaveWeights(path);

    public void LoadWeights(string path) => Gpt.LoadWeights(path);

    public void WriteRunFiles(RunFolder run)
    {
        Gpt.Config.Save(run.Config);
        Tokenizer.Save(run.Tokenizer);
        IO.AtomicFile.WriteAllText(run.Data, DataDir + Environment.NewLine);
    }

    public void Dispose()
    {
        _train.Dispose();
        _val.Dispose();
        Gpt.Dispose();
    }
}
