namespace SharpLM.Evaluation;

/// <summary>A table of results for people (the CLI draws it; a server or notebook may too): column names and rows of text.</summary>
public sealed record ReportTable(string[] Columns, IReadOnlyList<string[]> Rows);

public static class ClassificationReportTables
{
    /// <summary>Per-class precision/recall/F1 with the three averages, and the confusion matrix.</summary>
    public static IReadOnlyList<ReportTable> ToTables(this ClassificationReport r)
    {
        var perClass = r
            .PerClass.Select(c => new[] { c.Label, F(c.Precision), F(c.Recall), F(c.F1), c.Support.ToString() })
            .Concat(
                new[] { ("macro avg", r.Macro), ("micro avg", r.Micro), ("weighted avg", r.Weighted) }.Select(x =>
                    new[] { x.Item1, F(x.Item2.Precision), F(x.Item2.Recall), F(x.Item2.F1), r.Count.ToString() }
                )
            )
            .ToList();
        var confusion = r
            .Labels.Select((label, t) => new[] { label }.Concat(r.ConfusionMatrix[t].Select(v => v.ToString())).ToArray())
            .ToList();
        return
        [
            new ReportTable(["class", "precision", "recall", "F1", "support"], perClass),
            new ReportTable(["true \\ predicted", .. r.Labels], confusion),
        ];
    }

    /// <summary>"accuracy 0.9845 on 605 examples, ROC-AUC 0.9990".</summary>
    public static string Summary(this ClassificationReport r) =>
        $"accuracy {r.Accuracy:F4} on {r.Count} examples" + (r.RocAuc is double auc ? $", ROC-AUC {auc:F4}" : "");

    static string F(double v) => v.ToString("F4");
}
