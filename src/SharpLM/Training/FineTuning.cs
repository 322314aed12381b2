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
    /// <summary>Seed of the train/validation/test split; null uses the training seed. Fixing it while varying the
    /// training seed repeats a run on the same test e-mails (and keeps them out of a masked-LM corpus made from that split).</summary>
    public int? SplitSeed { get; init; }
    /// <summary>
    /// Share of the training split to fine-tune on (a stratified subset by the split seed; validation and test unchanged):
    /// how a model does with little labelled data. 1 uses it all.
    /// </summary>
    public double TrainFraction { get; init; } = 1;
    /// <summary>Passes over the training split (ignored when Training.MaxSteps is set explicitly by the caller).</summary>
    public double Epochs { get; init; } = 3;
    public bool StepsFromEpochs { get; init; } = true;
    public required TrainOptions Training { get; init; }
    public FineTuneOptions FineTune { get; init; } = new();
    /// <summary>Replace an earlier run in <see cref="Output"/> (only a run folder SharpLM wrote) instead of refusing it.</summary>
    public bool Overwrite { get; init; }
}

public sealed record FineTuneResult(string Run, IReadOnlyList<string> Labels, int TrainExamples, int ValExamples, int TestExamples,
    TrainingResult Training, ClassificationReport Test);

/// <summary>
/// Loads labelled data, makes a stratified train/validation/test split by seed, fine-tunes a BERT or GPT classifier (from a
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

    /// <summary>
    /// The tokenizer to fine-tune with: a pretrained run's own, or (from scratch) --tokenizer, by default
    /// bert-base-uncased for BERT and gpt2 for GPT. Also checks the pretrained run and the architecture.
    /// </summary>
    public static async Task<Tokenizer> TokenizerAsync(FineTuneOptions f, DataCatalogClient catalog)
    {
        string architecture = f.ResolveArchitecture();
        if (f.Pretrained is string from)
        {
            if (f.Tokenizer is not null) throw new SharpLMException($"--tokenizer applies when training from scratch; {from} brings its own tokenizer.");
            return TokenizerJson.Load(new RunFolder(from).Tokenizer);
        }
        return await TokenizerSource.LoadAsync(f.Tokenizer ?? (architecture == FineTuneOptions.Gpt ? TokenizerSource.Gpt2 : TokenizerSource.BertBaseUncased), catalog);
    }

    /// <summary>
    /// Stratified train / validation / test indices: first (rest, test), then rest into (train, validation), so the test
    /// part is the same whatever the validation fraction (and the same one 'sharplm tune' keeps out of its folds).
    /// </summary>
    /// <summary>
    /// The labelled examples of one part (train, val or test) of the split a classifier run was fine-tuned on, from its
    /// split.json (data path, columns and indices).
    /// </summary>
    public static (IReadOnlyList<LabelledExample> Examples, string Source) RecordedSplit(RunFolder run, string part)
    {
        string path = System.IO.Path.Combine(run.Path, "split.json");
        if (!File.Exists(path)) throw new SharpLMException($"{run.Path} has no split.json (it was not written by 'sharplm finetune'); pass --data with labelled data.");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            string data = root.GetProperty("data").GetString()!;
            string Column(string name, string fallback) => root.TryGetProperty(name, out var c) ? c.GetString() ?? fallback : fallback;
            if (!File.Exists(data) && !Directory.Exists(data)) throw new SharpLMException($"{data}, the data {run.Path} was fine-tuned on, is gone; pass --data with labelled data.");
            var dataset = LabelledDataset.Load(data, Column("textColumn", "text"), Column("labelColumn", "label"));
            var indices = root.GetProperty(part).EnumerateArray().Select(i => i.GetInt32()).ToArray();
            if (indices.Any(i => i < 0 || i >= dataset.Examples.Count)) throw new SharpLMException($"{path} does not match {data} any more (an index is out of range); pass --data.");
            return (indices.Select(i => dataset.Examples[i]).ToArray(), $"the {part} split of {data}");
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new SharpLMException($"{path} is not a valid split record ({e.Message.Split('.')[0]}); pass --data with labelled data.");
        }
    }

    /// <summary>The request's train / validation / test indices: its stratified split, then its share of the training part.</summary>
    public static (int[] Train, int[] Val, int[] Test) Parts(LabelledDataset data, FineTuneRequest r)
    {
        var (train, val, test) = Split(data.LabelIndex, r.ValFraction, r.TestFraction, r.SplitSeed ?? r.Training.Seed);
        if (!(r.TrainFraction > 0 && r.TrainFraction <= 1)) throw new SharpLMException($"The training fraction must be in (0, 1] (got {r.TrainFraction}).");
        if (r.TrainFraction < 1)
        {
            var kept = CrossValidation.StratifiedSplit(train.Select(i => data.LabelIndex[i]).ToArray(), [r.TrainFraction, 1 - r.TrainFraction], r.SplitSeed ?? r.Training.Seed)[0];
            train = kept.Select(k => train[k]).Order().ToArray();
        }
        return (train, val, test);
    }

    public static (int[] Train, int[] Val, int[] Test) Split(IReadOnlyList<int> labels, double valFraction, double testFraction, int seed)
    {
        if (!(valFraction > 0 && testFraction >= 0 && valFraction + testFraction < 1))
            throw new SharpLMException($"The validation fraction must be positive, the test fraction non-negative, and together below 1 (got {valFraction} and {testFraction}).");
        var outer = CrossValidation.StratifiedSplit(labels, [1 - testFraction, testFraction], seed);
        var rest = outer[0];
        var inner = CrossValidation.StratifiedSplit(rest.Select(i => labels[i]).ToArray(), [1 - valFraction / (1 - testFraction), valFraction / (1 - testFraction)], seed);
        return (inner[0].Select(i => rest[i]).ToArray(), inner[1].Select(i => rest[i]).ToArray(), outer[1]);
    }

    public static async Task<FineTuneResult> RunAsync(FineTuneRequest r, DataCatalogClient catalog, IProgress<TrainingProgress>? progress = null, CancellationToken ct = default)
    {
        OutputFolder.Inspect(r.Output, FolderKind.Run); // refuse a folder of the user's before any work
        var (data, dataPath) = await LoadDataAsync(r.Data, r.TextColumn, r.LabelColumn, catalog, ct);
        var (trainIdx, valIdx, testIdx) = Parts(data, r);
        int[][] parts = [trainIdx, valIdx, testIdx];
        if (parts[0].Length == 0 || parts[1].Length == 0) throw new SharpLMException("The split leaves no training or validation examples; use more data or other --val-fraction/--test-fraction.");
        var train = data.Subset(parts[0], "the training split");
        var val = data.Subset(parts[1], "the validation split");
        var tokenizer = await TokenizerAsync(r.FineTune, catalog);

        var o = r.Training;
        if (r.StepsFromEpochs) o = o with { MaxSteps = Math.Max(1, (int)Math.Ceiling(r.Epochs * train.Examples.Count / (double)(o.BatchSize * o.GradAccumulation))) };
        o = (o with { Objective = "classify" }).Validate();
        var runFolder = new RunFolder(r.Output);
        using var locked = runFolder.Lock("fine-tuning");
        if (r.Overwrite) runFolder.Clear();
        TrainingResult trained;
        using (var task = new ClassificationTask(train, val, tokenizer, o, r.FineTune))
            trained = new Trainer(task, o, runFolder).Run(resume: false, progress, ct);

        var (model, tok) = runFolder.LoadClassifier();
        using var _ = model;
        var labels = model.Labels;
        var report = ClassificationTask.Score(model, tok, parts[2].Select(i => data.Examples[i]).ToArray(), o.BlockSize, o.BatchSize, "the test split", ct);
        var result = new FineTuneResult(runFolder.Path, labels, parts[0].Length, parts[1].Length, parts[2].Length, trained, report);
        AtomicFile.WriteAllText(Path.Combine(runFolder.Path, "test_report.json"), JsonSerializer.Serialize(result, Json.Indented));
        AtomicFile.WriteAllText(Path.Combine(runFolder.Path, "split.json"), JsonSerializer.Serialize(new
        {
            data = Path.GetFullPath(dataPath), textColumn = r.TextColumn, labelColumn = r.LabelColumn, seed = r.SplitSeed ?? o.Seed, trainFraction = r.TrainFraction, fractions = new[] { 1 - r.ValFraction - r.TestFraction, r.ValFraction, r.TestFraction },
            train = parts[0], val = parts[1], test = parts[2],
        }, Json.Compact));
        return result;
    }
}
