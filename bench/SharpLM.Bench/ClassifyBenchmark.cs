using System.Diagnostics;
using Microsoft.ML;
using SharpLM.Catalogue;
using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Sources;
using SharpLM.Training;
using SharpLM.Workflows;

namespace SharpLM.Bench;

public sealed record ClassifierScore(string Name, double Accuracy, double MacroF1, double TrainSeconds, int TestExamples);

public sealed record ClassifyBenchmarkResult(
    string Data,
    int TrainExamples,
    int TestExamples,
    int Threads,
    IReadOnlyList<ClassifierScore> Scores
);

/// <summary>
/// `sharplm-bench classify`: a fine-tuned SharpLM classifier against ML.NET's classical pipeline (FeaturizeText n-grams
/// + SDCA maximum-entropy) trained on the same training split and scored on the same test split with the same metrics,
/// each on the same number of threads (SDCA is deterministic only on one).
/// </summary>
public static class ClassifyBenchmark
{
    sealed class Row
    {
        public string Text { get; set; } = "";
        public string Label { get; set; } = "";
    }

    sealed class Prediction
    {
        public string PredictedLabel { get; set; } = "";
    }

    /// <summary>ML.NET baseline on the given split: (accuracy, macro-F1, training seconds).</summary>
    public static ClassifierScore MlNetBaseline(LabelledDataset data, int[] train, int[] test, int seed, int threads)
    {
        var ml = new MLContext(seed);
        IEnumerable<Row> Rows(int[] idx) => idx.Select(i => new Row { Text = data.Examples[i].Text, Label = data.Examples[i].Label });
        var trainView = ml.Data.LoadFromEnumerable(Rows(train));
        var pipeline = ml
            .Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.Text.FeaturizeText("Features", nameof(Row.Text)))
            .Append(
                ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(
                    new Microsoft.ML.Trainers.SdcaMaximumEntropyMulticlassTrainer.Options { NumberOfThreads = threads }
                )
            )
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        var sw = Stopwatch.StartNew();
        var model = pipeline.Fit(trainView);
        double seconds = sw.Elapsed.TotalSeconds;
        var predictions = ml
            .Data.CreateEnumerable<Prediction>(model.Transform(ml.Data.LoadFromEnumerable(Rows(test))), reuseRowObject: false)
            .ToArray();
        var labels = data.Labels.ToList();
        var report = ClassificationMetrics.Compute(
            test.Select(i => data.LabelIndex[i]).ToArray(),
            predictions.Select(p => labels.IndexOf(p.PredictedLabel)).ToArray(),
            labels
        );
        return new ClassifierScore("ML.NET FeaturizeText + SDCA maximum entropy", report.Accuracy, report.Macro.F1, seconds, test.Length);
    }

    /// <summary>
    /// Both models train on <paramref name="threads"/> threads (libtorch's intra-op threads; SDCA's NumberOfThreads), and the
    /// process is pinned to that many cores: ML.NET parallelises more than its trainer (data cursors), which a thread
    /// count alone does not stop.
    /// </summary>
    public static async Task<ClassifyBenchmarkResult> RunAsync(
        FineTuneRequest request,
        DataCatalogClient catalog,
        int threads,
        IProgress<TrainingProgress>? progress = null,
        CancellationToken ct = default
    )
    {
        Runtime.TorchRuntime.ConfigureThreads(threads);
        if (threads < Environment.ProcessorCount && (OperatingSystem.IsLinux() || OperatingSystem.IsWindows()))
            System.Diagnostics.Process.GetCurrentProcess().ProcessorAffinity = (nint)((1L << threads) - 1);
        IO.OutputFolder.Inspect(request.Output, IO.FolderKind.Run); // refuse a folder of the user's before any work
        var (data, _) = await LabelledDataSource.LoadAsync(request.Data, request.TextColumn, request.LabelColumn, catalog, ct);
        var (train, _, test) = FineTuning.Parts(data, request);
        var baseline = MlNetBaseline(data, train, test, request.Training.Seed, threads);
        var sw = Stopwatch.StartNew();
        var ours = await FineTuning.RunAsync(request, catalog, progress, ct);
        double seconds = sw.Elapsed.TotalSeconds;
        string model = FineTuning.KindOf(request.FineTune).Description;
        string name = request.FineTune.Pretrained is null
            ? $"SharpLM {model} from scratch"
            : $"SharpLM {model} fine-tuned from {Path.GetFileName(Path.GetFullPath(request.FineTune.Pretrained))}";
        return new ClassifyBenchmarkResult(
            request.Data,
            train.Length,
            test.Length,
            threads,
            [new ClassifierScore(name, ours.Test.Accuracy, ours.Test.Macro.F1, seconds, ours.TestExamples), baseline]
        );
    }
}
