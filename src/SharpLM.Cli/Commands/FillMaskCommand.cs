using System.CommandLine;
using SharpLM.Pipelines;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>sharplm fill-mask: the most likely tokens for each [MASK] in a text, with probabilities.</summary>
public static class FillMaskCommand
{
    public static Command Build(CliContext ctx)
    {
        var model = new Option<string>("--model")
        {
            Description = "Masked-LM run folder ('sharplm train --objective mlm').",
            Required = true,
        };
        var text = new Option<string>("--text") { Description = "Text with one or more [MASK] tokens.", Required = true };
        var top = new Option<int>("--top") { Description = "Candidates per mask.", DefaultValueFactory = _ => 5 };
        var cmd = new Command("fill-mask", "Predict the tokens hidden by [MASK] with a masked-LM model.");
        foreach (var o in new Option[] { model, text, top, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                (p, ct) =>
                {
                    if (p.GetValue(top) < 1)
                        throw new SharpLMException("--top must be at least 1.");
                    using var pipeline = FillMaskPipeline.Load(p.GetValue(model)!);
                    var results = pipeline.Predict(p.GetValue(text)!, p.GetValue(top));
                    if (p.GetValue(CliApp.JsonOption))
                    {
                        ctx.WriteJson(new { text = p.GetValue(text), masks = results });
                        return Task.FromResult(0);
                    }
                    foreach (var r in results)
                    {
                        var table = new Table().AddColumns($"mask at token {r.Position}", "probability");
                        foreach (var c in r.Candidates)
                            table.AddRow(Markup.Escape(c.Token), c.Probability.ToString("F4"));
                        ctx.WriteTable(table);
                    }
                    return Task.FromResult(0);
                }
            )
        );
        return cmd;
    }
}
