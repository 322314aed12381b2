using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.IO;
using SharpLM.Models;
using SharpLM.Training;

namespace SharpLM.Kinds;

/// <summary>A BERT encoder with its masked-LM head (HF BertForMaskedLM), pretrained on WordPiece shards.</summary>
public sealed class BertMaskedLanguageModelKind : ModelKind
{
    public override string Name => "bert-mlm";
    public override string Description => "masked-LM BERT encoder";
    public override string Task => "fill-mask";
    public override string Objective => "mlm";
    public override ClassifierKind Classifier => new BertClassifierKind();

    public override bool Recognises(ModelConfigFile.Summary c) => c.ModelType == "bert" && !c.HasLabels && !c.Has("ForQuestionAnswering");

    public override ITrainingTask CreatePretrainingTask(string? dataDir, ModelShape? shape, RunFolder? existing, TrainOptions options)
    {
        dataDir = DataFolder(dataDir, existing);
        var config = existing is not null
            ? BertConfig.Load(existing.Config)
            : BertConfig.For(shape ?? throw new ArgumentNullException(nameof(shape)), PreparedData.Tokenizer(dataDir));
        return new MaskedLanguageModelTask(dataDir, config, options);
    }

    public override LoadedModel Load(RunFolder run)
    {
        RequireWeights(run);
        var config = BertConfig.Load(run.Config);
        var model = new BertForMaskedLm(config);
        return Loaded(run, model, config.VocabSize, model.LoadWeights, config);
    }

    /// <summary>Masked-token loss and accuracy over covering windows of the validation split, masked as in training.</summary>
    public override EvaluationOutcome Evaluate(
        LoadedModel loaded,
        EvaluationRequest r,
        IProgress<(int Done, int Total)>? progress = null,
        CancellationToken ct = default
    )
    {
        var mlm = loaded.As<BertForMaskedLm>("masked-LM evaluation");
        mlm.RequireMaskedLmHead("masked-LM evaluation");
        string part = r.Split ?? "val";
        if (part == "test")
            throw new SharpLMException("The test split applies to classifiers; a masked-LM run's prepared data has train and val splits.");
        if (part != "val")
            throw new SharpLMException("Masked-LM evaluation reads the validation split.");
        // the masks training drew
        int seed = File.Exists(loaded.Run.Training) ? TrainOptions.Load(loaded.Run.Training).Seed : new TrainOptions().Seed;
        string dir = loaded.Run.DataDir(r.Data);
        var masking = MaskedLanguageModelTask.Masking(loaded.Tokenizer, dir, out int cls, out int sep);
        using var dataset = TokenDataset.Open(dir, part, mlm.Config.VocabSize);
        int context = mlm.Config.MaxPositionEmbeddings;
        var windows = new MaskedWindows(dataset, context, cls, sep, masking);
        var starts = LanguageModelEvaluator.CoveringWindows(dataset, context - 2, r.MaxWindows);
        var m = MaskedLanguageModelEvaluator.Evaluate(mlm, windows, starts, r.BatchSize, seed, progress, ct);
        return new EvaluationOutcome(
            new
            {
                model = loaded.Run.Path,
                data = Path.GetFullPath(dir),
                split = part,
                windows = starts.Length,
                loss = m.Loss,
                maskedAccuracy = m.MaskedAccuracy,
                perplexity = m.Perplexity,
            },
            [
                new ReportTable(
                    ["split", "windows", "masked loss", "masked accuracy", "perplexity"],
                    [
                        [
                            part,
                            starts.Length.ToString("N0"),
                            m.Loss.ToString("F4"),
                            m.MaskedAccuracy.ToString("P2"),
                            m.Perplexity.ToString("F2"),
                        ],
                    ]
                ),
            ]
        );
    }
}
