using System.CommandLine;
using SharpLM.Cli;
using SharpLM.Compression;
using Spectre.Console;

namespace SharpLM.Bench;

/// <summary>sharplm-bench quantize and sharplm-bench prune.</summary>
public static class CompressionBenchCommands
{
    public static Command Quantize(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "A trained GPT run (fp32).", Required = true };
        var tokens = new Option<int>("--new-tokens") { Description = "Greedy tokens decoded per timing.", DefaultValueFactory = _ => 200 };
        var repeats = new Option<int>("--repeats") { Description = "Timings per variant (median reported).", DefaultValueFactory = _ => 3 };
        var windows = new Option<int?>("--max-windows") { Description = "Validation windows (default: the whole split)." };
        var cmd = new Command(
            "quantize",
            "int8 weights vs the fp32 run: file size, validation perplexity and greedy decode tokens/s, fp32 and bf16 products."
        );
        foreach (var o in new Option[] { model, tokens, repeats, windows, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                (p, _) =>
                {
                    Runtime.TorchRuntime.EnsureLoaded();
                    var status = new CliApp.SyncProgress<string>(s => ctx.Err.WriteLine($"bench: {s}"));
                    var r = CompressionBenchmark.Quantize(
                        p.GetValue(model)!,
                        p.GetValue(tokens),
                        p.GetValue(repeats),
                        p.GetValue(windows),
                        status
                    );
                    if (p.GetValue(CliApp.JsonOption))
                    {
                        ctx.WriteJson(r);
                        return Task.FromResult(0);
                    }
                    var table = new Table().AddColumns(
                        "weights",
                        "products",
                        "val loss",
                        "perplexity",
                        "decode tokens/s",
                        "vs fp32",
                        "same tokens"
                    );
                    foreach (var v in r.Variants)
                        table.AddRow(
                            v.Weights,
                            v.Precision,
                            v.ValLoss.ToString("F4"),
                            v.Perplexity.ToString("F4"),
                            v.DecodeTokensPerSecond.ToString("F1"),
                            $"{v.DecodeRatio:F2}x",
                            v.SameGreedyTokens ? "yes" : "no"
                        );
                    ctx.WriteTable(table);
                    ctx.Out.WriteLine(
                        $"model.safetensors: {r.Fp32Bytes / 1e6:F2} MB fp32 → {r.Int8Bytes / 1e6:F2} MB int8 "
                            + $"({r.SizeRatio:F2}x smaller); "
                            + $"{r.ValWindows} validation windows, {r.NewTokens} greedy tokens, {r.Threads} threads"
                    );
                    return Task.FromResult(0);
                }
            )
        );
        return cmd;
    }

    public static Command Prune(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "A trained GPT run.", Required = true };
        var methods = new Option<string[]>("--methods")
        {
            Description = "Methods to compare: magnitude, heads, neurons.",
            DefaultValueFactory = _ => ["magnitude", "heads", "neurons"],
            AllowMultipleArgumentsPerToken = true,
        };
        var sparsities = new Option<double[]>("--sparsity")
        {
            Description = "Sparsities to compare (0 is the dense model).",
            DefaultValueFactory = _ => [0, 0.25, 0.5, 0.75],
            AllowMultipleArgumentsPerToken = true,
        };
        var steps = new Option<int>("--finetune-steps") { Description = "Recovery steps per pruned model.", DefaultValueFactory = _ => 0 };
        var windows = new Option<int>("--windows") { Description = "Validation windows timed per model.", DefaultValueFactory = _ => 32 };
        var repeats = new Option<int>("--repeats") { Description = "Timings per model (median reported).", DefaultValueFactory = _ => 3 };
        var cmd = new Command(
            "prune",
            "Pruning table: method × sparsity → validation loss before and after recovery, parameters, forward tokens/s vs dense."
        );
        foreach (var o in new Option[] { model, methods, sparsities, steps, windows, repeats, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                (p, _) =>
                {
                    Runtime.TorchRuntime.EnsureLoaded();
                    var chosen = p.GetValue(methods)!
                        .Select(m =>
                            Enum.TryParse<PruningMethod>(m, ignoreCase: true, out var x)
                                ? x
                                : throw new SharpLMException($"--methods: '{m}' is not one of magnitude, heads, neurons.")
                        )
                        .ToList();
                    var status = new CliApp.SyncProgress<string>(s => ctx.Err.WriteLine($"bench: {s}"));
                    var r = CompressionBenchmark.Prune(
                        p.GetValue(model)!,
                        chosen,
                        p.GetValue(sparsities)!,
                        p.GetValue(steps),
                        p.GetValue(windows),
                        p.GetValue(repeats),
                        status
                    );
                    if (p.GetValue(CliApp.JsonOption))
                    {
                        ctx.WriteJson(r);
                        return Task.FromResult(0);
                    }
                    var table = new Table().AddColumns(
                        "method",
                        "sparsity",
                        "parameters",
                        "zero weights",
                        "val loss pruned",
                        $"after {r.FinetuneSteps} steps",
                        "tokens/s",
                        "vs dense"
                    );
                    foreach (var x in r.Rows)
                        table.AddRow(
                            x.Method,
                            x.Sparsity.ToString("P0"),
                            x.ParametersAfter(),
                            x.ZeroWeights.ToString("N0"),
                            x.ValLossPruned.ToString("F4"),
                            x.ValLossRecovered?.ToString("F4") ?? "–",
                            x.ForwardTokensPerSecond.ToString("N0"),
                            $"{x.SpeedRatio:F2}x"
                        );
                    ctx.WriteTable(table);
                    ctx.Out.WriteLine($"dense validation loss {r.ValLossDense:F4}; {r.Threads} threads");
                    return Task.FromResult(0);
                }
            )
        );
        return cmd;
    }

    static string ParametersAfter(this PruningRow row) => row.Parameters.ToString("N0");
}
