using System.CommandLine;
using SharpLM.Compression;

namespace SharpLM.Cli.Commands;

/// <summary>sharplm quantize (a run with int8 weights) and sharplm prune (a sparser or smaller run).</summary>
public static class CompressionCommands
{
    public static Command Quantize(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "The fp32 run to quantize.", Required = true };
        var output = new Option<string>("--output") { Description = "Folder for the quantized run.", Required = true };
        var scheme = new Option<string>("--scheme")
        {
            Description = "int8-weight: symmetric per-output-channel int8 weights with fp32 scales.",
            DefaultValueFactory = _ => Int8Quantization.Scheme,
        };
        scheme.AcceptOnlyFromAmong(Int8Quantization.Scheme);
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an earlier quantized run in --output." };
        var cmd = new Command(
            "quantize",
            "Write a run with int8 weights (about 4x smaller on disk) that eval, generate and serve load like the original."
        );
        foreach (var o in new Option[] { model, output, scheme, overwrite, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                (p, _) =>
                {
                    var r = Int8Quantization.QuantizeRun(
                        p.GetValue(model)!,
                        p.GetValue(output)!,
                        p.GetValue(scheme)!,
                        p.GetValue(overwrite)
                    );
                    if (p.GetValue(CliApp.JsonOption))
                        ctx.WriteJson(r);
                    else
                        ctx.Out.WriteLine(
                            $"{r.Run}: {r.QuantizedTensors} weight matrices in int8, {r.KeptTensors} tensors kept in fp32; "
                                + $"model.safetensors {r.OriginalBytes / 1e6:F2} MB → {r.QuantizedBytes / 1e6:F2} MB "
                                + $"({r.SizeRatio:F2}x smaller); "
                                + $"largest error {r.MaxRelativeError:P2} of a channel's largest weight"
                        );
                    return Task.FromResult(0);
                }
            )
        );
        return cmd;
    }

    public static Command Prune(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "The GPT language-model run to prune.", Required = true };
        var output = new Option<string>("--output") { Description = "Folder for the pruned run.", Required = true };
        var method = new Option<string>("--method")
        {
            Description =
                "magnitude (global: the smallest weights become zero), heads (drop each layer's least important attention heads) "
                + "or neurons (drop feed-forward neurons); heads and neurons make the model smaller and faster.",
            DefaultValueFactory = _ => "magnitude",
        };
        method.AcceptOnlyFromAmong("magnitude", "heads", "neurons");
        var sparsity = new Option<double>("--sparsity")
        {
            Description = "Share removed, in [0, 1): of the block weights, or of each layer's heads or neurons.",
            Required = true,
        };
        var steps = new Option<int>("--finetune-steps")
        {
            Description = "Recovery training steps on the run's data (pruned weights stay zero).",
            DefaultValueFactory = _ => 0,
        };
        var data = new Option<string?>("--data") { Description = "Prepared data (default: the run's own)." };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an earlier pruned run in --output." };
        var cmd = new Command("prune", "Prune a GPT run (magnitude, attention heads or neurons), optionally with recovery training.");
        foreach (var o in new Option[] { model, output, method, sparsity, steps, data, overwrite, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                async (p, ct) =>
                {
                    var request = new PruningRequest
                    {
                        Model = p.GetValue(model)!,
                        Output = p.GetValue(output)!,
                        Method = Enum.Parse<PruningMethod>(p.GetValue(method)!, ignoreCase: true),
                        Sparsity = p.GetValue(sparsity),
                        FinetuneSteps = p.GetValue(steps),
                        Data = p.GetValue(data),
                        OverwriteOutput = p.GetValue(overwrite),
                    };
                    var r = await Task.Run(() => TrainingView.Run(ctx, 10, progress => Pruning.Run(request, progress, ct)), ct);
                    if (p.GetValue(CliApp.JsonOption))
                        ctx.WriteJson(r);
                    else
                    {
                        ctx.Out.WriteLine(
                            $"{r.Method} pruning at sparsity {r.Sparsity:P0}: parameters {r.ParametersBefore:N0} → "
                                + $"{r.ParametersAfter:N0}, "
                                + $"{r.ZeroWeights:N0} zero block weights"
                        );
                        ctx.Out.WriteLine(
                            $"validation loss: {r.ValLossBefore:F4} before, {r.ValLossPruned:F4} pruned"
                                + (r.ValLossRecovered is double v ? $", {v:F4} after {request.FinetuneSteps} recovery steps" : "")
                        );
                        ctx.Out.WriteLine($"run: {r.Run}");
                    }
                    return 0;
                }
            )
        );
        return cmd;
    }
}
