using System.CommandLine;
using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.IO;
using SharpLM.Models;
using SharpLM.Training;
using SharpLM.Workflows;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>sharplm tune: grid search over fine-tuning hyperparameters, scored by stratified k-fold cross-validation.</summary>
public static class TuneCommand
{
    public static Command Build(CliContext ctx)
    {
        var data = ClassifierOptions.Data();
        var textColumn = ClassifierOptions.TextColumn();
        var labelColumn = ClassifierOptions.LabelColumn();
        var output = new Option<string>("--output") { Description = "Folder for tune.json (and temporary runs).", Required = true };
        var from = ClassifierOptions.From();
        var architecture = ClassifierOptions.Architecture();
        var tokenizer = ClassifierOptions.Tokenizer();
        var folds = new Option<int>("--folds") { Description = "Cross-validation folds (stratified).", DefaultValueFactory = _ => 5 };
        var metric = new Option<string>("--metric") { Description = "macro_f1 or accuracy.", DefaultValueFactory = _ => "macro_f1" };
        metric.AcceptOnlyFromAmong("macro_f1", "accuracy");
        var lrs = new Option<double[]>("--lr")
        {
            Description = "Learning rates to try.",
            DefaultValueFactory = _ => [5e-4],
            AllowMultipleArgumentsPerToken = true,
        };
        var epochs = new Option<double[]>("--epochs")
        {
            Description = "Epoch counts to try.",
            DefaultValueFactory = _ => [3],
            AllowMultipleArgumentsPerToken = true,
        };
        var batches = new Option<int[]>("--batch-size")
        {
            Description = "Batch sizes to try.",
            DefaultValueFactory = _ => [16],
            AllowMultipleArgumentsPerToken = true,
        };
        var dropouts = new Option<double[]>("--dropout")
        {
            Description = "Dropout values to try.",
            DefaultValueFactory = _ => [0.1],
            AllowMultipleArgumentsPerToken = true,
        };
        var frozen = new Option<int[]>("--freeze-layers")
        {
            Description = "Frozen-layer counts to try.",
            DefaultValueFactory = _ => [0],
            AllowMultipleArgumentsPerToken = true,
        };
        var block = ClassifierOptions.BlockSize();
        var layers = ClassifierOptions.Layers();
        var heads = ClassifierOptions.Heads();
        var width = ClassifierOptions.Width();
        var test = new Option<double>("--test-fraction")
        {
            Description = "Share kept out of the folds (the same test split finetune uses).",
            DefaultValueFactory = _ => 0.1,
        };
        var seed = ClassifierOptions.Seed();
        var cmd = new Command(
            "tune",
            "Grid search over learning rate, epochs, batch size, dropout and frozen layers with stratified k-fold cross-validation."
        );
        foreach (
            var o in new Option[]
            {
                data,
                textColumn,
                labelColumn,
                output,
                from,
                architecture,
                tokenizer,
                folds,
                metric,
                lrs,
                epochs,
                batches,
                dropouts,
                frozen,
                block,
                layers,
                heads,
                width,
                test,
                seed,
                CliApp.JsonOption,
            }
        )
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                async (p, ct) =>
                {
                    double tf = p.GetValue(test);
                    if (tf < 0 || tf >= 1)
                        throw new SharpLMException("--test-fraction must be in [0, 1).");
                    var grid = GridSearch
                        .Grid(p.GetValue(lrs)!, p.GetValue(epochs)!, p.GetValue(batches)!, p.GetValue(dropouts)!, p.GetValue(frozen)!)
                        .ToList();
                    if (
                        grid.Any(h =>
                            h.LearningRate <= 0 || h.Epochs <= 0 || h.BatchSize < 1 || h.Dropout < 0 || h.Dropout >= 1 || h.FreezeLayers < 0
                        )
                    )
                        throw new SharpLMException(
                            "Every grid value must be valid: --lr and --epochs positive, --batch-size ≥ 1, --dropout in [0, 1), "
                                + "--freeze-layers ≥ 0."
                        );
                    IO.OutputFolder.Inspect(p.GetValue(output)!, IO.FolderKind.Tune); // refuse a folder of the user's before any work
                    var fineTune = new FineTuneOptions
                    {
                        Pretrained = p.GetValue(from),
                        Architecture = p.GetValue(architecture),
                        Tokenizer = p.GetValue(tokenizer),
                    };
                    var (dataset, _) = await LabelledDataSource.LoadAsync(
                        p.GetValue(data)!,
                        p.GetValue(textColumn)!,
                        p.GetValue(labelColumn)!,
                        CliApp.Catalog(p),
                        ct
                    );
                    var tok = await FineTuning.TokenizerAsync(fineTune, CliApp.Catalog(p));
                    var (trainIdx, valIdx, _) = FineTuning.Split(
                        dataset.LabelIndex,
                        tf > 0 ? Math.Min(0.1, (1 - tf) / 2) : 0.1,
                        tf,
                        p.GetValue(seed)
                    );
                    var pool = dataset.Subset(trainIdx.Concat(valIdx).Order(), "the tuning data");
                    var options = new TrainOptions
                    {
                        WeightDecay = 0.01,
                        WarmupSteps = 20,
                        Seed = p.GetValue(seed),
                        LogInterval = 1_000_000,
                    };
                    var shape = new ModelShape
                    {
                        Layers = p.GetValue(layers),
                        Heads = p.GetValue(heads),
                        Width = p.GetValue(width),
                        Context = p.GetValue(block),
                    }.Validate();
                    string dir = p.GetValue(output)!;
                    ctx.Err.WriteLine(
                        $"tuning {grid.Count} combination(s) × {p.GetValue(folds)} folds on {pool.Examples.Count} examples (test split "
                            + $"of {tf:P0} kept out)"
                    );
                    var progress = new CliApp.SyncProgress<TuneProgress>(t =>
                        ctx.Err.WriteLine(
                            t.FoldScore is double s
                                ? $"  combination {t.Combination}/{t.Combinations}, fold {t.Fold}/{t.Folds}: {p.GetValue(metric)} {s:F4}"
                                : $"combination {t.Combination}/{t.Combinations} ({t.Parameters}), fold {t.Fold}/{t.Folds}..."
                        )
                    );
                    var result = GridSearch.Run(
                        pool,
                        tok,
                        grid,
                        p.GetValue(folds),
                        p.GetValue(metric)!,
                        options,
                        shape,
                        fineTune,
                        dir,
                        progress,
                        ct
                    );
                    AtomicFile.WriteAllText(
                        Path.Combine(dir, "tune.json"),
                        System.Text.Json.JsonSerializer.Serialize(result, Json.Indented)
                    );
                    if (p.GetValue(CliApp.JsonOption))
                    {
                        ctx.WriteJson(result);
                        return 0;
                    }
                    var table = new Table().AddColumns(
                        "lr",
                        "epochs",
                        "batch",
                        "dropout",
                        "frozen",
                        $"{result.Metric} mean ± std",
                        "folds",
                        ""
                    );
                    foreach (var pt in result.Points)
                        table.AddRow(
                            pt.Parameters.LearningRate.ToString("G3"),
                            pt.Parameters.Epochs.ToString("G3"),
                            pt.Parameters.BatchSize.ToString(),
                            pt.Parameters.Dropout.ToString("G3"),
                            pt.Parameters.FreezeLayers.ToString(),
                            $"{pt.Mean:F4} ± {pt.Std:F4}",
                            string.Join(" ", pt.Folds.Select(f => f.ToString("F3"))),
                            pt == result.Best ? "best" : ""
                        );
                    ctx.WriteTable(table);
                    ctx.Out.WriteLine(
                        $"best: {result.Best.Parameters} — {result.Metric} {result.Best.Mean:F4} ± {result.Best.Std:F4} over "
                            + $"{result.Folds} folds"
                    );
                    return 0;
                }
            )
        );
        return cmd;
    }
}
