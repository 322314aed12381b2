using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Models;
using SharpLM.Tokenization;
using SharpLM.Training;

namespace SharpLM.Kinds;

/// <summary>A GPT-2-style causal language model (HF GPT2LMHeadModel), pretrained on shards with next-token prediction.</summary>
public sealed class GptLanguageModelKind : ModelKind
{
    public override string Name => "gpt2-lm";
    public override string Description => "GPT language model";
    public override string Task => "text-generation";
    public override string Objective => "lm";
    public override string? ModelName => "gpt";
    public override ClassifierKind Classifier => new GptClassifierKind();

    public override bool Recognises(ModelConfigFile.Summary c) => c.ModelType == "gpt2" && !c.HasLabels;

    public override ITrainingTask CreatePretrainingTask(string? dataDir, ModelShape? shape, RunFolder? existing, TrainOptions options)
    {
        dataDir = DataFolder(dataDir, existing);
        var config = existing is not null
            ? GptConfig.Load(existing.Config)
            : GptConfig.For(shape ?? throw new ArgumentNullException(nameof(shape)), PreparedData.Tokenizer(dataDir));
        return new LanguageModelTask(dataDir, config, options);
    }

    public override LoadedModel Load(RunFolder run)
    {
        RequireWeights(run);
        var config = GptConfig.Load(run.Config);
        var model = new Gpt(config);
        return Loaded(run, model, config.VocabSize, model.LoadWeights, config);
    }

    /// <summary>Loss, perplexity and bits per byte over every non-overlapping context-length window of a split.</summary>
    public override EvaluationOutcome Evaluate(
        LoadedModel loaded,
        EvaluationRequest r,
        IProgress<(int Done, int Total)>? progress = null,
        CancellationToken ct = default
    )
    {
        var gpt = loaded.As<Gpt>("language-model evaluation");
        var tokenizer = loaded.Tokenizer;
        string part = r.Split ?? "val";
        if (part == "test")
            throw new SharpLMException("The test split applies to classifiers; a language model's prepared data has train and val splits.");
        string dir = loaded.Run.DataDir(r.Data);
        var prepared = File.Exists(Path.Combine(dir, "tokenizer.json")) ? PreparedData.Tokenizer(dir) : null;
        if (prepared is not null && prepared.VocabSize != tokenizer.VocabSize)
            throw new SharpLMException(
                $"{dir} was tokenized with a {prepared.VocabSize}-token vocabulary but the model uses {tokenizer.VocabSize}; evaluate "
                    + "on data prepared with the run's tokenizer.json."
            );
        using var dataset = TokenDataset.Open(dir, part, gpt.Config.VocabSize);
        int block = gpt.Config.NPositions;
        var starts = LanguageModelEvaluator.CoveringWindows(dataset, block, r.MaxWindows);
        var tokenBytes = LanguageModelMetrics.TokenBytes(tokenizer, gpt.Config.VocabSize);
        var m = LanguageModelEvaluator.Evaluate(gpt, dataset, starts, block, r.BatchSize, tokenBytes, progress, ct);
        return new EvaluationOutcome(
            new
            {
                model = loaded.Run.Path,
                data = Path.GetFullPath(dir),
                split = dataset.Split,
                windows = starts.Length,
                context = block,
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
