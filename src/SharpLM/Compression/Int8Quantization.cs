using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLM.IO;
using SharpLM.Kinds;
using SharpLM.Models;
using SharpLM.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Compression;

/// <summary>What <see cref="Int8Quantization.QuantizeRun"/> wrote and what it cost.</summary>
public sealed record QuantizationReport(
    string Run,
    string Scheme,
    int QuantizedTensors,
    int KeptTensors,
    long OriginalBytes,
    long QuantizedBytes,
    double SizeRatio,
    double MaxRelativeError
);

/// <summary>
/// Int8 weights: every weight matrix of a run is stored as symmetric per-output-channel int8 with one fp32 scale per
/// channel (scale = max|w| ÷ 127, q = round(w ÷ scale)), in the safetensors layout of <see cref="Safetensors.ScaleSuffix"/>;
/// biases, LayerNorms and other vectors stay fp32. TorchSharp 0.107 has no quantized Linear, so runs load the weights
/// dequantized (fp32, or bf16 products with --precision bf16): int8 shrinks the file and what is shipped, not the
/// arithmetic.
/// </summary>
public static class Int8Quantization
{
    public const string Scheme = "int8-weight";

    /// <summary>The size of a model's weights: one file, or all the shards its index names.</summary>
    static long WeightBytes(string weights) => Safetensors.File.OpenSet(weights).Files.Sum(f => new FileInfo(f).Length);

    /// <summary>
    /// Symmetric int8 of a matrix per channel along <paramref name="channelDim"/> (0: per row, 1: per column): the scale
    /// has the matrix's rank and broadcasts against it; an all-zero channel gets scale 1 (and zeros).
    /// </summary>
    public static (Tensor Q, Tensor Scale) Quantize(Tensor weight, int channelDim)
    {
        if (weight.dim() != 2 || channelDim is not (0 or 1))
            throw new ArgumentException("Int8 quantization takes a matrix and a channel dimension of 0 or 1.");
        using var s = new Runtime.Scalars();
        var max = weight.abs().amax([1 - channelDim], keepdim: true);
        var scale = where(max.gt(s[0.0]), max.div(s[127.0]), ones_like(max));
        var q = weight.div(scale).round().clamp(s[-127.0], s[127.0]).to(ScalarType.Int8);
        return (q, scale);
    }

    /// <summary>The channel a stored weight's outputs run along: columns for GPT-2's Conv1D ([in, out]), else rows.</summary>
    static int OutputChannelDim(string name) => Gpt.IsConv1D(name) ? 1 : 0;

    /// <summary>
    /// Writes <paramref name="output"/>: the run <paramref name="model"/> with int8 weights (config.json gains a
    /// quantization_config), ready for eval, generate and serve. Refuses a run that is already quantized, an unknown
    /// scheme, and an output folder that SharpLM did not write or that holds a run (unless <paramref name="overwriteOutput"/>).
    /// </summary>
    public static QuantizationReport QuantizeRun(string model, string output, string scheme = Scheme, bool overwriteOutput = false)
    {
        if (scheme != Scheme)
            throw new SharpLMException($"scheme '{scheme}' is not known; the one scheme is {Scheme}.");
        var source = new RunFolder(model);
        ModelRegistry.ForRun(source); // a run SharpLM can load, or its one-line reason
        source.RequireWeights();
        if (Path.GetFullPath(output).TrimEnd('/') == source.Path.TrimEnd('/'))
            throw new SharpLMException("output_dir must be another folder than the run being quantized.");
        var file = Safetensors.File.OpenSet(source.Weights);
        if (file.Entries.Keys.FirstOrDefault(file.IsQuantized) is string already)
            throw new SharpLMException(
                $"{source.Path} is already quantized ('{already}' is int8); quantize the fp32 run it came from instead."
            );
        if (OutputFolder.Inspect(output, FolderKind.Run) == FolderState.Owned && !overwriteOutput)
            throw new SharpLMException(
                $"{Path.GetFullPath(output)} already holds a run; choose another output_dir or replace it with overwrite_output."
            );

        string tmp = OutputFolder.CreateTemporaryBeside(output, FolderKind.Run);
        try
        {
            var tensors = new List<(string, Tensor)>();
            int quantized = 0,
                kept = 0;
            double worst = 0;
            using (var scope = NewDisposeScope())
            {
                foreach (var name in file.Entries.OrderBy(e => e.Value.Begin).Select(e => e.Key))
                {
                    var t = file.Read(name);
                    if (t.dtype is ScalarType.Float16 or ScalarType.BFloat16) // a Hugging Face model saved in half precision
                        t = t.to(ScalarType.Float32);
                    if (t.dim() == 2 && t.dtype == ScalarType.Float32 && !name.EndsWith("bias", StringComparison.Ordinal))
                    {
                        var (q, scale) = Quantize(t, OutputChannelDim(name));
                        worst = Math.Max(worst, RelativeError(t, q, scale));
                        tensors.Add((name, q));
                        tensors.Add((name + Safetensors.ScaleSuffix, scale));
                        quantized++;
                    }
                    else
                    {
                        tensors.Add((name, t));
                        kept++;
                    }
                }
                var metadata = new Dictionary<string, string>(file.Metadata) { ["sharplm_quantization"] = Scheme };
                Safetensors.Save(Path.Combine(tmp, "model.safetensors"), tensors, metadata);
            }
            var config = JsonNode.Parse(File.ReadAllText(source.Config))!.AsObject();
            config["quantization_config"] = new JsonObject
            {
                ["quant_method"] = "sharplm",
                ["scheme"] = Scheme,
                ["bits"] = 8,
                ["symmetric"] = true,
                ["granularity"] = "per_output_channel",
                ["scale_suffix"] = Safetensors.ScaleSuffix,
                ["quantized_from"] = source.Path,
            };
            AtomicFile.WriteAllText(Path.Combine(tmp, "config.json"), config.ToJsonString(Json.Indented));
            // What eval, generate and serve read besides the weights; not the checkpoint (a quantized run is not resumed).
            string[] besides =
            [
                "tokenizer.json",
                "vocab.json",
                "merges.txt",
                "vocab.txt",
                "tokenizer_config.json",
                "training.json",
                "data.txt",
                "split.json",
                "pairs_split.json",
            ];
            foreach (var name in besides)
                if (File.Exists(Path.Combine(source.Path, name)))
                    File.Copy(Path.Combine(source.Path, name), Path.Combine(tmp, name));
            long before = WeightBytes(source.Weights),
                after = new FileInfo(Path.Combine(tmp, "model.safetensors")).Length;
            // The result must load as the kind it came from before it replaces anything.
            using (ModelRegistry.Load(tmp)) { }
            OutputFolder.SwapIn(tmp, output, FolderKind.Run);
            return new QuantizationReport(Path.GetFullPath(output), Scheme, quantized, kept, before, after, (double)before / after, worst);
        }
        catch
        {
            if (Directory.Exists(tmp))
                OutputFolder.Delete(tmp, FolderKind.Run);
            throw;
        }
    }

    /// <summary>Largest |w − q·scale| relative to its channel's largest |w| (at most 1/254 by construction).</summary>
    static double RelativeError(Tensor w, Tensor q, Tensor scale)
    {
        using var scope = NewDisposeScope();
        using var s = new Runtime.Scalars();
        var error = w.sub(q.to(ScalarType.Float32).mul(scale)).abs();
        return error.div(scale.mul(s[127.0])).max().item<float>();
    }
}
