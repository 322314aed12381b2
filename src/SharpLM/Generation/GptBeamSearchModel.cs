using SharpLM.Models;
using SharpLM.Models.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Generation;

/// <summary>
/// A GPT as beam search drives it: the prompts left-padded to one width (attention mask and per-row positions), a KV
/// cache of B × num_beams rows that follow their parent beams each step — or, without the cache, the whole sequences
/// recomputed every step (the reference the cached path is tested against).
/// </summary>
sealed class GptBeamSearchModel(Gpt model, IReadOnlyList<IReadOnlyList<int>> prompts, int maxNewTokens, bool useCache)
    : IBeamSearchModel,
        IDisposable
{
    KvCache? _cache;
    List<long>[] _tokens = [];
    List<bool>[] _attend = [];
    bool _padded;

    public Tensor Start(int numBeams)
    {
        int width = prompts.Max(p => p.Count);
        _padded = prompts.Any(p => p.Count != width);
        _tokens = prompts.Select(p => Enumerable.Repeat(0L, width - p.Count).Concat(p.Select(t => (long)t)).ToList()).ToArray();
        _attend = prompts
            .Select(p => Enumerable.Repeat(false, width - p.Count).Concat(Enumerable.Repeat(true, p.Count)).ToList())
            .ToArray();
        if (useCache)
            _cache = model.NewCache(prompts.Count, Math.Min(width + maxNewTokens, model.Config.NPositions));
        var logits = Forward(full: true);
        // Each input's state becomes its beams' state.
        var expand = Enumerable.Range(0, prompts.Count).SelectMany(b => Enumerable.Repeat((long)b, numBeams)).ToArray();
        Select(expand);
        return logits;
    }

    public Tensor Step(long[] parents, long[] tokens)
    {
        Select(parents);
        for (int r = 0; r < tokens.Length; r++)
        {
            _tokens[r].Add(tokens[r]);
            _attend[r].Add(true);
        }
        return Forward(full: _cache is null);
    }

    void Select(long[] rows)
    {
        _tokens = rows.Select(r => new List<long>(_tokens[r])).ToArray();
        _attend = rows.Select(r => new List<bool>(_attend[r])).ToArray();
        if (_cache is not null)
        {
            using var index = tensor(rows);
            _cache.SelectRows(index);
        }
    }

    Tensor Forward(bool full)
    {
        int n = _tokens.Length,
            total = _tokens[0].Count;
        using var s = new Runtime.Scalars();
        Tensor? mask = _padded ? tensor(_attend.SelectMany(a => a).ToArray(), [n, total]) : null;
        if (full)
        {
            var idx = tensor(_tokens.SelectMany(t => t).ToArray(), [n, total]);
            var positions = mask is null ? null : mask.to(ScalarType.Int64).cumsum(1).sub(s[1L]).clamp_min(s[0L]);
            _cache?.Reset();
            return model.Forward(idx, _cache, positions, mask, lastOnly: true)[.., -1, ..];
        }
        var last = tensor(_tokens.Select(t => t[^1]).ToArray(), [n, 1]);
        var position = mask is null ? null : mask.to(ScalarType.Int64).sum(1, keepdim: true).sub(s[1L]);
        return model.Forward(last, _cache, position, mask, lastOnly: true)[.., -1, ..];
    }

    public void Dispose() => _cache?.Dispose();
}
