using System.Text.Json;
using SharpLM.Catalogue;
using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.IO;
using SharpLM.Kinds;
using SharpLM.Models;
using SharpLM.Sources;
using SharpLM.Tokenization;
using SharpLM.Training;

namespace SharpLM.Workflows;

/// <summary>A whole fine-tuning job: data, split, starting point, model shape (from scratch) and hyperparameters.</summary>
public sealed record FineTuneRequest
{
    public required string Data { get; init; }
    public string TextColumn { get; init; } = "text";
    public string LabelColumn { get; init; } = "label";
    public required string Output { get; init; }
    public double ValFraction { get; init; } = 0.1;
    public double TestFraction { get; init; } = 0.1;

    /// <summary>Seed of the train/validation/test split; null uses the training seed. Fixing it while varying the
    /// training seed repeats a run on the same test e-mails (and keeps them out of a masked-LM corpus made from that split).</summary>
    public int? SplitSeed { get; init; }

    /// <summary>
    /// Share of the training split to fine-tune on (a stratified subset by the split seed; validation and test unchanged):
    /// how a model does with little labelled data. 1 uses it all.
    /// </summary>
    public double TrainFraction { get; init; } = 1;

    /// <summary>
    /// Passes over the training split; used unless <see cref="StepsFromEpochs"/> is false (then Training.MaxSteps counts).
    /// </summary>
    public double Epochs { get; init; } = 3;
    public bool StepsFromEpochs { get; init; } = true;
    public required TrainOptions Training { get; init; }

    /// <summary>
    /// The shape of a classifier built from scratch; from a pretrained run only <see cref="ModelShape.Context"/> (where
    /// texts are cut) and <see cref="ModelShape.Dropout"/> apply.
    /// </summary>
    public ModelShape Shape { get; init; } = new() { Context = 128, Dropout = 0.1 };
    public FineTuneOptions FineTune { get; init; } = new();

    /// <summary>Replace an earlier run in <see cref="Output"/> (only a run folder SharpLM wrote) instead of refusing it.</summary>
    public bool Overwrite { get; init; }

    /// <summary>
    /// Token classification and question answering: a separate test file (then <see cref="Data"/> is split into training
    /// and validation only, and <see cref="TestFraction"/> must be 0).
    /// </summary>
    public string? TestData { get; init; }

    /// <summary>Question answering: windows and answer length.</summary>
    public Evaluation.QaSettings Qa { get; init; } = new();
}

public sealed record FineTuneResult(
    string Run,
    IReadOnlyList<string> Labels,
    int TrainExamples,
    int ValExamples,
    int TestExamples,
    TrainingResult Training,
    ClassificationReport Test
);

/// <summary>
/// Loads labelled data, makes a stratified train/validation/test split by seed, fine-tunes a classifier (from a
/// pretrained run or from scratch, whichever kind the registry names), then reloads the best weights and reports on the
/// test split.
/// </summary>
public static class FineTuning
{
    /// <summary>The classifier kind a request trains: the pretrained run's body, else the named architecture, else BERT.</summary>
    public static ClassifierKind KindOf(FineTuneOptions f)
    {
        ClassifierKind? fromRun = null;
        if (f.Pretrained is string run)
        {
            var kind = ModelRegistry.ForRun(new RunFolder(run));
            fromRun =
                kind.Classifier ?? throw new SharpLMException($"{run} holds a {kind.Description}, which has no classifier to fine-tune.");
        }
        var asked = f.Architecture is string a ? ModelRegistry.ClassifierFor(a) : null;
        if (fromRun is not null && asked is not null && asked.Name != fromRun.Name)
            throw new SharpLMException(
                $"architecture {asked.Architecture} contradicts {f.Pretrained}, which holds a {fromRun.Architecture} model; leave the "
                    + "architecture out when fine-tuning a pretrained run."
            );
        return fromRun ?? asked ?? ModelRegistry.ClassifierFor("bert");
    }

    /// <summary>
    /// The tokenizer to fine-tune with: a pretrained run's own, or (from scratch) the named one, by default the kind's
    /// (bert-base-uncased for BERT, gpt2 for GPT).
    /// </summary>
    public static async Task<Tokenizer> TokenizerAsync(FineTuneOptions f, DataCatalogClient catalog)
    {
        var kind = KindOf(f);
        if (f.Pretrained is string from)
        {
            if (f.Tokenizer is not null)
                throw new SharpLMException($"A tokenizer applies when training from scratch; {from} brings its own.");
            return ModelFolderTokenizer.Load(new RunFolder(from).Path);
        }
        if (f.WordVectors is string vectors && f.Tokenizer is null)
        {
            RequireWordClassifier(kind);
            return Embeddings.WordVectors.Load(vectors).WordLevelTokenizer();
        }
        return await TokenizerSource.LoadAsync(f.Tokenizer ?? kind.DefaultTokenizer, catalog);
    }

    /// <summary>
    /// A fresh classifier (torch's global generator) for <paramref name="labels"/>: on the pretrained run's body, or of the request's
    /// shape.
    /// </summary>
    public static ISequenceClassifier CreateClassifier(
        ClassifierKind kind,
        FineTuneOptions f,
        ModelShape shape,
        Tokenizer tokenizer,
        string[] labels,
        int seed
    )
    {
        TorchSharp.torch.manual_seed(seed);
        if (f.WordVectors is not string path)
            return f.Pretrained is string run
                ? kind.CreateFrom(new RunFolder(run), tokenizer, labels, shape.Context, shape.Dropout)
                : kind.Create(shape, tokenizer, labels);
        RequireWordClassifier(kind);
        var vectors = Embeddings.WordVectors.Load(path);
        var classifier = (WordClassifier)kind.Create(shape with { Width = vectors.Dimensions }, tokenizer, labels);
        try
        {
            if (classifier.InitialiseEmbeddings(tokenizer, vectors.Dimensions, vectors.VectorOf) == 0)
                throw new SharpLMException(
                    $"None of the tokenizer's tokens has a vector in {path}; use its own words (leave the tokenizer out)."
                );
            return classifier;
        }
        catch
        {
            classifier.Dispose();
            throw;
        }
    }

    /// <summary>Word vectors start an embedding layer of the classifiers that learn their own; a transformer brings its own.</summary>
    static void RequireWordClassifier(ClassifierKind kind)
    {
        if (kind is not WordClassifierKind)
            throw new SharpLMException(
                $"word_vectors start the embeddings of the mlp and bilstm classifiers; a {kind.Architecture} classifier has its own."
            );
    }

    /// <summary>The request's train / validation / test indices: its stratified split, then its share of the training part.</summary>
    public static (int[] Train, int[] Val, int[] Test) Parts(LabelledDataset data, FineTuneRequest r)
    {
        var (train, val, test) = Split(data.LabelIndex, r.ValFraction, r.TestFraction, r.SplitSeed ?? r.Training.Seed);
        if (!(r.TrainFraction > 0 && r.TrainFraction <= 1))
            throw new SharpLMException($"train_fraction must be in (0, 1] (got {r.TrainFraction}).");
        if (r.TrainFraction < 1)
        {
            var kept = CrossValidation.StratifiedSplit(
                train.Select(i => data.LabelIndex[i]).ToArray(),
                [r.TrainFraction, 1 - r.TrainFraction],
                r.SplitSeed ?? r.Training.Seed
            )[0];
            train = kept.Select(k => train[k]).Order().ToArray();
        }
        return (train, val, test);
    }

    /// <summary>
    /// Stratified train / validation / test indices: first (rest, test), then rest into (train, validation), so the test
    /// part is the same whatever the validation fraction (and the same one grid search keeps out of its folds).
    /// </summary>
    public static (int[] Train, int[] Val, int[] Test) Split(IReadOnlyList<int> labels, double valFraction, double testFraction, int seed)
    {
        if (!(valFraction > 0 && testFraction >= 0 && valFraction + testFraction < 1))
            throw new SharpLMException(
                $"val_fraction must be positive, test_fraction non-negative, and together below 1 (got {valFraction} and {testFraction})."
            );
        var outer = CrossValidation.StratifiedSplit(labels, [1 - testFraction, testFraction], seed);
        var rest = outer[0];
        var inner = CrossValidation.StratifiedSplit(
            rest.Select(i => labels[i]).ToArray(),
            [1 - valFraction / (1 - testFraction), valFraction / (1 - testFraction)],
            seed
        );
        return (inner[0].Select(i => rest[i]).ToArray(), inner[1].Select(i => rest[i]).ToArray(), outer[1]);
    }

    public static async Task<FineTuneResult> RunAsync(
        FineTuneRequest r,
        DataCatalogClient catalog,
        IProgress<TrainingProgress>? progress = null,
        CancellationToken ct = default
    )
    {
        // Data-parallel: rank 0 alone claims and writes the run folder; every rank trains and scores.
        var parallel = r.Training.Parallel;
        bool lead = parallel is null || parallel.Rank == 0;
        if (lead)
            OutputFolder.Inspect(r.Output, FolderKind.Run); // refuse a folder of the user's before any work
        var kind = KindOf(r.FineTune);
        var (data, dataPath) = await LabelledDataSource.LoadAsync(r.Data, r.TextColumn, r.LabelColumn, catalog, ct);
        var (trainIdx, valIdx, testIdx) = Parts(data, r);
        if (trainIdx.Length == 0 || valIdx.Length == 0)
            throw new SharpLMException(
                "The split leaves no training or validation examples; use more data or other validation/test fractions."
            );
        var train = data.Subset(trainIdx, "the training split");
        var val = data.Subset(valIdx, "the validation split");
        var tokenizer = await TokenizerAsync(r.FineTune, catalog);

        var o = r.Training;
        if (r.StepsFromEpochs)
            o = o with
            {
                MaxSteps = Math.Max(
                    1,
                    (int)Math.Ceiling(r.Epochs * train.Examples.Count / (double)(o.BatchSize * o.GradAccumulation * (parallel?.Size ?? 1)))
                ),
            };
        o.Validate();
        var run = new RunFolder(r.Output);
        using var locked = lead ? run.Lock("fine-tuning") : null;
        if (lead && r.Overwrite)
            run.Clear();
        TrainingResult trained;
        var classifier = CreateClassifier(kind, r.FineTune, r.Shape, tokenizer, [.. train.Labels], o.Seed);
        using (var task = new ClassificationTask(train, val, tokenizer, classifier, o, r.FineTune))
            trained = Trainer.Train(task, run, resume: false, progress, ct);
        parallel?.Communicator.Barrier(); // rank 0 has written the best weights

        using var loaded = kind.Load(run);
        var model = loaded.As<ISequenceClassifier>("classification");
        var report = ClassifierEvaluator.Score(
            model,
            loaded.Tokenizer,
            testIdx.Select(i => data.Examples[i]).ToArray(),
            o.BatchSize,
            "the test split",
            ct
        );
        var result = new FineTuneResult(run.Path, model.Labels, trainIdx.Length, valIdx.Length, testIdx.Length, trained, report);
        if (!lead)
            return result;
        AtomicFile.WriteAllText(Path.Combine(run.Path, "test_report.json"), JsonSerializer.Serialize(result, Json.Indented));
        new SplitRecord(
            Path.GetFullPath(dataPath),
            r.TextColumn,
            r.LabelColumn,
            r.SplitSeed ?? o.Seed,
            r.TrainFraction,
            [1 - r.ValFraction - r.TestFraction, r.ValFraction, r.TestFraction],
            trainIdx,
            valIdx,
            testIdx
        ).Save(run.Path);
        return result;
    }
}
