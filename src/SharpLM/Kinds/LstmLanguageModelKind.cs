using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Models;
using SharpLM.Training;

namespace SharpLM.Kinds;

/// <summary>
/// An LSTM language model, pretrained on shards like a GPT (train --model lstm) and generating through the same pipeline.
/// </summary>
public sealed class LstmLanguageModelKind : ModelKind
{
    public override string Name => "lstm-lm";
    public override string Description => "LSTM language model";
    public override string Task => "text-generation";
    public override string Objective => "lm";
    public override string? ModelName => "lstm";

    public override bool Recognises(ModelConfigFile.Summary c) => c.ModelType == "sharplm-lstm";

    public override ITrainingTask CreatePretrainingTask(string? dataDir, ModelShape? shape, RunFolder? existing, TrainOptions options)
    {
        dataDir = DataFolder(dataDir, existing);
        var config = existing is not null
            ? LstmConfig.Load(existing.Config)
            : LstmConfig.For(shape ?? throw new ArgumentNullException(nameof(shape)), PreparedData.Tokenizer(dataDir));
        return new LstmLanguageModelTask(dataDir, config, options);
    }

    public override LoadedModel Load(RunFolder run)
    {
        RequireWeights(run);
        var config = LstmConfig.Load(run.Config);
        var model = new LstmLanguageModel(config);
        return Loaded(run, model, config.VocabSize, path => model.LoadWeights(path), config);
    }

    /// <summary>Loss, perplexity and bits per byte over a split read in batch_size contiguous lanes, the state carried along.</summary>
    public override EvaluationOutcome Evaluate(
        LoadedModel loaded,
        EvaluationRequest r,
        IProgress<(int Done, int Total)>? progress = null,
        CancellationToken ct = default
    )
    {
        var lstm = loaded.As<LstmLanguageModel>("language-model evaluation");
        string part = r.Split ?? "val";
        if (part == "test")
            throw new SharpLMException("The test split applies to classifiers; a language model's prepared data has train and val splits.");
        string dir = loaded.Run.DataDir(r.Data);
        using var dataset = TokenDataset.Open(dir, part, lstm.Config.VocabSize);
        var tokenizer = loaded.Tokenizer;
        var tokenBytes = LanguageModelMetrics.TokenBytes(tokenizer, lstm.Config.VocabSize);
        var m = LstmLanguageModelTask.Evaluate(lstm, dataset, r.BatchSize, r.MaxWindows, tokenBytes, ct, progress);
        return new EvaluationOutcome(
            new
            {
                model = loaded.Run.Path,
                data = Path.GetFullPath(dir),
                split = dataset.Split,
                lanes = r.BatchSize,
                window = lstm.Config.Bptt,
                m.Loss,
                m.Perplexity,
                m.BitsPerByte,
                m.Tokens,
                m.Bytes,
            },
            [m.ToTable(dataset.Split)]
        );
    }
}
