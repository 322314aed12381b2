using System.Text.Json;
using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.IO;
using SharpLM.Models;
using SharpLM.Tokenization;

namespace SharpLM.Training;

/// <summary>A whole fine-tuning job: data, split, starting point, hyperparameters.</summary>
public sealed record FineTuneRequest
{
    public required string Data { get; init; }
    public string TextColumn { get; init; } = "text";
    public string LabelColumn { get; init; } = "label";
    public required string Output { get; init; }
    public double ValFraction { get; init; } = 0.1;
    public double TestFraction { get; init; } = 0.1;
    /// <summary>Passes over the training split (ignored when Training.MaxSteps is set explicitly by the caller).</summary>
    public double Epochs { get; init; } = 3;
    public bool StepsFromEpochs { get; init; } = true;
    public required TrainOptions Training { get; init; }
    public FineTuneOptions FineTune { get; init; } = new();
}

public sealed record FineTuneResult(string Run, IReadOnlyList<string> Labels, int TrainExamples, int ValExamples, int TestExamples,
    TrainingResult Training, ClassificationReport Test);

/// <summary>
/// Loads labelled data, makes a stratified train/validation/test split by seed, fine-tunes a BERT classifier (from a
/// pretrained run or from scratch), then reloads the best weights and reports on the test split.
/// </summary>
public static class FineTuning
{
    /// <summary>Labelled data from a file, folder or catalogue name.</summary>
    public static async Task<(LabelledDataset Data, string Path)> LoadDataAsync(string data, string textColumn, string labelColumn, DataCatalogClient catalog, CancellationToken ct = default)
    {
        string path = Directory.Exists(data) || File.Exists(data) ? data
            : Catalog.Find(data) is { } entry ? await catalog.GetAsync(entry, ct: ct)
            : throw new SharpLMException($"{data} is neither a file, a folder nor a catalogue name; give a CSV/TSV/JSONL file, a folder per label, or spam-assassin.");
        return (LabelledDataset.Load(path, textColumn, labelColumn), path);
    }

    /// <summary>The starting point: a pretrained BERT run's config and tokenizer, or (from scratch) just a tokenizer.</summary>
    public static async Task<(Tokenizer Tokenizer, BertConfig? Pretrained)> StartingPointAsync(FineTuneOptions f, DataCatalogClient catalog)
    {
        if (f.Pretrained is not string from) return (await TokenizerSource.LoadAsync(f.Tokenizer ?? TokenizerSource.BertBaseUncased, catalog), null);
        var run = new RunFolder(from);
        if (run.ModelType() != "bert") throw new SharpLMException($"{from} holds a {run.ModelType()} model; fine-tuning starts from a BERT run ('sharplm train --objective mlm').");
        return (TokenizerJson.Load(run.Tokenizer), BertConfig.Load(run.Config) with { Labels = null });
    }

    /// <summary>
    /// Stratified train / validation / test indices: first (rest, test), then rest into (train, validation), so the test
    /// part is the same whatever the validation fraction (and the same one 'sharplm tune' keeps out of its folds).
    /// </summary>
    public static (int[] Train, int[] Val, int[] Test) Split(IReadOnlyList<int> labels, double valFraction, double testFraction, int seed)
    {
        var outer = CrossValidation.StratifiedSplit(labels, [1 - testFraction, testFraction], seed);
        var rest = outer[0];
        var inner = CrossValidation.StratifiedSplit(rest.Select(i => labels[i]).ToArray(), [1 - valFraction / (1 - testFraction), valFraction / (1 - testFraction)], seed);
        return (inner[0].Select(i => rest[i]).ToArray(), inner[1].Select(i => rest[i]).ToArray(), outer[1]);
    }

    public static async Task<FineTuneResult> RunAsync(FineTuneRequest r, DataCatalogClient catalog, IProgress<TrainingProgress>? progress = null, CancellationToken ct = default)
    {
        var (data, dataPath) = await LoadDataAsync(r.Data, r.TextColumn, r.LabelColumn, catalog, ct);
        var (trainIdx, valIdx, testIdx) = Split(data.LabelIndex, r.ValFraction, r.TestFraction, r.Training.Seed);
        int[][] parts = [trainIdx, valIdx, testIdx];
        if (parts[0].Length == 0 || parts[1].Length == 0) throw new SharpLMException("The split leaves no training or validation examples; use more data or other --val-fraction/--test-fraction.");
        var train = data.Subset(parts[0], "the training split");
        var val = data.Subset(parts[1], "the validation split");
        var (tokenizer, pretrainedConfig) = await StartingPointAsync(r.FineTune, catalog);

        var o = r.Training;
        if (r.StepsFromEpochs) o = o with { MaxSteps = Math.Max(1, (int)Math.Ceiling(r.Epochs * train.Examples.Count / (double)(o.BatchSize * o.GradAccumulation))) };
        o = o.Validate();
        var runFolder = new RunFolder(r.Output);
        TrainingResult trained;
        using (var task = new ClassificationTask(train, val, tokenizer, o, r.FineTune, pretrainedConfig))
            trained = new Trainer(task, o, runFolder).Run(resume: false, progress, ct);

        var (model, tok) = runFolder.LoadBertClassifier();
        using var _ = model;
        var labels = model.Config.Labels!;
        var testIds = parts[2].Select(i => ClassificationTask.Wrap(tok, data.Examples[i].Text, o.BlockSize)).ToArray();
        var testLabels = parts[2].Select(i => Array.IndexOf(labels, data.Examples[i].Label)).ToArray();
        ClassificationReport report;
        if (testIds.Length == 0) report = ClassificationMetrics.Compute([], [], labels);
        else
        {
            var (p, predicted) = ClassificationTask.Predict(model, testIds, tok.SpecialTokenId("[PAD]")!.Value, o.BatchSize, ct);
            report = ClassificationMetrics.Compute(testLabels, predicted, labels, labels.Length == 2 ? p.Select(x => (double)x[1]).ToArray() : null);
        }
        var result = new FineTuneResult(runFolder.Path, labels, parts[0].Length, parts[1].Length, parts[2].Length, trained, report);
        AtomicFile.WriteAllText(Path.Combine(runFolder.Path, "test_report.json"), JsonSerializer.Serialize(result, Json.Indented));
        AtomicFile.WriteAllText(Path.Combine(runFolder.Path, "split.json"), JsonSerializer.Serialize(new
        {
            data = Path.GetFullPath(dataPath), seed = o.Seed, fractions = new[] { 1 - r.ValFraction - r.TestFraction, r.ValFraction, r.TestFraction },
            train = parts[0], val = parts[1], test = parts[2],
        }, Json.Compact));
        return result;
    }
}
