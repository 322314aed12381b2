using System.CommandLine;
using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Runtime;
using SharpLM.Tokenization;
using SharpLM.Training;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>
/// sharplm eval: for a GPT, loss, perplexity and bits per byte over a whole split in non-overlapping context-length
/// windows; for a masked-LM BERT, masked loss and accuracy over covering windows; for a classifier, the classification
/// report on a part of the split it was fine-tuned on (split.json) or on labelled --data.
/// </summary>
public static class EvalCommand
{
    public static Command Build(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "Run folder written by 'sharplm train' or 'sharplm finetune'.", Required = true };
        var data = new Option<string?>("--data") { Description = "Prepared data folder (default: the one the run was trained on); for a classifier, labelled data (default: its recorded split)." };
        var split = new Option<string?>("--split") { Description = "val or train (language models; default val); test, val or train (classifiers; default test)." };
        split.AcceptOnlyFromAmong("val", "train", "test");
        var textColumn = ClassifierOptions.TextColumn();
        var labelColumn = ClassifierOptions.LabelColumn();
        var batch = new Option<int>("--batch-size") { Description = "Windows per forward pass.", DefaultValueFactory = _ => 16 };
        var max = new Option<int?>("--max-windows") { Description = "Evaluate only the first N windows." };
        var cmd = new Command("eval", "Evaluate a trained model: loss, perplexity and bits per byte on the validation split.");
        foreach (var o in new Option[] { model, data, split, batch, max, textColumn, labelColumn, TrainCommand.ThreadsOption, CliApp.JsonOption }) cmd.Options.Add(o);
        cmd.SetAction(CliApp.Guard(ctx, async (p, ct) =>
        {
            TorchRuntime.ConfigureThreads(p.GetValue(TrainCommand.ThreadsOption));
            if (p.GetValue(batch) < 1) throw new SharpLMException("--batch-size must be at least 1.");
            var run = new RunFolder(p.GetValue(model)!);
            if (run.IsClassifier()) return await EvaluateClassifier(ctx, p, run, data, split, textColumn, labelColumn, batch, ct);
            string part = p.GetValue(split) ?? "val";
            if (part == "test") throw new SharpLMException("--split test applies to classifiers; a language model's prepared data has train and val splits.");
            if (run.ModelType() == "bert") return EvaluateMaskedLm(ctx, p, run, data, batch, max, part, ct);
            var (gpt, tokenizer) = run.LoadGpt();
            using var _ = gpt;
            string dir = run.DataDir(p.GetValue(data));
            var preparedPath = Path.Combine(dir, "tokenizer.json");
            var prepared = File.Exists(preparedPath) ? TokenizerJson.Load(preparedPath) : null;
            if (prepared is not null && prepared.VocabSize != tokenizer.VocabSize)
                throw new SharpLMException($"{dir} was tokenized with a {prepared.VocabSize}-token vocabulary but the model uses {tokenizer.VocabSize}; evaluate on data prepared with the run's tokenizer.json.");
            using var dataset = TokenDataset.Open(dir, part, gpt.Config.VocabSize);
            int block = gpt.Config.NPositions;
            var starts = LanguageModelEvaluator.CoveringWindows(dataset, block, p.GetValue(max));
            var tokenBytes = Enumerable.Range(0, tokenizer.VocabSize).Select(tokenizer.TokenByteCount).ToArray();
            var metrics = await CliApp.WithProgress(ctx, "evaluating", task => Task.FromResult(LanguageModelEvaluator.Evaluate(gpt, dataset, starts, block, p.GetValue(batch), tokenBytes,
                new CliApp.SyncProgress<(int Done, int Total)>(d => { task.MaxValue = d.Total; task.Value = d.Done; }), ct)));
            if (p.GetValue(CliApp.JsonOption))
                ctx.WriteJson(new { model = run.Path, data = Path.GetFullPath(dir), split = dataset.Split, windows = starts.Length, context = block, metrics.Loss, metrics.Perplexity, metrics.BitsPerByte, metrics.Tokens, metrics.Bytes });
            else
            {
                var table = new Table().AddColumns("split", "tokens", "loss", "perplexity", "bits/byte");
                table.AddRow(dataset.Split, metrics.Tokens.ToString("N0"), metrics.Loss.ToString("F4"), metrics.Perplexity.ToString("F3"), metrics.BitsPerByte.ToString("F4"));
                ctx.WriteTable(table);
            }
            return 0;
        }));
        return cmd;
    }

    static async Task<int> EvaluateClassifier(CliContext ctx, ParseResult p, RunFolder run, Option<string?> data, Option<string?> split,
        Option<string> textColumn, Option<string> labelColumn, Option<int> batch, CancellationToken ct)
    {
        var (classifier, tokenizer) = run.LoadClassifier();
        using var _ = classifier;
        var (examples, source) = p.GetValue(data) is string d
            ? await LabelledData(d)
            : FineTuning.RecordedSplit(run, p.GetValue(split) ?? "test");
        var report = ClassificationTask.Score(classifier, tokenizer, examples, ClassificationTask.BlockOf(run, classifier), p.GetValue(batch), source, ct);
        if (p.GetValue(CliApp.JsonOption)) { ctx.WriteJson(new { model = run.Path, data = source, report }); return 0; }
        ctx.Err.WriteLine($"{examples.Count} examples: {source}");
        FineTuneCommand.PrintReport(ctx, report);
        return 0;

        async Task<(IReadOnlyList<LabelledExample>, string)> LabelledData(string d)
        {
            if (p.GetValue(split) is not null) throw new SharpLMException("--split picks a part of the recorded split; with --data the whole labelled file is scored.");
            var (dataset, path) = await FineTuning.LoadDataAsync(d, p.GetValue(textColumn)!, p.GetValue(labelColumn)!, CliApp.Catalog(p), ct);
            return (dataset.Examples, path);
        }
    }

    static int EvaluateMaskedLm(CliContext ctx, ParseResult p, RunFolder run, Option<string?> data, Option<int> batch, Option<int?> max, string part, CancellationToken ct)
    {
        if (part != "val") throw new SharpLMException("Masked-LM evaluation reads the validation split; leave out --split or use --split val.");
        if (!File.Exists(run.Training)) throw new SharpLMException($"{run.Path} has no training.json; it is not a run folder from 'sharplm train'.");
        if (!File.Exists(run.Weights)) throw new SharpLMException($"{run.Path} has no model.safetensors; the run has not finished its first evaluation yet.");
        var o = TrainOptions.Load(run.Training) with { BatchSize = p.GetValue(batch) };
        using var task = new MaskedLanguageModelTask(run.DataDir(p.GetValue(data)), o);
        task.LoadWeights(run.Weights);
        var starts = LanguageModelEvaluator.CoveringWindows(task.Validation, o.BlockSize - 2, p.GetValue(max));
        var result = task.EvaluateAt(starts, ct);
        double accuracy = result.Metrics["masked_accuracy"];
        if (p.GetValue(CliApp.JsonOption))
        {
            ctx.WriteJson(new { model = run.Path, data = task.DataDir, split = part, windows = starts.Length, loss = result.Loss, maskedAccuracy = accuracy, perplexity = result.Metrics["perplexity"] });
            return 0;
        }
        var table = new Table().AddColumns("split", "windows", "masked loss", "masked accuracy", "perplexity");
        table.AddRow(part, starts.Length.ToString("N0"), result.Loss.ToString("F4"), accuracy.ToString("P2"), result.Metrics["perplexity"].ToString("F2"));
        ctx.WriteTable(table);
        return 0;
    }
}
