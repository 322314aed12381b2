using System.CommandLine;
using SharpLM.Data;
using SharpLM.Pipelines;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>sharplm classify: the label and every class's probability for texts; with labelled input, also the metrics.</summary>
public static class ClassifyCommand
{
    public static Command Build(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "Classifier run folder ('sharplm finetune').", Required = true };
        var text = new Option<string[]>("--text") { Description = "Text to classify; repeat for several.", DefaultValueFactory = _ => [] };
        var input = new Option<string?>("--input")
        {
            Description = "A text file (one text per line) or labelled data (CSV/TSV/JSONL with a label column: metrics too).",
        };
        var textColumn = ClassifierOptions.TextColumn();
        var labelColumn = ClassifierOptions.LabelColumn();
        var cmd = new Command("classify", "Classify texts with a fine-tuned model: label and class probabilities.");
        foreach (var o in new Option[] { model, text, input, textColumn, labelColumn, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                (p, ct) =>
                {
                    var texts = p.GetValue(text)!.ToList();
                    LabelledDataset? labelled = null;
                    if (p.GetValue(input) is string path)
                    {
                        if (Path.GetExtension(path).ToLowerInvariant() is ".csv" or ".tsv" or ".tab" or ".jsonl" or ".ndjson")
                        {
                            labelled = LabelledDataset.Load(path, p.GetValue(textColumn)!, p.GetValue(labelColumn)!);
                            texts.AddRange(labelled.Examples.Select(e => e.Text));
                        }
                        else if (File.Exists(path))
                            texts.AddRange(File.ReadAllLines(path).Where(l => l.Length > 0));
                        else
                            throw new SharpLMException($"{path} does not exist.");
                    }
                    if (texts.Count == 0)
                        throw new SharpLMException("Give --text or --input.");
                    using var pipeline = TextClassificationPipeline.Load(p.GetValue(model)!);
                    var predictions = pipeline.Classify(texts, ct: ct);
                    // Labelled texts come last (after any --text).
                    var report = labelled is null
                        ? null
                        : pipeline.Report(
                            labelled.Examples,
                            predictions.Skip(texts.Count - labelled.Examples.Count).ToArray(),
                            p.GetValue(input)!
                        );
                    if (p.GetValue(CliApp.JsonOption))
                    {
                        ctx.WriteJson(new { predictions, report });
                        return Task.FromResult(0);
                    }
                    if (report is null || predictions.Count <= 20)
                    {
                        var table = new Table().AddColumns(["text", "label", .. pipeline.Labels.Select(Markup.Escape)]);
                        foreach (var x in predictions)
                            table.AddRow([
                                Markup.Escape(x.Text.Length > 60 ? x.Text[..57] + "..." : x.Text.ReplaceLineEndings(" ")),
                                Markup.Escape(x.Label),
                                .. pipeline.Labels.Select(l => x.Probabilities[l].ToString("F4")),
                            ]);
                        ctx.WriteTable(table);
                    }
                    if (report is not null)
                        FineTuneCommand.PrintReport(ctx, report);
                    return Task.FromResult(0);
                }
            )
        );
        return cmd;
    }
}
