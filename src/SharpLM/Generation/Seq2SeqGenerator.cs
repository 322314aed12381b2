using SharpLM.Models;
using SharpLM.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Generation;

/// <summary>One source's output: the text, its token ids (without &lt;/s&gt;), why it ended, and a beam's score.</summary>
public sealed record Seq2SeqOutput(string Source, string Text, int[] TokenIds, string FinishReason, double? Score = null);

/// <summary>
/// Decoding for an encoder–decoder: the sources are encoded once (right-padded, with their padding mask); the decoder
/// starts from &lt;s&gt; and runs greedily or by beam search, with a self-attention KV cache and the cross-attention keys
/// and values computed once per source.
/// </summary>
public sealed class Seq2SeqGenerator(Seq2SeqTransformer model, Tokenizer tokenizer)
{
    /// <summary>The longest output the model can give: its max_position_embeddings less the start token.</summary>
    public int MaxNewTokens => model.Config.MaxPositionEmbeddings - 1;

    /// <summary>
    /// The output for each source: greedy when <paramref name="beams"/> is null, else the best num_return_sequences
    /// hypotheses per source (source-major, best first). At most <paramref name="maxNewTokens"/> tokens each.
    /// </summary>
    public List<Seq2SeqOutput> Generate(
        IReadOnlyList<string> sources,
        int maxNewTokens,
        BeamSearchOptions? beams = null,
        bool useCache = true,
        CancellationToken ct = default
    )
    {
        if (sources.Count == 0)
            throw new SharpLMException("Give at least one source text.");
        var c = model.Config;
        int limit = c.MaxPositionEmbeddings - 1;
        if (maxNewTokens < 1 || maxNewTokens > limit)
            throw new SharpLMException($"max_new_tokens must be between 1 and {limit} (the model's max_position_embeddings - 1).");
        var encoded = sources.Select(s => (IReadOnlyList<int>)[.. c.SourceIds(tokenizer, s).Select(i => (int)i)]).ToList();
        using var state = new Seq2SeqBeamSearchModel(model, encoded, maxNewTokens, useCache);
        using var inference = new Runtime.InferenceScope(model);
        if (beams is null)
            return Greedy(sources, state, maxNewTokens, ct);
        var options = beams with { MaxNewTokens = maxNewTokens };
        var starts = sources.Select(_ => (IReadOnlyList<int>)[c.DecoderStartTokenId]).ToList();
        var found = BeamSearch.Run(state, starts, c.EosTokenId, options, ct);
        var results = new List<Seq2SeqOutput>();
        for (int i = 0; i < sources.Count; i++)
            foreach (var h in found[i])
                results.Add(
                    new Seq2SeqOutput(sources[i], tokenizer.Decode(h.Tokens), h.Tokens, h.EndedWithEos ? "eos" : "length", h.Score)
                );
        return results;
    }

    List<Seq2SeqOutput> Greedy(IReadOnlyList<string> sources, Seq2SeqBeamSearchModel state, int maxNewTokens, CancellationToken ct)
    {
        int n = sources.Count,
            eos = model.Config.EosTokenId;
        var tokens = Enumerable.Range(0, n).Select(_ => new List<int>()).ToArray();
        var done = new bool[n];
        var rows = Enumerable.Range(0, n).Select(i => (long)i).ToArray();
        float[] logits;
        int vocab;
        using (var scope = NewDisposeScope())
        {
            var first = state.Start(1);
            vocab = (int)first.shape[^1];
            logits = first.to(ScalarType.Float32).data<float>().ToArray();
        }
        for (int step = 0; step < maxNewTokens; step++)
        {
            ct.ThrowIfCancellationRequested();
            var next = new long[n];
            for (int i = 0; i < n; i++)
            {
                int best = 0;
                for (int t = 1; t < vocab; t++)
                    if (logits[(long)i * vocab + t] > logits[(long)i * vocab + best])
                        best = t;
                next[i] = done[i] ? eos : best;
                if (!done[i])
                {
                    if (best == eos)
                        done[i] = true;
                    else
                        tokens[i].Add(best);
                }
            }
            if (done.All(d => d) || step + 1 == maxNewTokens)
                break;
            using var stepScope = NewDisposeScope();
            logits = state.Step(rows, next).to(ScalarType.Float32).data<float>().ToArray();
        }
        return sources
            .Select((s, i) => new Seq2SeqOutput(s, tokenizer.Decode(tokens[i]), [.. tokens[i]], done[i] ? "eos" : "length"))
            .ToList();
    }
}

/// <summary>
/// An encoder–decoder as beam search drives it: the encoder runs once on the sources; each row's decoder state (KV
/// cache, cross-attention keys/values, source mask) follows its parent beam. Without the cache the whole target is
/// recomputed each step (the reference the cache is tested against).
/// </summary>
sealed class Seq2SeqBeamSearchModel(Seq2SeqTransformer model, IReadOnlyList<IReadOnlyList<int>> sources, int maxNewTokens, bool useCache)
    : IBeamSearchModel,
        IDisposable
{
    Seq2SeqDecoderCache? _cache;
    Tensor? _memory,
        _mask;
    List<long>[] _targets = [];

    public Tensor Start(int numBeams)
    {
        var c = model.Config;
        int width = sources.Max(s => s.Count);
        var ids = tensor(
            sources.SelectMany(s => s.Select(t => (long)t).Concat(Enumerable.Repeat((long)c.PadTokenId, width - s.Count))).ToArray(),
            [sources.Count, width]
        );
        var expand = tensor(Enumerable.Range(0, sources.Count).SelectMany(b => Enumerable.Repeat((long)b, numBeams)).ToArray());
        using (var scope = NewDisposeScope())
        {
            var mask = model.SourceMask(ids);
            var memory = model.Encode(ids, mask);
            if (useCache)
                _cache = model.NewDecoderCache(memory, mask, maxNewTokens + 1);
            else
            {
                _memory = memory.index_select(0, expand).DetachFromDisposeScope();
                _mask = mask.index_select(0, expand).DetachFromDisposeScope();
            }
            _targets = sources.Select(_ => new List<long> { c.DecoderStartTokenId }).ToArray();
            var logits = useCache ? Decode() : model.Decode(Targets(), memory, mask)[.., -1, ..];
            _cache?.SelectRows(expand);
            _targets = Enumerable
                .Range(0, sources.Count)
                .SelectMany(_ => Enumerable.Range(0, numBeams))
                .Select(_ => new List<long> { c.DecoderStartTokenId })
                .ToArray();
            return logits.MoveToOuterDisposeScope();
        }
    }

    public Tensor Step(long[] parents, long[] tokens)
    {
        _cache?.SelectRows(tensor(parents));
        _targets = parents.Select((p, r) => new List<long>(_targets[p]) { tokens[r] }).ToArray();
        return _cache is not null ? Decode() : model.Decode(Targets(), _memory!, _mask!)[.., -1, ..];
    }

    Tensor Targets() => tensor(_targets.SelectMany(t => t).ToArray(), [_targets.Length, _targets[0].Count]);

    Tensor Decode()
    {
        var last = tensor(_targets.Select(t => t[^1]).ToArray(), [_targets.Length, 1]);
        return model.Decode(last, null!, null!, _cache)[.., -1, ..];
    }

    public void Dispose()
    {
        _cache?.Dispose();
        _memory?.Dispose();
        _mask?.Dispose();
    }
}
