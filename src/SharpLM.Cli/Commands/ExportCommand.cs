using System.CommandLine;
using SharpLM.Export;

namespace SharpLM.Cli.Commands;

/// <summary>sharplm export: a run as a Hugging Face folder, an ONNX graph or a GGUF file.</summary>
public static class ExportCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "The run (or model folder) to export.", Required = true };
        var format = new Option<string>("--format")
        {
            Description =
                "hf: a transformers folder (GPT-2, BERT); onnx: model.onnx for onnxruntime (GPT with KV cache, BERT); "
                + "gguf: model.gguf for llama.cpp (GPT).",
            Required = true,
        };
        format.AcceptOnlyFromAmong(ExportFormats.Names);
        var output = new Option<string>("--output") { Description = "Folder to write.", Required = true };
        var type = new Option<string>("--type")
        {
            Description = "GGUF tensor type of the weight matrices: f32, f16 or q8_0 (norms and biases stay f32).",
            DefaultValueFactory = _ => "f32",
        };
        type.AcceptOnlyFromAmong(GgufExport.Types);
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an earlier export in --output." };
        var cmd = new Command("export", "Write a run in another tool's format: a Hugging Face folder, ONNX or GGUF.");
        foreach (var o in new Option[] { model, format, output, type, overwrite, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                (p, _) =>
                {
                    var f = ExportFormats.Parse(p.GetValue(format)!);
                    if (f != ExportFormat.Gguf && p.GetResult(type) is { Implicit: false })
                        throw new SharpLMException("gguf_type applies to --format gguf only.");
                    var r = ModelExport.Run(
                        new ExportRequest
                        {
                            Model = p.GetValue(model)!,
                            Output = p.GetValue(output)!,
                            Format = f,
                            GgufType = p.GetValue(type)!,
                            OverwriteOutput = p.GetValue(overwrite),
                        }
                    );
                    if (p.GetValue(CliApp.JsonOption))
                        ctx.WriteJson(r);
                    else
                        ctx.Out.WriteLine(
                            $"{r.Output}: {r.Format} export of a {r.Kind} ({string.Join(", ", r.Files)}; {r.Bytes / 1e6:F2} MB); {r.Check}"
                        );
                    return Task.FromResult(0);
                }
            )
        );
        return cmd;
    }
}
