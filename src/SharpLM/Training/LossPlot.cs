namespace SharpLM.Training;

/// <summary>Train/validation loss curves as a PNG (ScottPlot), written atomically.</summary>
public static class LossPlot
{
    public static void Write(string path, IReadOnlyList<HistoryPoint> history, string title)
    {
        var plot = new ScottPlot.Plot();
        var train = history.Where(h => h.TrainLoss is not null).ToList();
        var val = history.Where(h => h.ValLoss is not null).ToList();
        if (train.Count > 0)
        {
            var s = plot.Add.Scatter(train.Select(h => (double)h.Step).ToArray(), train.Select(h => h.TrainLoss!.Value).ToArray());
            s.LegendText = "train";
            s.MarkerSize = 0;
        }
        if (val.Count > 0)
        {
            var s = plot.Add.Scatter(val.Select(h => (double)h.Step).ToArray(), val.Select(h => h.ValLoss!.Value).ToArray());
            s.LegendText = "validation";
            s.MarkerSize = 5;
        }
        plot.Title(title);
        plot.XLabel("step");
        plot.YLabel("loss (nats/token)");
        plot.ShowLegend();
        string tmp = $"{path}.tmp-{Environment.ProcessId}.png"; // a name OutputFolder knows as SharpLM's own leftover
        plot.SavePng(tmp, 900, 540);
        File.Move(tmp, path, overwrite: true);
    }
}
