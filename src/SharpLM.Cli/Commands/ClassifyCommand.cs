using System.CommandLine;
using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Runtime;
using SharpLM.Training;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>sharplm classify: the label and every class's probability for texts; with labelled input, also the metrics.</summary>
public static class ClassifyCommand
{
    public static Command Build(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "Classifier run folder ('sharplm finetune').", Required = true };
        var text = new Option<string[]>("--text") { Description = "Text to classify; repeat for several.", DefaultValueFactory = _ => [] };
        var input = new Option<string?>("--input") { Description = "A text file (one text per line) or labelled data (CSV/TSV/JSONL with a label column: metrics too)." };
        var textColumn = ClassifierOptions.TextColumn();
        var labelColumn = ClassifierOptions.LabelColumn();
        var cmd = new Command("classify", "Classify texts with a fine-tuned model: label and class probabilities.");
        foreach (var o in new Option[] { model, text, input, textColumn, labelColumn, TrainCommand.ThreadsOption, CliApp.JsonOption }) cmd.Options.Add(o);
        cmd.SetAction(CliApp.Guard(ctx, (p, ct) =>
        {
            TorchRuntime.ConfigureThreads(p.GetValue(TrainCommand.ThreadsOption));
            var texts = p.GetValue(text)!.ToList();
            LabelledDataset? labelled = null;
            if (p.GetValue(input) is string path)
            {
                if (Path.GetExtension(path).ToLowerInvariant() is ".csv" or ".tsv" or ".tab" or ".jsonl" or ".ndjson")
                {
                    labelled = LabelledDataset.Load(path, p.GetValue(textColumn)!, p.GetValue(labelColumn)!);
                    texts.AddRange(labelled.Examples.Select(e => e.Text));
                }
                else if (File.Exists(path)) texts.AddRange(File.ReadAllLines(path).Where(l => l.Length > 0));
                else throw new SharpLMException($"{path} does not exist.");
            }
            if (texts.Count == 0) throw new SharpLMException("Give --text or --input.");
            var run = new RunFolder(p.GetValue(model)!);
            var (classifier, tokenizer) = run.LoadClassifier();
            using var _ = classifier;
            var labels = classifier.Labels;
            int block = ClassificationTask.BlockOf(run, classifier);
            if (labelled is not null) ClassificationTask.RequireKnownLabels(classifier, labelled.Examples, p.GetValue(input)!);
            var ids = ClassificationTask.Encode(classifier, tokenizer, texts, block);
            var (probabilities, predicted) = ClassificationTask.Predict(classifier, ids, 32, ct);
            // Labelled texts come last (after any --text).
            ClassificationReport? report = labelled is null ? null : ClassificationTask.Report(labels, labelled.Examples, probabilities[(texts.Count - labelled.Examples.Count)..]);
            var predictions = texts.Select((t, i) => new
            {
                text = t, label = labels[predicted[i]],
                probabilities = labels.Select((l, c) => (l, c)).ToDictionary(x => x.l, x => (double)probabilities[i][x.c]),
            }).ToArray();
            if (p.GetValue(CliApp.JsonOption)) { ctx.WriteJson(new { predictions, report }); return Task.FromResult(0); }
            if (report is null || predictions.Length <= 20)
            {
                var table = new Table().AddColumns(["text", "label", .. labels.Select(Markup.Escape)]);
                foreach (var x in predictions)
                    table.AddRow([Markup.Escape(x.text.Length > 60 ? x.text[..57] + "..." : x.text.ReplaceLineEndings(" ")), Markup.Escape(x.label), .. labels.Select(l => x.probabilities[l].ToString("F4"))]);
                ctx.WriteTable(table);
            }
            if (report is not null) FineTuneCommand.PrintReport(ctx, report);
            return Task.FromResult(0);
        }));
        return cmd;
    }
}
