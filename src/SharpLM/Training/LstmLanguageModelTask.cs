using SharpLM.Data;
using SharpLM.Models;
using SharpLM.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>
/// Next-token prediction for an LSTM with truncated back-propagation: the training split is cut into batch_size
/// contiguous lanes, and micro-batch k reads window k of every lane, continuing the state the previous window left
/// (detached, so gradients stop at the window's start; zeros again when the lanes wrap around). The state travels with
/// the checkpoint's weights, so a resumed run continues exactly where it stopped. Evaluation reads the first eval_batches
/// windows of batch_size validation lanes the same way.
/// </summary>
public sealed class LstmLanguageModelTask : ITrainingTask
{
    readonly TokenDataset _train,
        _val;
    readonly int[] _tokenBytes;
    LstmState? _state;
    public LstmLanguageModel Lstm { get; }
    public Tokenizer Tokenizer { get; }
    public string DataDir { get; }
    public TrainOptions Options { get; }
    public Models.IModelConfig ModelConfig => Lstm.Config;
    public nn.Module Model => Lstm;

    public LstmLanguageModelTask(string dataDir, LstmConfig config, TrainOptions options)
    {
        DataDir = Path.GetFullPath(dataDir);
        Options = options.Validate();
        Tokenizer = PreparedData.Tokenizer(dataDir);
        if (Tokenizer.VocabSize > config.VocabSize)
            throw new SharpLMException(
                $"{dataDir} was prepared with {Tokenizer.VocabSize} tokens but the model has only {config.VocabSize}; prepare the data "
                    + "with the run's tokenizer.json."
            );
        _train = TokenDataset.Open(dataDir, "train", config.VocabSize);
        _val = TokenDataset.Open(dataDir, "val", config.VocabSize);
        try
        {
            Lanes(_train, options.BatchSize, config.Bptt, "train");
            Lanes(_val, 1, config.Bptt, "val");
            _tokenBytes = Evaluation.LanguageModelMetrics.TokenBytes(Tokenizer, config.VocabSize);
            manual_seed(options.Seed);
            Lstm = new LstmLanguageModel(config);
        }
        catch
        {
            _train.Dispose();
            _val.Dispose();
            throw;
        }
    }

    /// <summary>(lane length, windows per lane) of a split cut into <paramref name="lanes"/> contiguous lanes.</summary>
    public static (long Length, long Windows) Lanes(TokenDataset data, int lanes, int window, string split)
    {
        long length = data.Count / lanes;
        long windows = (length - 1) / window;
        if (windows < 1)
            throw new SharpLMException(
                $"The {split} split has {data.Count:N0} tokens: too few for batch_size {lanes} lanes of windows of {window} + 1; use a "
                    + "smaller batch_size or block_size, or more data."
            );
        return (length, windows);
    }

    /// <summary>Inputs and targets [lanes, window] of window <paramref name="index"/> of each lane.</summary>
    static (Tensor X, Tensor Y) Window(TokenDataset data, int lanes, int window, long index)
    {
        var (length, windows) = Lanes(data, lanes, window, data.Split);
        long at = index % windows * window;
        return data.Windows(Enumerable.Range(0, lanes).Select(b => b * length + at).ToArray(), window);
    }

    public MicroBatch MicroBatchLoss(int step, int micro)
    {
        int window = Lstm.Config.Bptt,
            lanes = Options.BatchSize;
        long k = (long)step * Options.GradAccumulation + micro;
        var (_, windows) = Lanes(_train, lanes, window, "train");
        if (k % windows == 0)
            SetState(null); // the lanes start over: so does the state
        var (x, y) = Window(_train, lanes, window, k);
        var (logits, state) = Lstm.Forward(x, _state);
        SetState(state.Detach());
        return new MicroBatch(Gpt.Loss(logits, y), y.numel());
    }

    void SetState(LstmState? state)
    {
        var old = _state;
        _state = state is LstmState s ? new LstmState(s.Hidden.DetachFromDisposeScope(), s.Cell.DetachFromDisposeScope()) : null;
        if (old is LstmState o)
        {
            o.Hidden.Dispose();
            o.Cell.Dispose();
        }
    }

    public EvalResult Evaluate(CancellationToken ct)
    {
        var m = Evaluate(Lstm, _val, Options.BatchSize, Options.EvalBatches, _tokenBytes, ct);
        return new EvalResult(m.Loss, new Dictionary<string, double> { ["perplexity"] = m.Perplexity, ["bits_per_byte"] = m.BitsPerByte });
    }

    /// <summary>
    /// Loss over the first <paramref name="maxWindows"/> windows (all when null) of <paramref name="lanes"/> contiguous lanes
    /// (fewer if the split is short), the state carried from window to window: mean loss, perplexity and bits per byte.
    /// </summary>
    public static Evaluation.LanguageModelMetrics Evaluate(
        LstmLanguageModel model,
        TokenDataset data,
        int lanes,
        int? maxWindows,
        int[] tokenBytes,
        CancellationToken ct = default,
        IProgress<(int Done, int Total)>? progress = null
    )
    {
        int window = model.Config.Bptt;
        // A short split is read in fewer lanes rather than refused: every lane needs one window of window + 1 tokens.
        lanes = (int)Math.Max(1, Math.Min(lanes, data.Count / (window + 1)));
        var (_, windows) = Lanes(data, lanes, window, data.Split);
        long count = Math.Min(windows, maxWindows ?? windows);
        double nats = 0;
        long tokens = 0,
            bytes = 0;
        LstmState? state = null;
        using (new Runtime.InferenceScope(model))
            for (long k = 0; k < count; k++)
            {
                ct.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var (x, y) = Window(data, lanes, window, k);
                var (logits, next) = model.Forward(x, state);
                nats += nn
                    .functional.cross_entropy(logits.view(-1, logits.shape[^1]), y.view(-1), reduction: nn.Reduction.Sum)
                    .item<float>();
                tokens += y.numel();
                foreach (long id in y.data<long>())
                    bytes += tokenBytes[id];
                state?.Hidden.Dispose();
                state?.Cell.Dispose();
                state = new LstmState(next.Hidden.DetachFromDisposeScope(), next.Cell.DetachFromDisposeScope());
                progress?.Report(((int)(k + 1), (int)count));
            }
        state?.Hidden.Dispose();
        state?.Cell.Dispose();
        return Evaluation.LanguageModelMetrics.From(nats, tokens, bytes);
    }

    public void SaveWeights(string path) => Lstm.SaveWeights(path, _state);

    public void LoadWeights(string path) => SetState(Lstm.LoadWeights(path));

    public void WriteRunFiles(RunFolder run)
    {
        Lstm.Config.Save(run.Config);
        Tokenizer.Save(run.Tokenizer);
        IO.AtomicFile.WriteAllText(run.Data, DataDir + Environment.NewLine);
    }

    public void Dispose()
    {
        SetState(null);
        _train.Dispose();
        _val.Dispose();
        Lstm.Dispose();
    }
}
