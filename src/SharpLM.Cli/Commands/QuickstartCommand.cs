using System.CommandLine;
using SharpLM.Data;

namespace SharpLM.Cli.Commands;

/// <summary>
/// The main job: fetch moby-dick, prepare character-level shards (first 90% train, last 10% validation).
/// Training and generation join when the trainer lands.
/// </summary>
public static class QuickstartCommand
{
    public static Command Build(CliContext ctx)
    {
        var output = new Option<string>("--output") { Description = "Working folder.", DefaultValueFactory = _ => "runs/quickstart" };
        var seed = new Option<int>("--seed") { Description = "Seed.", DefaultValueFactory = _ => 1337 };
        var cmd = new Command("quickstart", "Run the pipeline on moby-dick: data → char tokenizer → token shards.");
        foreach (var o in new Option[] { output, seed, CliApp.JsonOption }) cmd.Options.Add(o);
        cmd.SetAction(CliApp.Guard(ctx, async (p, _) =>
        {
            string dir = p.GetValue(output)!;
            var options = new PrepareOptions
            {
                Inputs = ["moby-dick"], Tokenizer = "char", OutputDir = Path.Combine(dir, "data"),
                ValFraction = 0.1, Seed = p.GetValue(seed), Split = SplitMode.Characters,
                Cleaning = new CleaningOptions { Nfc = false, RemoveControlCharacters = false },
            };
            var summary = await PrepareCommand.Run(ctx, CliApp.Catalog(p), options);
            if (p.GetValue(CliApp.JsonOption)) ctx.WriteJson(new { data = options.OutputDir, summary });
            else
            {
                PrepareCommand.Print(ctx, summary, options.OutputDir);
                ctx.Out.WriteLine("next: train a model on these shards (sharplm train) once the training issue lands.");
            }
            return 0;
        }));
        return cmd;
    }
}
