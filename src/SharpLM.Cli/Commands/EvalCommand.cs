using System.CommandLine;
using SharpLM.Kinds;
using SharpLM.Training;

namespace SharpLM.Cli.Commands;

/// <summary>
/// sharplm eval: the run's own kind of evaluation (language models: loss, perplexity, bits per byte; masked LM: masked accuracy;
/// classifiers: the report).
/// </summary>
public static class EvalCommand
{
    public static Command Build(CliContext ctx)
    {
        var model = new Option<string>("--model")
        {
            Description = "Run folder written by 'sharplm train' or 'sharplm finetune'.",
            Required = true,
        };
        var data = new Option<string?>("--data")
        {
            Description =
                "Prepared data folder (default: the one the run was trained on); for a classifier, labelled data (default: its "
                + "recorded split); for a token classifier, a CoNLL/JSONL file; for a QA model, a SQuAD file.",
        };
        var split = new Option<string?>("--split")
        {
            Description = "val or train (language models; default val); test, val or train (classifiers; default test).",
        };
        split.AcceptOnlyFromAmong("val", "train", "test");
        var textColumn = ClassifierOptions.TextColumn();
        var labelColumn = ClassifierOptions.LabelColumn();
        var batch = new Option<int>("--batch-size")
        {
            Description = "Windows or examples per forward pass.",
            DefaultValueFactory = _ => 16,
        };
        var max = new Option<int?>("--max-windows") { Description = "Evaluate only the first N windows (language models)." };
        var beams = new Option<int?>("--num-beams")
        {
            Description = "Sequence-to-sequence runs: beam search with this many beams (default greedy).",
        };
        var precision = CliApp.PrecisionOption("fp32 (default) or bf16 matrix products (GPT language models).");
        var cmd = new Command("eval", "Evaluate a trained model on the data it was trained on, or on other data.");
        foreach (var o in new Option[] { model, data, split, batch, max, beams, precision, textColumn, labelColumn, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                async (p, ct) =>
                {
                    if (p.GetValue(batch) < 1)
                        throw new SharpLMException("--batch-size must be at least 1.");
                    var run = new RunFolder(p.GetValue(model)!);
                    var kind = ModelRegistry.ForRun(run);
                    using var loaded = kind.Load(run);
                    if (CliApp.ReadPrecision(p, precision) is { } chosen)
                        loaded.UsePrecision(chosen);
                    var request = new EvaluationRequest
                    {
                        Data = p.GetValue(data),
                        Split = p.GetValue(split),
                        BatchSize = p.GetValue(batch),
                        MaxWindows = p.GetValue(max),
                        NumBeams = p.GetValue(beams),
                        TextColumn = p.GetValue(textColumn)!,
                        LabelColumn = p.GetValue(labelColumn)!,
                        Catalog = CliApp.Catalog(p),
                    };
                    var outcome = await CliApp.WithProgress(
                        ctx,
                        "evaluating",
                        task =>
                            Task.Run(
                                () =>
                                    kind.Evaluate(
                                        loaded,
                                        request,
                                        new CliApp.SyncProgress<(int Done, int Total)>(d =>
                                        {
                                            task.MaxValue = d.Total;
                                            task.Value = d.Done;
                                        }),
                                        ct
                                    ),
                                ct
                            )
                    );
                    if (p.GetValue(CliApp.JsonOption))
                    {
                        ctx.WriteJson(outcome.Result);
                        return 0;
                    }
                    foreach (var table in outcome.Tables)
                        ctx.WriteTable(table);
                    if (outcome.Note is not null)
                        ctx.Out.WriteLine(outcome.Note);
                    return 0;
                }
            )
        );
        return cmd;
    }
}
