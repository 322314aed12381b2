namespace SharpLM.Evaluation;

public sealed record ClassMetrics(string Label, double Precision, double Recall, double F1, int Support);

public sealed record AveragedMetrics(double Precision, double Recall, double F1);

/// <summary>
/// Everything a classification evaluation reports. ConfusionMatrix[t][p] counts examples of true class t predicted as p.
/// RocAuc is set for binary tasks when scores were given and both classes occur in the truth.
/// </summary>
public sealed record ClassificationReport(
    IReadOnlyList<string> Labels,
    int Count,
    double Accuracy,
    IReadOnlyList<ClassMetrics> PerClass,
    AveragedMetrics Macro,
    AveragedMetrics Micro,
    AveragedMetrics Weighted,
    int[][] ConfusionMatrix,
    double? RocAuc
);

/// <summary>
/// Accuracy, per-class precision/recall/F1 with macro, micro and support-weighted averages, the confusion matrix and
/// binary ROC-AUC. A ratio with a zero denominator (a class never predicted, or absent from the truth) is 0, as in
/// scikit-learn's default.
/// </summary>
public static class ClassificationMetrics
{
    /// <param name="truth">True class index of each example.</param>
    /// <param name="predicted">Predicted class index of each example.</param>
    /// <param name="labels">Class names; indices refer to this list.</param>
    /// <param name="positiveScores">For binary tasks: each example's score for class 1 (e.g. its probability).</param>
    public static ClassificationReport Compute(
        IReadOnlyList<int> truth,
        IReadOnlyList<int> predicted,
        IReadOnlyList<string> labels,
        IReadOnlyList<double>? positiveScores = null
    )
    {
        if (truth.Count != predicted.Count)
            throw new ArgumentException($"{truth.Count} true labels but {predicted.Count} predictions.");
        if (labels.Count == 0)
            throw new ArgumentException("At least one label is needed.");
        int k = labels.Count,
            n = truth.Count;
        var confusion = Enumerable.Range(0, k).Select(_ => new int[k]).ToArray();
        for (int i = 0; i < n; i++)
        {
            if ((uint)truth[i] >= (uint)k || (uint)predicted[i] >= (uint)k)
                throw new ArgumentOutOfRangeException(nameof(truth), $"Example {i} has a class index outside 0..{k - 1}.");
            confusion[truth[i]][predicted[i]]++;
        }
        static double Ratio(double a, double b) => b == 0 ? 0 : a / b;
        static double F1(double p, double r) => p + r == 0 ? 0 : 2 * p * r / (p + r);
        var perClass = new List<ClassMetrics>(k);
        int correct = 0;
        for (int c = 0; c < k; c++)
        {
            int tp = confusion[c][c];
            int predictedAsC = Enumerable.Range(0, k).Sum(t => confusion[t][c]);
            int support = confusion[c].Sum();
            correct += tp;
            double p = Ratio(tp, predictedAsC),
                r = Ratio(tp, support);
            perClass.Add(new ClassMetrics(labels[c], p, r, F1(p, r), support));
        }
        var macro = new AveragedMetrics(perClass.Average(m => m.Precision), perClass.Average(m => m.Recall), perClass.Average(m => m.F1));
        double accuracy = Ratio(correct, n);
        // Single-label: every false positive of one class is a false negative of another, so micro P = R = F1 = accuracy.
        var micro = new AveragedMetrics(accuracy, accuracy, accuracy);
        double Weighted(Func<ClassMetrics, double> f) => Ratio(perClass.Sum(m => f(m) * m.Support), n);
        var weighted = new AveragedMetrics(Weighted(m => m.Precision), Weighted(m => m.Recall), Weighted(m => m.F1));
        double? auc = null;
        if (k == 2 && positiveScores is not null)
        {
            if (positiveScores.Count != n)
                throw new ArgumentException($"{positiveScores.Count} scores for {n} examples.");
            auc = RocAuc(truth, positiveScores);
        }
        return new ClassificationReport(labels.ToArray(), n, accuracy, perClass, macro, micro, weighted, confusion, auc);
    }

    /// <summary>
    /// Area under the ROC curve = the probability that a random positive scores above a random negative (ties count
    /// half), computed from average ranks (Mann–Whitney U). Null when one of the classes is absent.
    /// </summary>
    public static double? RocAuc(IReadOnlyList<int> truth, IReadOnlyList<double> scores)
    {
        int n = truth.Count;
        var order = Enumerable.Range(0, n).OrderBy(i => scores[i]).ToArray();
        var ranks = new double[n];
        for (int i = 0; i < n; )
        {
            int j = i;
            while (j + 1 < n && scores[order[j + 1]] == scores[order[i]])
                j++;
            double average = (i + j) / 2.0 + 1; // ranks are 1-based
            for (int m = i; m <= j; m++)
                ranks[order[m]] = average;
            i = j + 1;
        }
        long positives = truth.Count(t => t == 1),
            negatives = n - positives;
        if (positives == 0 || negatives == 0)
            return null;
        double rankSum = Enumerable.Range(0, n).Where(i => truth[i] == 1).Sum(i => ranks[i]);
        return (rankSum - positives * (positives + 1) / 2.0) / ((double)positives * negatives);
    }
}
