using System.CommandLine;
using SharpLM.Data;
using SharpLM.Generation;
using SharpLM.Kinds;
using SharpLM.Pipelines;
using SharpLM.Training;

namespace SharpLM.Cli.Commands;

/// <summary>
/// The main job: fetch moby-dick, prepare character-level shards (first 90% train, last 10% validation),
/// train the baby preset, report validation perplexity and print a sample.
/// </summary>
public static class QuickstartCommand
{
    public static Command Build(CliContext ctx)
    {
        var output = new Option<string>("--output")
        {
            Description = "Working folder: data/ and run/ inside, replaced on each run (only folders SharpLM wrote).",
            DefaultValueFactory = _ => "runs/quickstart",
        };
        var seed = new Option<int>("--seed")
        {
            Description = "Seed of initialisation, batches, dropout and sampling.",
            DefaultValueFactory = _ => 1337,
        };
        var steps = new Option<int>("--max-steps") { Description = "Training steps of the baby preset.", DefaultValueFactory = _ => 2000 };
        var prompt = new Option<string>("--prompt")
        {
            Description = "Start of the generated sample.",
            DefaultValueFactory = _ => "Call me Ishmael. ",
        };
        var cmd = new Command(
            "quickstart",
            "The whole pipeline on moby-dick: data → char tokenizer → shards → train (baby preset) → perplexity → sample."
        );
        foreach (var o in new Option[] { output, seed, steps, prompt, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                async (p, ct) =>
                {
                    string dir = p.GetValue(output)!;
                    bool json = p.GetValue(CliApp.JsonOption);
                    IO.OutputFolder.Inspect(Path.Combine(dir, "run"), IO.FolderKind.Run); // refuse a folder of the user's before any work
                    var prepare = new PrepareOptions
                    {
                        Inputs = ["moby-dick"],
                        Tokenizer = "char",
                        OutputDir = Path.Combine(dir, "data"),
                        ValFraction = 0.1,
                        Seed = p.GetValue(seed),
                        Split = SplitMode.Characters,
                        Cleaning = new CleaningOptions { Nfc = false, RemoveControlCharacters = false },
                    };
                    var summary = await PrepareCommand.Run(ctx, CliApp.Catalog(p), prepare);
                    if (!json)
                        PrepareCommand.Print(ctx, summary, prepare.OutputDir);

                    var run = new RunFolder(Path.Combine(dir, "run"));
                    var baby = TrainingPreset.Get("baby");
                    var options = baby.Training with { MaxSteps = p.GetValue(steps), Seed = p.GetValue(seed) };
                    var lm = ModelRegistry.ForObjective("lm");
                    var result = TrainCommand.Run(
                        ctx,
                        run,
                        resume: false,
                        overwrite: true,
                        () => lm.CreatePretrainingTask(prepare.OutputDir, baby.Shape, null, options),
                        ct
                    );
                    if (!json)
                        TrainCommand.Print(ctx, result, run);

                    using var pipeline = TextGenerationPipeline.Load(run.Path);
                    var sample = pipeline.Generate(
                        p.GetValue(prompt)!,
                        new GenerationOptions
                        {
                            MaxNewTokens = 400,
                            Temperature = 0.8,
                            TopK = 40,
                            Seed = p.GetValue(seed),
                        },
                        ct
                    );
                    double? perplexity = result.LastEval?.Metrics.GetValueOrDefault("perplexity");
                    if (json)
                        ctx.WriteJson(
                            new
                            {
                                data = Path.GetFullPath(prepare.OutputDir),
                                prepare = summary,
                                training = result,
                                sample = sample.Prompt + sample.Text,
                            }
                        );
                    else
                    {
                        ctx.Out.WriteLine(
                            $"validation perplexity {perplexity:F3} (loss {result.LastEval?.Loss:F4} nats/char) after {result.Steps} steps"
                        );
                        ctx.Out.WriteLine("sample (temperature 0.8, top-k 40):");
                        ctx.Out.WriteLine(sample.Prompt + sample.Text);
                        ctx.Out.WriteLine(
                            $"next: sharplm generate --model {run.Path} --prompt \"...\"   |   sharplm eval --model {run.Path}"
                        );
                    }
                    return 0;
                }
            )
        );
        return cmd;
    }
}
