using System.CommandLine;
using SharpLM.Evaluation;
using SharpLM.Runtime;
using SharpLM.Training;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>sharplm finetune --task classify: a classification head on a pretrained (or fresh) BERT or GPT.</summary>
public static class FineTuneCommand
{
    /// <summary>The options that describe a fine-tuning job (shared by finetune and bench classify) and their parser.</summary>
    public static (Option[] Options, Func<ParseResult, FineTuneRequest> Parse) RequestOptions(string defaultOutput)
    {
        var taskOption = new Option<string>("--task") { Description = "Fine-tuning task.", DefaultValueFactory = _ => "classify" };
        taskOption.AcceptOnlyFromAmong("classify");
        var data = ClassifierOptions.Data();
        var textColumn = ClassifierOptions.TextColumn();
        var labelColumn = ClassifierOptions.LabelColumn();
        var output = new Option<string>("--output") { Description = "Run folder for the classifier.", DefaultValueFactory = _ => defaultOutput, Required = defaultOutput.Length == 0 };
        var from = ClassifierOptions.From();
        var architecture = ClassifierOptions.Architecture();
        var tokenizer = ClassifierOptions.Tokenizer();
        var epochs = new Option<double>("--epochs") { Description = "Passes over the training split.", DefaultValueFactory = _ => 3 };
        var steps = new Option<int?>("--max-steps") { Description = "Optimiser steps (overrides --epochs)." };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate (typical 2e-5 … 1e-3).", DefaultValueFactory = _ => 5e-4 };
        var batch = new Option<int>("--batch-size") { Description = "Examples per step.", DefaultValueFactory = _ => 16 };
        var block = ClassifierOptions.BlockSize();
        var dropout = new Option<double>("--dropout") { Description = "Dropout in the body (and before BERT's classifier).", DefaultValueFactory = _ => 0.1 };
        var layers = ClassifierOptions.Layers();
        var heads = ClassifierOptions.Heads();
        var width = ClassifierOptions.Width();
        var freezeEmbeddings = new Option<bool>("--freeze-embeddings") { Description = "Keep the embeddings fixed." };
        var freezeLayers = new Option<int>("--freeze-layers") { Description = "Keep the first k layers fixed.", DefaultValueFactory = _ => 0 };
        var weights = new Option<string>("--class-weights") { Description = "none or balanced (n / (classes · n_class)).", DefaultValueFactory = _ => "none" };
        weights.AcceptOnlyFromAmong("none", "balanced");
        var val = new Option<double>("--val-fraction") { Description = "Validation share of the stratified split.", DefaultValueFactory = _ => 0.1 };
        var test = new Option<double>("--test-fraction") { Description = "Test share of the stratified split.", DefaultValueFactory = _ => 0.1 };
        var evalInterval = new Option<int>("--eval-interval") { Description = "Steps between validation evaluations.", DefaultValueFactory = _ => 50 };
        var patience = new Option<int>("--patience") { Description = "Early stopping after this many evaluations without improvement (0 = off).", DefaultValueFactory = _ => 0 };
        var seed = ClassifierOptions.Seed();
        var trainFraction = new Option<double>("--train-fraction") { Description = "Fine-tune on this share of the training split (stratified; validation and test unchanged).", DefaultValueFactory = _ => 1 };
        var splitSeed = new Option<int?>("--split-seed") { Description = "Seed of the split only (default: --seed); fix it to repeat training seeds on the same test split." };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an earlier run in --output (only a run folder SharpLM wrote)." };
        Option[] options = [overwrite, taskOption, data, textColumn, labelColumn, output, from, architecture, tokenizer, epochs, steps, lr, batch, block, dropout, layers, heads, width,
            freezeEmbeddings, freezeLayers, weights, val, test, evalInterval, patience, seed, splitSeed, trainFraction];
        FineTuneRequest Parse(ParseResult p)
        {
            double vf = p.GetValue(val), tf = p.GetValue(test);
            if (vf <= 0 || tf < 0 || vf + tf >= 1) throw new SharpLMException("--val-fraction must be positive, --test-fraction non-negative, and together below 1.");
            if (p.GetValue(epochs) <= 0) throw new SharpLMException("--epochs must be positive.");
            if (!(p.GetValue(trainFraction) is > 0 and <= 1)) throw new SharpLMException("--train-fraction must be in (0, 1].");
            var training = new TrainOptions
            {
                NLayer = p.GetValue(layers), NHead = p.GetValue(heads), NEmbd = p.GetValue(width), BlockSize = p.GetValue(block), Dropout = p.GetValue(dropout),
                BatchSize = p.GetValue(batch), LearningRate = p.GetValue(lr), MinLearningRate = p.GetValue(lr) / 10, WarmupSteps = 20, WeightDecay = 0.01,
                EvalInterval = p.GetValue(evalInterval), EarlyStoppingPatience = p.GetValue(patience), Seed = p.GetValue(seed), MaxSteps = p.GetValue(steps) ?? 1,
            };
            return new FineTuneRequest
            {
                Overwrite = p.GetValue(overwrite), Data = p.GetValue(data)!, TextColumn = p.GetValue(textColumn)!, LabelColumn = p.GetValue(labelColumn)!, Output = p.GetValue(output)!,
                ValFraction = vf, TestFraction = tf, SplitSeed = p.GetValue(splitSeed), TrainFraction = p.GetValue(trainFraction), Epochs = p.GetValue(epochs), StepsFromEpochs = p.GetValue(steps) is null, Training = training,
                FineTune = new FineTuneOptions
                {
                    Pretrained = p.GetValue(from), Architecture = p.GetValue(architecture), Tokenizer = p.GetValue(tokenizer), FreezeEmbeddings = p.GetValue(freezeEmbeddings),
                    FreezeLayers = p.GetValue(freezeLayers), BalancedClassWeights = p.GetValue(weights) == "balanced",
                },
            };
        }
        return (options, Parse);
    }

    public static Command Build(CliContext ctx)
    {
        var (options, parse) = RequestOptions("");
        var cmd = new Command("finetune", "Fine-tune a text classifier on labelled data; reports accuracy, P/R/F1 and the confusion matrix on the test split.");
        foreach (var o in options.Append(TrainCommand.ThreadsOption).Append(CliApp.JsonOption)) cmd.Options.Add(o);
        cmd.SetAction(CliApp.Guard(ctx, async (p, ct) =>
        {
            TorchRuntime.ConfigureThreads(p.GetValue(TrainCommand.ThreadsOption));
            var request = parse(p);
            var training = request.Training;
            var result = await FineTuning.RunAsync(request, CliApp.Catalog(p), ProgressLines(ctx), ct);
            if (p.GetValue(CliApp.JsonOption)) ctx.WriteJson(result);
            else
            {
                ctx.Out.WriteLine($"split (stratified, seed {request.SplitSeed ?? training.Seed}): {result.TrainExamples} train, {result.ValExamples} validation, {result.TestExamples} test");
                PrintReport(ctx, result.Test);
                ctx.Out.WriteLine($"run: {result.Run}   classify with: sharplm classify --model {result.Run} --text \"...\"");
            }
            return 0;
        }));
        return cmd;
    }

    /// <summary>Training progress as lines on stderr: every 10th step, every evaluation and every message.</summary>
    public static IProgress<TrainingProgress> ProgressLines(CliContext ctx) => new CliApp.SyncProgress<TrainingProgress>(t =>
    {
        if (t.Message is not null) ctx.Err.WriteLine(t.Message);
        else if (t.Eval is { } e) ctx.Err.WriteLine($"step {t.Step,6}: val loss {e.Loss:F4}" + string.Concat(e.Metrics.Select(m => $", {m.Key.Replace('_', ' ')} {m.Value:F4}")));
        else if (t.Step % 10 == 0) ctx.Err.WriteLine($"step {t.Step,6}/{t.MaxSteps}: loss {t.Loss:F4}, lr {t.LearningRate:G3}, ETA {t.Eta:hh\\:mm\\:ss}");
    });

    /// <summary>Per-class table, averages, confusion matrix and AUC.</summary>
    public static void PrintReport(CliContext ctx, ClassificationReport r)
    {
        var table = new Table().AddColumns("class", "precision", "recall", "F1", "support");
        foreach (var c in r.PerClass) table.AddRow(Markup.Escape(c.Label), c.Precision.ToString("F4"), c.Recall.ToString("F4"), c.F1.ToString("F4"), c.Support.ToString());
        foreach (var (name, a) in new[] { ("macro avg", r.Macro), ("micro avg", r.Micro), ("weighted avg", r.Weighted) })
            table.AddRow(name, a.Precision.ToString("F4"), a.Recall.ToString("F4"), a.F1.ToString("F4"), r.Count.ToString());
        ctx.WriteTable(table);
        var confusion = new Table().AddColumns(["true \\ predicted", .. r.Labels.Select(Markup.Escape)]);
        for (int t = 0; t < r.Labels.Count; t++) confusion.AddRow([Markup.Escape(r.Labels[t]), .. r.ConfusionMatrix[t].Select(v => v.ToString())]);
        ctx.WriteTable(confusion);
        ctx.Out.WriteLine($"accuracy {r.Accuracy:F4} on {r.Count} examples" + (r.RocAuc is double auc ? $", ROC-AUC {auc:F4}" : ""));
    }
}
