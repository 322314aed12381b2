using System.Text;
using SharpLM.Models;
using SharpLM.Models.Layers;
using SharpLM.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Generation;

/// <summary>
/// Autoregressive generation with a GPT: a batch of prompts (left-padded, with an attention mask and
/// per-row positions), a KV cache (one full pass over the prompts, then one token per step), sampling,
/// stop sequences and streaming of the text as it is produced.
/// </summary>
public sealed class TextGenerator(Gpt model, Tokenizer tokenizer) : ITextGenerator
{
    /// <summary>
    /// Raised with (row, new text) as soon as text is certain (not part of a possible stop sequence or an incomplete character).
    /// </summary>
    public event Action<int, string>? TextProduced;

    /// <summary>Raised for warnings such as a cropped prompt.</summary>
    public event Action<string>? Warning;

    public IReadOnlyList<GenerationResult> Generate(
        IReadOnlyList<string> prompts,
        GenerationOptions options,
        CancellationToken ct = default
    )
    {
        var encoded = PromptInput.Encode(tokenizer, prompts, options);
        int block = model.Config.NPositions;
        int? eot = tokenizer.SpecialTokenId("<|endoftext|>");
        // Beam search keeps the whole hypothesis in the cache: the prompt gets what the new tokens leave of the context.
        int promptLimit = options.Beams is null ? block : block - options.MaxNewTokens;
        if (promptLimit < 1)
            throw new SharpLMException(
                $"max_new_tokens ({options.MaxNewTokens}) must be less than the model's context ({block}) with beam search."
            );
        int batch = prompts.Count;
        var rows = new List<int>[batch];
        var promptTokens = new int[batch];
        var cropped = new bool[batch];
        for (int b = 0; b < batch; b++)
        {
            var ids = encoded[b];
            if (ids.Count > promptLimit)
            {
                Warning?.Invoke(
                    options.Beams is null
                        ? $"prompt {b + 1} has {ids.Count} tokens, more than the model's context of {block}; using its last {block} tokens."
                        : $"prompt {b + 1} has {ids.Count} tokens; with {options.MaxNewTokens} new tokens in a context of {block}, "
                            + $"beam search uses its last {promptLimit}."
                );
                ids = ids.GetRange(ids.Count - promptLimit, promptLimit);
                cropped[b] = true;
            }
            promptTokens[b] = ids.Count;
            rows[b] = ids;
        }
        if (options.Beams is not null)
            return GenerateWithBeams(prompts, rows, promptTokens, cropped, eot, options, ct);
        // Left-pad to a common width; attend[b][j] is false on padding.
        int width = rows.Max(r => r.Count);
        var tokens = rows.Select(r => Enumerable.Repeat(0, width - r.Count).Concat(r).ToList()).ToArray();
        var attend = rows.Select(r => Enumerable.Repeat(false, width - r.Count).Concat(Enumerable.Repeat(true, r.Count)).ToList())
            .ToArray();
        bool padded = rows.Any(r => r.Count != width);

        var generated = Enumerable.Range(0, batch).Select(_ => new List<int>()).ToArray();
        var finish = new string?[batch];
        var streams = Enumerable.Range(0, batch).Select(_ => new TextStream(tokenizer, options.StopSequences, options.Safety)).ToArray();
        var history = rows.Select(r => (IReadOnlyList<int>)r).ToArray(); // prompt + generated, for the repetition penalty
        using var generator = new torch.Generator((ulong)options.Seed);
        using var cache = options.UseKvCache ? model.NewCache(batch) : null;
        using (new Runtime.InferenceScope(model))
        {
            for (int step = 0; step < options.MaxNewTokens && finish.Any(f => f is null); step++)
            {
                ct.ThrowIfCancellationRequested();
                long[] next;
                using (var scope = NewDisposeScope())
                using (var s = new Runtime.Scalars())
                {
                    int total = tokens[0].Count;
                    Tensor logits;
                    if (cache is null || cache.Length == 0 || cache.Length + 1 > block)
                    {
                        // Full pass over the last `block` columns (the prompt, or a context that has outgrown the cache).
                        cache?.Reset();
                        int w = Math.Min(total, block);
                        var idx = tensor(tokens.SelectMany(r => r.Skip(total - w)).Select(i => (long)i).ToArray(), [batch, w]);
                        Tensor? mask = padded ? tensor(attend.SelectMany(r => r.Skip(total - w)).ToArray(), [batch, w]) : null;
                        var positions = mask is null ? null : mask.to(ScalarType.Int64).cumsum(1).sub(s[1L]).clamp_min(s[0L]);
                        logits = model.Forward(idx, cache, positions, mask, lastOnly: true);
                    }
                    else
                    {
                        int w = cache.Length + 1;
                        var idx = tensor(tokens.Select(r => (long)r[^1]).ToArray(), [batch, 1]);
                        Tensor? mask = padded ? tensor(attend.SelectMany(r => r.Skip(total - w)).ToArray(), [batch, w]) : null;
                        var positions = mask is null ? null : mask.to(ScalarType.Int64).sum(1, keepdim: true).sub(s[1L]);
                        logits = model.Forward(idx, cache, positions, mask, lastOnly: true);
                    }
                    next = LogitsProcessor.Sample(logits[.., -1, ..], options, history, generator);
                }
                for (int b = 0; b < batch; b++)
                {
                    tokens[b].Add((int)next[b]);
                    attend[b].Add(true);
                    if (finish[b] is not null)
                        continue;
                    if (options.StopAtEndOfText && eot == next[b])
                    {
                        finish[b] = "eos";
                        continue;
                    }
                    generated[b].Add((int)next[b]);
                    rows[b].Add((int)next[b]);
                    Emit(b, streams[b].Add((int)next[b]));
                    finish[b] = streams[b].Finish;
                }
            }
        }
        var results = new GenerationResult[batch];
        for (int b = 0; b < batch; b++)
        {
            Emit(b, streams[b].Flush());
            results[b] = new GenerationResult(
                prompts[b],
                streams[b].Text,
                generated[b].ToArray(),
                finish[b] ?? "length",
                promptTokens[b],
                cropped[b]
            );
        }
        return results;
    }

    /// <summary>
    /// Beam search over all prompts at once; each prompt's best num_return_sequences hypotheses, best first (prompt-major).
    /// The text is released when the search ends: a beam's words can change until then.
    /// </summary>
    List<GenerationResult> GenerateWithBeams(
        IReadOnlyList<string> prompts,
        List<int>[] rows,
        int[] promptTokens,
        bool[] cropped,
        int? eot,
        GenerationOptions options,
        CancellationToken ct
    )
    {
        var beams = options.Beams! with { MaxNewTokens = options.MaxNewTokens, RepetitionPenalty = options.RepetitionPenalty };
        if (options.MaxNewTokens == 0)
            return prompts.Select((p, b) => new GenerationResult(p, "", [], "length", promptTokens[b], cropped[b])).ToList();
        List<List<BeamHypothesis>> found;
        using (new Runtime.InferenceScope(model))
        using (var beamModel = new GptBeamSearchModel(model, rows, options.MaxNewTokens, options.UseKvCache))
            found = BeamSearch.Run(beamModel, rows, options.StopAtEndOfText ? eot : null, beams, ct);
        return PromptInput.FromBeams(tokenizer, prompts, found, promptTokens, cropped, options, Emit);
    }

    void Emit(int row, string text)
    {
        if (text.Length > 0)
            TextProduced?.Invoke(row, text);
    }
}
