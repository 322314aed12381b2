using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Models;
using SharpLM.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>Next-token prediction for a GPT on prepared token shards.</summary>
public sealed class LanguageModelTask : ITrainingTask
{
    readonly TokenDataset _train, _val;
    readonly TrainOptions _o;
    readonly int[] _tokenBytes;
    readonly long[] _evalStarts;
    public Gpt Gpt { get; }
    public Tokenizer Tokenizer { get; }
    public string DataDir { get; }
    public nn.Module Model => Gpt;
    public long TokensPerMicroBatch => (long)_o.BatchSize * _o.BlockSize;

    /// <summary>Opens the data folder written by 'sharplm prepare' and builds (seeded) the model it implies.</summary>
    public LanguageModelTask(string dataDir, TrainOptions o)
    {
        DataDir = Path.GetFullPath(dataDir);
        _o = o;
        if (!Directory.Exists(dataDir)) throw new SharpLMException($"Data folder {dataDir} does not exist; create it with 'sharplm prepare --output {dataDir} ...'.");
        string tokenizerPath = Path.Combine(dataDir, "tokenizer.json");
        if (!File.Exists(tokenizerPath)) throw new SharpLMException($"{dataDir} has no tokenizer.json; prepare it with 'sharplm prepare --output {dataDir} ...'.");
        Tokenizer = TokenizerJson.Load(tokenizerPath);
        _train = TokenDataset.Open(dataDir, "train", Tokenizer.VocabSize);
        _val = TokenDataset.Open(dataDir, "val", Tokenizer.VocabSize);
        _train.RequireWindow(o.BlockSize);
        _val.RequireWindow(o.BlockSize);
        _tokenBytes = Enumerable.Range(0, Tokenizer.VocabSize).Select(Tokenizer.TokenByteCount).ToArray();
        var config = new GptConfig
        {
            VocabSize = Tokenizer.VocabSize, NPositions = o.BlockSize, NEmbd = o.NEmbd, NLayer = o.NLayer, NHead = o.NHead,
            EosTokenId = Tokenizer.SpecialTokenId("<|endoftext|>"), BosTokenId = Tokenizer.SpecialTokenId("<|endoftext|>"),
        }.WithDropout(o.Dropout).Validate();
        torch.manual_seed(o.Seed);
        Gpt = new Gpt(config);
        // The same validation windows at every evaluation, so successive figures are comparable.
        _evalStarts = _val.RandomStarts(o.EvalBatches * o.BatchSize, o.BlockSize, SplitMix64.Mix((ulong)o.Seed, 0xE7A1));
    }

    public Tensor MicroBatchLoss(int step, int micro)
    {
        var (x, y) = _train.RandomBatch(_o.BatchSize, _o.BlockSize, SplitMix64.Mix((ulong)_o.Seed, (ulong)step, (ulong)micro));
        return Gpt.Loss(Gpt.forward(x), y);
    }

    public EvalResult Evaluate(CancellationToken ct)
    {
        var m = LanguageModelEvaluator.Evaluate(Gpt, _val, _evalStarts, _o.BlockSize, _o.BatchSize, _tokenBytes, ct: ct);
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
