using System.CommandLine;
using System.Text.Json;
using SharpLM.Data;
using SharpLM.IO;
using SharpLM.Workflows;

namespace SharpLM.Cli.Commands;

/// <summary>
/// sharplm data split: writes the stratified train/validation/test split that finetune, tune and bench classify use
/// (same seed, same fractions) as JSONL files, e.g. to pretrain a masked LM on the training texts only.
/// </summary>
public static class SplitCommand
{
    public static Command Build(CliContext ctx)
    {
        var data = ClassifierOptions.Data();
        var textColumn = ClassifierOptions.TextColumn();
        var labelColumn = ClassifierOptions.LabelColumn();
        var output = new Option<string>("--output") { Description = "Folder for train.jsonl, val.jsonl and test.jsonl.", Required = true };
        var val = new Option<double>("--val-fraction") { Description = "Validation share.", DefaultValueFactory = _ => 0.1 };
        var test = new Option<double>("--test-fraction") { Description = "Test share.", DefaultValueFactory = _ => 0.1 };
        var seed = new Option<int>("--seed") { Description = "Seed (use the same as finetune).", DefaultValueFactory = _ => 1337 };
        var cmd = new Command("split", "Write the stratified train/validation/test split of labelled data as JSONL (text, label).");
        foreach (var o in new Option[] { data, textColumn, labelColumn, output, val, test, seed, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                async (p, ct) =>
                {
                    double vf = p.GetValue(val),
                        tf = p.GetValue(test);
                    if (vf <= 0 || tf < 0 || vf + tf >= 1)
                        throw new SharpLMException("--val-fraction must be positive, --test-fraction non-negative, and together below 1.");
                    var (dataset, _) = await LabelledDataSource.LoadAsync(
                        p.GetValue(data)!,
                        p.GetValue(textColumn)!,
                        p.GetValue(labelColumn)!,
                        CliApp.Catalog(p),
                        ct
                    );
                    var (train, v, t) = FineTuning.Split(dataset.LabelIndex, vf, tf, p.GetValue(seed));
                    string dir = IO.OutputFolder.Claim(p.GetValue(output)!, IO.FolderKind.LabelledSplit);
                    var counts = new Dictionary<string, int>();
                    foreach (var (name, indices) in new[] { ("train", train), ("val", v), ("test", t) })
                    {
                        var lines = indices.Select(i =>
                            JsonSerializer.Serialize(
                                new { text = dataset.Examples[i].Text, label = dataset.Examples[i].Label },
                                Json.Compact
                            )
                        );
                        AtomicFile.WriteAllText(Path.Combine(dir, name + ".jsonl"), string.Join('\n', lines) + "\n");
                        counts[name] = indices.Length;
                    }
                    if (p.GetValue(CliApp.JsonOption))
                        ctx.WriteJson(
                            new
                            {
                                output = Path.GetFullPath(dir),
                                counts,
                                labels = dataset.Labels,
                            }
                        );
                    else
                        ctx.Out.WriteLine(
                            $"wrote {Path.GetFullPath(dir)}: train.jsonl ({counts["train"]}), val.jsonl ({counts["val"]}), test.jsonl "
                                + $"({counts["test"]}); labels {string.Join(", ", dataset.Labels)}"
                        );
                    return 0;
                }
            )
        );
        return cmd;
    }
}
