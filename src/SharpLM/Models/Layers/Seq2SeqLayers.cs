using SharpLM.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SharpLM.Models.Layers;

/// <summary>
/// BART's multi-head attention (q_proj, k_proj, v_proj, out_proj): self-attention over x, or cross-attention from x
/// to keys/values projected from an encoder's output. Attention is libtorch's scaled_dot_product_attention.
/// </summary>
public sealed class Seq2SeqAttention : nn.Module<Tensor, Tensor>
{
    readonly Linear q_proj,
        k_proj,
        v_proj,
        out_proj;
    readonly int _heads,
        _dim;
    readonly double _dropout;

    public Seq2SeqAttention(int dim, int heads, double dropout)
        : base(nameof(Seq2SeqAttention))
    {
        _heads = heads;
        _dim = dim;
        _dropout = dropout;
        q_proj = nn.Linear(dim, dim);
        k_proj = nn.Linear(dim, dim);
        v_proj = nn.Linear(dim, dim);
        out_proj = nn.Linear(dim, dim);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => Forward(x, Project(x), null, causal: true);

    Tensor Heads(Tensor x) => x.view(x.shape[0], x.shape[1], _heads, _dim / _heads).transpose(1, 2);

    /// <summary>
    /// Keys and values [B, H, S, D] of <paramref name="source"/> [B, S, C] (cross-attention computes them once per source).
    /// </summary>
    public (Tensor Keys, Tensor Values) Project(Tensor source) => (Heads(k_proj.forward(source)), Heads(v_proj.forward(source)));

    /// <param name="x">Queries [B, T, C].</param>
    /// <param name="keysValues">Keys and values [B, H, S, D].</param>
    /// <param name="mask">
    /// Boolean [B, 1, T or 1, S], true where a query may attend; null with <paramref name="causal"/> for plain causal.
    /// </param>
    public Tensor Forward(Tensor x, (Tensor Keys, Tensor Values) keysValues, Tensor? mask, bool causal)
    {
        long b = x.shape[0],
            t = x.shape[1];
        var q = Heads(q_proj.forward(x));
        var y = F.scaled_dot_product_attention(
            q,
            keysValues.Keys,
            keysValues.Values,
            mask,
            training ? _dropout : 0.0,
            causal && mask is null
        );
        return out_proj.forward(y.transpose(1, 2).contiguous().view(b, t, _dim));
    }
}

/// <summary>Feed-forward sublayer: fc1 → activation → dropout → fc2.</summary>
public sealed class Seq2SeqFeedForward : nn.Module<Tensor, Tensor>
{
    readonly Linear fc1,
        fc2;
    readonly Dropout activation_dropout;
    readonly bool _relu;

    public Seq2SeqFeedForward(int dim, int inner, string activation, double activationDropout)
        : base(nameof(Seq2SeqFeedForward))
    {
        fc1 = nn.Linear(dim, inner);
        fc2 = nn.Linear(inner, dim);
        activation_dropout = nn.Dropout(activationDropout);
        _relu = activation == "relu";
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var h = fc1.forward(x);
        return fc2.forward(activation_dropout.forward(_relu ? F.relu(h) : F.gelu(h)));
    }
}

/// <summary>
/// One encoder block: self-attention then feed-forward, each with a residual and LayerNorm (after, or before when pre-LN).
/// </summary>
public sealed class Seq2SeqEncoderLayer : nn.Module<Tensor, Tensor>
{
    readonly Seq2SeqAttention self_attn;
    readonly LayerNorm self_attn_layer_norm,
        final_layer_norm;
    readonly Seq2SeqFeedForward ffn;
    readonly Dropout dropout;
    readonly bool _preNorm;

    public Seq2SeqEncoderLayer(Seq2SeqConfig c)
        : base(nameof(Seq2SeqEncoderLayer))
    {
        self_attn = new Seq2SeqAttention(c.DModel, c.EncoderAttentionHeads, c.AttentionDropout);
        self_attn_layer_norm = nn.LayerNorm(c.DModel, c.LayerNormEps);
        ffn = new Seq2SeqFeedForward(c.DModel, c.EncoderFfnDim, c.ActivationFunction, c.ActivationDropout);
        final_layer_norm = nn.LayerNorm(c.DModel, c.LayerNormEps);
        dropout = nn.Dropout(c.Dropout);
        _preNorm = c.NormalizeBefore;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => Forward(x, null);

    /// <param name="mask">[B, 1, 1, S]: true on real source tokens.</param>
    public Tensor Forward(Tensor x, Tensor? mask)
    {
        var h = _preNorm ? self_attn_layer_norm.forward(x) : x;
        x = x.Plus(dropout.forward(self_attn.Forward(h, self_attn.Project(h), mask, causal: false)));
        if (!_preNorm)
            x = self_attn_layer_norm.forward(x);
        h = _preNorm ? final_layer_norm.forward(x) : x;
        x = x.Plus(dropout.forward(ffn.forward(h)));
        return _preNorm ? x : final_layer_norm.forward(x);
    }
}

/// <summary>One decoder block: causal self-attention, cross-attention to the encoder's output, feed-forward.</summary>
public sealed class Seq2SeqDecoderLayer : nn.Module<Tensor, Tensor>
{
    readonly Seq2SeqAttention self_attn,
        encoder_attn;
    readonly LayerNorm self_attn_layer_norm,
        encoder_attn_layer_norm,
        final_layer_norm;
    readonly Seq2SeqFeedForward ffn;
    readonly Dropout dropout;
    readonly bool _preNorm;

    public Seq2SeqDecoderLayer(Seq2SeqConfig c)
        : base(nameof(Seq2SeqDecoderLayer))
    {
        self_attn = new Seq2SeqAttention(c.DModel, c.DecoderAttentionHeads, c.AttentionDropout);
        self_attn_layer_norm = nn.LayerNorm(c.DModel, c.LayerNormEps);
        encoder_attn = new Seq2SeqAttention(c.DModel, c.DecoderAttentionHeads, c.AttentionDropout);
        encoder_attn_layer_norm = nn.LayerNorm(c.DModel, c.LayerNormEps);
        ffn = new Seq2SeqFeedForward(c.DModel, c.DecoderFfnDim, c.ActivationFunction, c.ActivationDropout);
        final_layer_norm = nn.LayerNorm(c.DModel, c.LayerNormEps);
        dropout = nn.Dropout(c.Dropout);
        _preNorm = c.NormalizeBefore;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => throw new NotSupportedException("A decoder layer needs the encoder's output.");

    /// <summary>The cross-attention keys and values of an encoder output (once per source; decoding steps reuse them).</summary>
    public (Tensor Keys, Tensor Values) CrossKeysValues(Tensor memory) => encoder_attn.Project(memory);

    /// <param name="x">Decoder states [B, T, C].</param>
    /// <param name="cache">Self-attention keys/values of earlier target positions (appended to), or null for a full pass.</param>
    /// <param name="layer">This layer's index in the cache.</param>
    /// <param name="cross">This layer's cross-attention keys/values of the source.</param>
    /// <param name="sourceMask">[B, 1, 1, S]: true on real source tokens.</param>
    public Tensor Forward(Tensor x, KvCache? cache, int layer, (Tensor Keys, Tensor Values) cross, Tensor sourceMask)
    {
        long t = x.shape[1];
        var h = _preNorm ? self_attn_layer_norm.forward(x) : x;
        var kv = self_attn.Project(h);
        Tensor? mask = null;
        bool causal = true;
        if (cache is not null)
        {
            int past = cache.Length;
            kv = cache.Append(layer, kv.Keys, kv.Values);
            if (past > 0)
            {
                causal = false;
                if (t > 1)
                    mask = CausalSelfAttention.CausalMask(t, past, x.device);
            }
        }
        x = x.Plus(dropout.forward(self_attn.Forward(h, kv, mask, causal)));
        if (!_preNorm)
            x = self_attn_layer_norm.forward(x);
        h = _preNorm ? encoder_attn_layer_norm.forward(x) : x;
        x = x.Plus(dropout.forward(encoder_attn.Forward(h, cross, sourceMask, causal: false)));
        if (!_preNorm)
            x = encoder_attn_layer_norm.forward(x);
        h = _preNorm ? final_layer_norm.forward(x) : x;
        x = x.Plus(dropout.forward(ffn.forward(h)));
        return _preNorm ? x : final_layer_norm.forward(x);
    }
}
