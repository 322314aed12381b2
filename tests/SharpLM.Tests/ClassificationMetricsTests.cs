using SharpLM.Evaluation;

namespace SharpLM.Tests;

public class ClassificationMetricsTests
{
    [Fact]
    public void ThreeClassExampleMatchesHandComputedValues()
    {
        // truth 0 0 1 1 2 2, predicted 0 1 1 1 0 2 (worked out by hand):
        // class 0: TP 1, predicted 2, support 2 → P 1/2, R 1/2, F1 1/2
        // class 1: TP 2, predicted 3, support 2 → P 2/3, R 1,   F1 4/5
        // class 2: TP 1, predicted 1, support 2 → P 1,   R 1/2, F1 2/3
        var r = ClassificationMetrics.Compute([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 0, 2], ["a", "b", "c"]);
        Assert.Equal(4.0 / 6, r.Accuracy, 12);
        Assert.Equal(
            [
                [1, 1, 0],
                [0, 2, 0],
                [1, 0, 1],
            ],
            r.ConfusionMatrix
        );
        Assert.Equal(new[] { 0.5, 2.0 / 3, 1 }, r.PerClass.Select(m => m.Precision), new Tolerance());
        Assert.Equal(new[] { 0.5, 1, 0.5 }, r.PerClass.Select(m => m.Recall), new Tolerance());
        Assert.Equal(new[] { 0.5, 0.8, 2.0 / 3 }, r.PerClass.Select(m => m.F1), new Tolerance());
        Assert.Equal((0.5 + 2.0 / 3 + 1) / 3, r.Macro.Precision, 12);
        Assert.Equal((0.5 + 0.8 + 2.0 / 3) / 3, r.Macro.F1, 12);
        Assert.Equal(4.0 / 6, r.Micro.F1, 12);
        Assert.Equal(r.Macro.F1, r.Weighted.F1, 12); // equal supports
        Assert.Null(r.RocAuc);
    }

    [Fact]
    public void AClassNeverPredictedScoresZeroAndWeightingFollowsSupport()
    {
        // class 0 (support 1) is never predicted: P = 0/0 → 0, R 0, F1 0; class 1: P 2/3, R 1, F1 0.8
        var r = ClassificationMetrics.Compute([0, 1, 1], [1, 1, 1], ["ham", "spam"]);
        Assert.Equal(0, r.PerClass[0].Precision);
        Assert.Equal(0, r.PerClass[0].F1);
        Assert.Equal(0.4, r.Macro.F1, 12);
        Assert.Equal(2 * 0.8 / 3, r.Weighted.F1, 12);
        Assert.Equal(2.0 / 3, r.Micro.F1, 12);
        Assert.Equal(2.0 / 3 * 2 / 3, r.Weighted.Precision, 12);
    }

    [Fact]
    public void ASingleClassIsPerfectAndHasNoAuc()
    {
        var r = ClassificationMetrics.Compute([0, 0, 0], [0, 0, 0], ["only"]);
        Assert.Equal(1, r.Accuracy);
        Assert.Equal(1, r.Macro.F1);
        var binary = ClassificationMetrics.Compute([1, 1], [1, 0], ["no", "yes"], [0.9, 0.2]);
        Assert.Null(binary.RocAuc); // only positives: AUC undefined
        Assert.Equal(0, ClassificationMetrics.Compute([], [], ["a"]).Accuracy);
    }

    [Fact]
    public void RocAucIsThePairwiseOrderingProbabilityWithTiesCountingHalf()
    {
        // positives 0.9, 0.4; negatives 0.5, 0.1 → 3 of 4 pairs ordered correctly
        Assert.Equal(0.75, ClassificationMetrics.RocAuc([1, 1, 0, 0], [0.9, 0.4, 0.5, 0.1]));
        Assert.Equal(0.5, ClassificationMetrics.RocAuc([1, 0], [0.5, 0.5]));
        Assert.Equal(1.0, ClassificationMetrics.RocAuc([0, 0, 1], [0.1, 0.2, 0.3]));
        Assert.Equal(0.0, ClassificationMetrics.RocAuc([1, 0], [0.1, 0.9]));
        // positives 0.8, 0.5; negatives 0.5, 0.2, 0.2 → (1 + 1 + 1) + (0.5 + 1 + 1) = 5.5 of 6
        Assert.Equal(5.5 / 6, ClassificationMetrics.RocAuc([1, 1, 0, 0, 0], [0.8, 0.5, 0.5, 0.2, 0.2])!.Value, 12);
    }

    [Fact]
    public void MismatchedInputsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => ClassificationMetrics.Compute([0, 1], [0], ["a", "b"]));
        Assert.Throws<ArgumentOutOfRangeException>(() => ClassificationMetrics.Compute([0, 2], [0, 1], ["a", "b"]));
    }

    [Fact]
    public void StratifiedFoldsKeepClassProportionsAndCoverEveryExampleOnce()
    {
        var labels = Enumerable
            .Range(0, 103)
            .Select(i =>
                i < 70 ? 0
                : i < 95 ? 1
                : 2
            )
            .ToArray(); // 70 / 25 / 8
        var folds = CrossValidation.StratifiedKFold(labels, 5, 42);
        Assert.Equal(5, folds.Count);
        Assert.Equal(Enumerable.Range(0, 103), folds.SelectMany(f => f.Test).Order());
        foreach (var (train, test) in folds)
        {
            Assert.Empty(train.Intersect(test));
            Assert.Equal(103, train.Length + test.Length);
            Assert.InRange(test.Length, 20, 21);
            Assert.InRange(test.Count(i => labels[i] == 0), 14, 14);
            Assert.InRange(test.Count(i => labels[i] == 1), 5, 5);
            Assert.InRange(test.Count(i => labels[i] == 2), 1, 2);
        }
        Assert.Equal(folds.Select(f => f.Test), CrossValidation.StratifiedKFold(labels, 5, 42).Select(f => f.Test));
        Assert.NotEqual(folds.Select(f => f.Test), CrossValidation.StratifiedKFold(labels, 5, 43).Select(f => f.Test));
        Assert.Contains("at least 2 folds", Assert.Throws<SharpLMException>(() => CrossValidation.StratifiedKFold(labels, 1, 1)).Message);
        Assert.Contains(
            "Cannot make 5 folds from 3",
            Assert.Throws<SharpLMException>(() => CrossValidation.StratifiedKFold([0, 1, 0], 5, 1)).Message
        );
    }

    [Fact]
    public void StratifiedSplitGivesEveryPartItsShareOfEveryClass()
    {
        var labels = Enumerable.Range(0, 1000).Select(i => i % 10 == 0 ? 1 : 0).ToArray(); // 900 / 100
        var parts = CrossValidation.StratifiedSplit(labels, [0.8, 0.1, 0.1], 7);
        Assert.Equal([800, 100, 100], parts.Select(p => p.Length));
        Assert.Equal([80, 10, 10], parts.Select(p => p.Count(i => labels[i] == 1)));
        Assert.Equal(Enumerable.Range(0, 1000), parts.SelectMany(p => p).Order());
        Assert.Equal(parts, CrossValidation.StratifiedSplit(labels, [0.8, 0.1, 0.1], 7));
        Assert.Contains("sum to 1", Assert.Throws<SharpLMException>(() => CrossValidation.StratifiedSplit(labels, [0.8, 0.3], 7)).Message);
    }

    sealed class Tolerance : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) < 1e-12;

        public int GetHashCode(double d) => 0;
    }
}
