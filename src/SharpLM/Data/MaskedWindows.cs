using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Data;

/// <summary>
/// Masked-LM examples cut from a token split: windows of context − 2 tokens wrapped in [CLS] … [SEP], corrupted by
/// <see cref="MlmMasking"/> with a seed, so that training batches and evaluation windows are made the same way.
/// </summary>
public sealed class MaskedWindows(TokenDataset data, int context, int cls, int sep, MlmMasking masking)
{
    public TokenDataset Data => data;
    public int Inner => context - 2;

    /// <summary>Ids [B, context], attend [B, context] (all true) and labels [B, context] (-100 where not selected).</summary>
    public (Tensor Ids, Tensor Attend, Tensor Labels) Batch(IReadOnlyList<long> starts, ulong maskSeed)
    {
        int inner = Inner,
            t = context;
        var ids = new long[starts.Count * t];
        var buffer = new int[inner];
        for (int b = 0; b < starts.Count; b++)
        {
            data.Read(starts[b], buffer);
            ids[b * t] = cls;
            for (int i = 0; i < inner; i++)
                ids[b * t + 1 + i] = buffer[i];
            ids[b * t + t - 1] = sep;
        }
        var attend = Enumerable.Repeat(true, ids.Length).ToArray();
        var labels = masking.Apply(ids, attend, maskSeed);
        return (tensor(ids, [starts.Count, t]), tensor(attend, [starts.Count, t]), tensor(labels, [starts.Count, t]));
    }
}
