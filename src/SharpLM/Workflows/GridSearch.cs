using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Models;
using SharpLM.Tokenization;
using SharpLM.Training;

namespace SharpLM.Workflows;

/// <summary>One point of the grid: the fine-tuning hyperparameters that vary.</summary>
public sealed record HyperParameters(double LearningRate, double Epochs, int BatchSize, double Dropout, int FreezeLayers)
{
    public override string ToString() =>
        $"lr {LearningRate:G3}, epochs {Epochs:G3}, batch {BatchSize}, dropout {Dropout:G3}, frozen layers {FreezeLayers}";
}

public sealed record GridPoint(HyperParameters Parameters, double Mean, double Std, double[] Folds);

public sealed record GridSearchResult(string Metric, int Folds, IReadOnlyList<GridPoint> Points, GridPoint Best);

public sealed record TuneProgress(int Combination, int Combinations, int Fold, int Folds, HyperParameters Parameters, double? FoldScore);

/// <summary>
/// Grid search with stratified k-fold cross-validation: every combination of hyperparameters is fine-tuned on k − 1
/// folds and scored (accuracy or macro-F1) on the held-out fold; the mean and standard deviation across folds rank
/// the combinations.
/// </summary>
public static class GridSearch
{
    public static IEnumerable<HyperParameters> Grid(
        IReadOnlyList<double> learningRates,
        IReadOnlyList<double> epochs,
        IReadOnlyList<int> batchSizes,
        IReadOnlyList<double> dropouts,
        IReadOnlyList<int> freezeLayers
    ) =>
        from lr in learningRates
        from e in epochs
        from b in batchSizes
        from d in dropouts
        from f in freezeLayers
        select new HyperParameters(lr, e, b, d, f);

    /// <param name="shape">The model shape (from scratch) and where texts are cut; each combination sets its dropout.</param>
    public static GridSearchResult Run(
        LabelledDataset data,
        Tokenizer tokenizer,
        IReadOnlyList<HyperParameters> grid,
        int folds,
        string metric,
        TrainOptions baseOptions,
        ModelShape shape,
        FineTuneOptions baseFineTune,
        string workDir,
        IProgress<TuneProgress>? progress = null,
        CancellationToken ct = default
    )
    {
        if (grid.Count == 0)
            throw new SharpLMException("The grid is empty; give at least one value for every hyperparameter.");
        if (metric is not ("accuracy" or "macro_f1"))
            throw new SharpLMException($"metric '{metric}' is not one of accuracy, macro_f1.");
        var kind = FineTuning.KindOf(baseFineTune);
        IO.OutputFolder.Claim(workDir, IO.FolderKind.Tune);
        using var locked = IO.FolderLock.Acquire(workDir, "a grid search");
        var splits = CrossValidation.StratifiedKFold(data.LabelIndex, folds, baseOptions.Seed);
        var points = new List<GridPoint>();
        for (int c = 0; c < grid.Count; c++)
        {
            var h = grid[c];
            var scores = new double[folds];
            for (int f = 0; f < folds; f++)
            {
                ct.ThrowIfCancellationRequested();
                progress?.Report(new TuneProgress(c + 1, grid.Count, f + 1, folds, h, null));
                var train = data.Subset(splits[f].Train, $"fold {f + 1} training part");
                var test = data.Subset(splits[f].Test, $"fold {f + 1} held-out part");
                int steps = Math.Max(1, (int)Math.Ceiling(h.Epochs * train.Examples.Count / (double)h.BatchSize));
                var o = baseOptions with
                {
                    LearningRate = h.LearningRate,
                    MinLearningRate = h.LearningRate / 10,
                    BatchSize = h.BatchSize,
                    MaxSteps = steps,
                    EvalInterval = steps,
                    WarmupSteps = Math.Min(baseOptions.WarmupSteps, steps / 10),
                    EarlyStoppingPatience = 0,
                };
                string run = Path.Combine(workDir, $"c{c + 1}-f{f + 1}");
                IO.OutputFolder.Delete(run, IO.FolderKind.Run); // a leftover of an interrupted search (refused if it is not one)
                var fineTune = baseFineTune with { FreezeLayers = h.FreezeLayers };
                var classifier = FineTuning.CreateClassifier(
                    kind,
                    fineTune,
                    shape with
                    {
                        Dropout = h.Dropout,
                    },
                    tokenizer,
                    [.. train.Labels],
                    o.Seed
                );
                using (var task = new ClassificationTask(train, test, tokenizer, classifier, o, fineTune))
                {
                    var result = new Trainer(task, new RunFolder(run), [new MetricsFile()]).Run(resume: false, ct);
                    scores[f] = result.LastEval!.Metrics[metric];
                }
                IO.OutputFolder.Delete(run, IO.FolderKind.Run);
                progress?.Report(new TuneProgress(c + 1, grid.Count, f + 1, folds, h, scores[f]));
            }
            double mean = scores.Average();
            double std = Math.Sqrt(scores.Sum(s => (s - mean) * (s - mean)) / Math.Max(1, folds - 1)); // sample standard deviation
            points.Add(new GridPoint(h, mean, std, scores));
        }
        var best = points.OrderByDescending(p => p.Mean).ThenBy(p => p.Std).First();
        return new GridSearchResult(metric, folds, points, best);
    }
}
