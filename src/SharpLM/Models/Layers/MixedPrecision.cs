using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Models.Layers;

/// <summary>The number format a model multiplies its matrices in.</summary>
public enum Precision
{
    /// <summary>Everything in fp32.</summary>
    Fp32,

    /// <summary>
    /// Mixed precision: weights, gradients and optimizer state stay fp32 (the master copy); the matrix products of
    /// attention, the feed-forward and the LM head run in bf16; LayerNorm, residual sums, softmax statistics (libtorch's
    /// bf16 attention kernels accumulate in fp32) and the loss stay fp32.
    /// </summary>
    Bf16,
}

/// <summary>
/// Casts at the layer boundaries, because TorchSharp has no autocast: a Linear in bf16 casts its input and its fp32
/// weights (a differentiable cast, so gradients reach the fp32 weights as fp32), and the block casts its output back
/// to fp32 before it joins the residual stream.
/// </summary>
public static class MixedPrecision
{
    public static ScalarType ComputeType(this Precision p) => p == Precision.Bf16 ? ScalarType.BFloat16 : ScalarType.Float32;

    /// <summary>"fp32" or "bf16".</summary>
    public static string Name(this Precision p) => p == Precision.Bf16 ? "bf16" : "fp32";

    public static Precision Parse(string name, string parameter = "precision") =>
        name.ToLowerInvariant() switch
        {
            "fp32" or "float32" => Precision.Fp32,
            "bf16" or "bfloat16" => Precision.Bf16,
            _ => throw new SharpLMException($"{parameter} must be fp32 or bf16 (got '{name}')."),
        };

    /// <summary>Sets a model's matrix-product precision, or refuses bf16 for a model that computes in fp32 only.</summary>
    public static void Apply(nn.Module model, Precision precision)
    {
        if (model is IMixedPrecision mixed)
            mixed.Precision = precision;
        else if (precision != Precision.Fp32)
            throw new SharpLMException(
                $"precision {precision.Name()} is supported for GPT language models; this model ({model.GetName()}) computes in "
                    + "fp32 only."
            );
    }

    /// <summary>y = x Wᵀ + b in <paramref name="compute"/>; fp32 is the layer itself.</summary>
    public static Tensor Linear(Linear layer, Tensor x, ScalarType compute) =>
        compute == ScalarType.Float32
            ? layer.forward(x)
            : nn.functional.linear(x.to(compute), layer.weight!.to(compute), layer.bias?.to(compute));

    /// <summary>A tensor back in fp32 (no copy when it already is).</summary>
    public static Tensor Fp32(Tensor x) => x.dtype == ScalarType.Float32 ? x : x.to(ScalarType.Float32);
}
