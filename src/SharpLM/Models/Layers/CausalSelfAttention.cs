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
        _embd;
    readonly double _attnDropout;

    public CausalSelfAttention(int embd, int heads, double attnDropout, double residDropout)
        : base(nameof(CausalSelfAttention))
    {
        _heads = heads;
        _embd = embd;
        _attnDropout = attnDropout;
        c_attn = nn.Linear(embd, 3 * embd);
        c_proj = nn.Linear(embd, embd);
        resid_dropout = nn.Dropout(residDropout);
        RegisterComponents();
    }

    public Linear OutputProjection => c_proj;

    public override Tensor forward(Tensor x) => Forward(x, null, -1, null);

    /// <summary>One continuous-batching decode step: x [B, 1, C], each row at its own slot and position.</summary>
    public Tensor Forward(Tensor x, SlotDecodeBatch batch, int layer)
    {
        long b = x.shape[0];
        long d = _embd / _heads;
        var qkv = c_attn.forward(x).split(_embd, dim: 2);
        var q = qkv[0].view(b, 1, _heads, d).transpose(1, 2);
        var (k, v) = batch.Cache.Write(
            layer,
            batch,
            qkv[1].view(b, 1, _heads, d).transpose(1, 2),
            qkv[2].view(b, 1, _heads, d).transpose(1, 2)
        );
        var y = F.scaled_dot_product_attention(q, k, v, batch.Mask, 0.0, false);
        return resid_dropout.forward(c_proj.forward(y.transpose(1, 2).contiguous().view(b, 1, _embd)));
    }

    /// <param name="x">[B, T, C]</param>
    /// <param name="cache">Optional KV cache; the new keys/values are appended to it.</param>
    /// <param name="layer">This layer's index in the cache.</param>
    /// <param name="mask">Optional boolean mask [B, 1, T, T_total] (true = may attend); null means plain causal.</param>
    public Tensor Forward(Tensor x, KvCache? cache, int layer, Tensor? mask)
    {
        long b = x.shape[0],
            t = x.shape[1];
        long d = _embd / _heads;
        var qkv = c_attn.forward(x).split(_embd, dim: 2);
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
        var y = F.scaled_dot_product_attention(q, k, v, mask, training ? _attnDropout : 0.0, causal && mask is null);
        y = y.transpose(1, 2).contiguous().view(b, t, _embd);
        return resid_dropout.forward(c_proj.forward(y));
    }

    /// <summary>[T, past + T] mask where query i (at absolute position past + i) sees keys 0..past + i.</summary>
    public static Tensor CausalMask(long t, long past, Device device) => ones(t, past + t, ScalarType.Bool, device).tril(past);
}
