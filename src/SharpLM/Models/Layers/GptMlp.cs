using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Models.Layers;

/// <summary>The transformer feed-forward block: c_fc → activation (GELU) → c_proj → dropout (GPT-2 names).</summary>
public sealed class GptMlp : nn.Module<Tensor, Tensor>
{
    readonly Linear c_fc,
        c_proj;
    readonly string _activation;
    readonly Dropout dropout;

    public GptMlp(int embd, int inner, string activation, double dropoutP)
        : base(nameof(GptMlp))
    {
        c_fc = nn.Linear(embd, inner);
        c_proj = nn.Linear(inner, embd);
        _activation = activation;
        dropout = nn.Dropout(dropoutP);
        RegisterComponents();
    }

    public Linear OutputProjection => c_proj;

    /// <summary>The dtype of the two projections and the activation (fp32, or bf16 under mixed precision); the output is fp32.</summary>
    internal ScalarType Compute { get; set; } = ScalarType.Float32;

    public override Tensor forward(Tensor x) =>
        MixedPrecision.Fp32(
            dropout.forward(MixedPrecision.Linear(c_proj, Activation.Apply(_activation, MixedPrecision.Linear(c_fc, x, Compute)), Compute))
        );
}
