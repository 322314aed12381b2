using SharpLM.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SharpLM.Models.Layers;

/// <summary>
/// Multi-head causal self-attention with one fused q/k/v projection (GPT-2's c_attn) and an output
/// projection (c_proj). Attention itself is libtorch's scaled_dot_product_attention, which picks a
/// fused (flash / memory-efficient) CPU kernel when it can.
/// </summary>
public sealed class CausalSelfAttention : nn.Module<Tensor, Tensor>
{
    readonly Linear c_attn,
        c_proj;
    readonly Dropout resid_dropout;
    readonly int _heads,
        _headDim,
        _inner;
    readonly double _attnDropout;

    /// <summary>The dtype of the projections and attention (fp32, or bf16 under mixed precision); the output is fp32.</summary>
    internal ScalarType Compute { get; set; } = ScalarType.Float32;

    /// <param name="headDim">Each head's width: embd ÷ heads, unless heads were pruned away.</param>
    public CausalSelfAttention(int embd, int heads, int headDim, double attnDropout, double residDropout)
        : base(nameof(CausalSelfAttention))
    {
        _heads = heads;
        _headDim = headDim;
        _inner = heads * headDim;
        _attnDropout = attnDropout;
        c_attn = nn.Linear(embd, 3 * _inner);
        c_proj = nn.Linear(_inner, embd);
        resid_dropout = nn.Dropout(residDropout);
        RegisterComponents();
    }

    public Linear OutputProjection => c_proj;

    public override Tensor forward(Tensor x) => Forward(x, null, -1, null);

    /// <summary>One continuous-batching decode step: x [B, 1, C], each row at its own slot and position.</summary>
    public Tensor Forward(Tensor x, SlotDecodeBatch batch, int layer)
    {
        long b = x.shape[0];
        long d = _headDim;
        var qkv = MixedPrecision.Linear(c_attn, x, Compute).split(_inner, dim: 2);
        var q = qkv[0].view(b, 1, _heads, d).transpose(1, 2);
        var (k, v) = batch.Cache.Write(
            layer,
            batch,
            qkv[1].view(b, 1, _heads, d).transpose(1, 2),
            qkv[2].view(b, 1, _heads, d).transpose(1, 2)
        );
        var y = F.scaled_dot_product_attention(q, k, v, batch.Mask, 0.0, false);
        return resid_dropout.forward(
            MixedPrecision.Fp32(MixedPrecision.Linear(c_proj, y.transpose(1, 2).contiguous().view(b, 1, _inner), Compute))
        );
    }

    /// <param name="x">[B, T, C]</param>
    /// <param name="cache">Optional KV cache; the new keys/values are appended to it.</param>
    /// <param name="layer">This layer's index in the cache.</param>
    /// <param name="mask">Optional boolean mask [B, 1, T, T_total] (true = may attend); null means plain causal.</param>
    public Tensor Forward(Tensor x, KvCache? cache, int layer, Tensor? mask)
    {
        long b = x.shape[0],
            t = x.shape[1];
        long d = _headDim;
        var qkv = MixedPrecision.Linear(c_attn, x, Compute).split(_inner, dim: 2);
        var q = qkv[0].view(b, t, _heads, d).transpose(1, 2);
        var k = qkv[1].view(b, t, _heads, d).transpose(1, 2);
        var v = qkv[2].view(b, t, _heads, d).transpose(1, 2);
        bool causal = mask is null;
        if (cache is not null)
        {
            bool hasPast = cache.Length > 0;
            (k, v) = cache.Append(layer, k, v);
            // One new token may attend to everything cached; a chunk after a prefix needs an explicit mask.
            if (hasPast && mask is null)
            {
                if (t == 1)
                    causal = false;
                else
                    mask = CausalMask(t, cache.Length, x.device);
            }
        }
        var y =
            training && _attnDropout > 0 && causal && mask is null && Compute != ScalarType.Float32
                ? LowPrecisionCausalAttentionWithDropout(q, k, v)
                : F.scaled_dot_product_attention(q, k, v, mask, training ? _attnDropout : 0.0, causal && mask is null);
        y = y.transpose(1, 2).contiguous().view(b, t, _inner);
        return MixedPrecision.Fp32(resid_dropout.forward(MixedPrecision.Linear(c_proj, y, Compute)));
    }

    /// <summary>
    /// Training attention with dropout in bf16. libtorch's fused CPU kernel takes no dropout, and its fallback computes
    /// bf16 inputs in fp32 (no faster than fp32: measured 98 vs 102 ms for one small-preset layer, forward and
    /// backward); written out, the two products run in bf16 and the softmax reads and writes bf16 while accumulating in
    /// fp32 (libtorch's CPU softmax kernels compute bf16 in float vectors): 65 ms.
    /// </summary>
    Tensor LowPrecisionCausalAttentionWithDropout(Tensor q, Tensor k, Tensor v)
    {
        long t = q.shape[2];
        using var s = new Runtime.Scalars();
        var blocked = CausalMask(t, 0, q.device).logical_not();
        var bias = zeros(t, t, q.dtype, q.device).masked_fill_(blocked, s[double.NegativeInfinity]);
        var scores = q.matmul(k.transpose(-2, -1)).mul(s[1.0 / Math.Sqrt(_headDim)]).Plus(bias);
        return F.dropout(scores.softmax(-1), _attnDropout, training).matmul(v);
    }

    /// <summary>[T, past + T] mask where query i (at absolute position past + i) sees keys 0..past + i.</summary>
    public static Tensor CausalMask(long t, long past, Device device) => ones(t, past + t, ScalarType.Bool, device).tril(past);
}
