using SharpLM.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Models.Layers;

/// <summary>Pre-LayerNorm transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x)).</summary>
public sealed class GptBlock : nn.Module<Tensor, Tensor>
{
    readonly LayerNorm ln_1,
        ln_2;
    readonly CausalSelfAttention attn;
    readonly GptMlp mlp;

    public GptBlock(GptConfig c)
        : base(nameof(GptBlock))
    {
        ln_1 = nn.LayerNorm(c.NEmbd, c.LayerNormEpsilon);
        attn = new CausalSelfAttention(c.NEmbd, c.NHead, c.HeadDim, c.AttnPdrop, c.ResidPdrop);
        ln_2 = nn.LayerNorm(c.NEmbd, c.LayerNormEpsilon);
        mlp = new GptMlp(c.NEmbd, c.InnerDim, c.ActivationFunction, c.ResidPdrop);
        RegisterComponents();
    }

    /// <summary>The two projections that write into the residual stream (GPT-2 scales their init by 1/sqrt(2·n_layer)).</summary>
    public IEnumerable<Linear> ResidualProjections => [attn.OutputProjection, mlp.OutputProjection];

    public override Tensor forward(Tensor x) => Forward(x, null, -1, null);

    internal void SetCompute(ScalarType compute)
    {
        attn.Compute = compute;
        mlp.Compute = compute;
    }

    public Tensor Forward(Tensor x, SlotDecodeBatch batch, int layer)
    {
        x = x.Plus(attn.Forward(ln_1.forward(x), batch, layer));
        return x.Plus(mlp.forward(ln_2.forward(x)));
    }

    public Tensor Forward(Tensor x, KvCache? cache, int layer, Tensor? mask)
    {
        x = x.Plus(attn.Forward(ln_1.forward(x), cache, layer, mask));
        return x.Plus(mlp.forward(ln_2.forward(x)));
    }
}
