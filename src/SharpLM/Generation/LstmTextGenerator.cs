using SharpLM.Models;
using SharpLM.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Generation;

/// <summary>
/// Generation with an LSTM language model: each prompt is read on its own (any length: the state carries it), the
/// states are stacked, and every step feeds one token per row — sampling as <see cref="TextGenerator"/> does (same
/// processors, stop sequences, safety filter, streaming), or beam search with the rows' states following their beams.
/// </summary>
public sealed class LstmTextGenerator(LstmLanguageModel model, Tokenizer tokenizer) : ITextGenerator
{
    public event Action<int, string>? TextProduced;

    // An LSTM reads a prompt of any length, so nothing is cropped and there is nothing to warn about.
    event Action<string>? ITextGenerator.Warning
    {
        add { }
        remove { }
    }

    public IReadOnlyList<GenerationResult> Generate(
        IReadOnlyList<string> prompts,
        GenerationOptions options,
        CancellationToken ct = default
    )
    {
        var rows = PromptInput.Encode(tokenizer, prompts, options);
        int batch = prompts.Count;
        var promptTokens = rows.Select(r => r.Count).ToArray();
        var cropped = new bool[batch];
        int? eot = tokenizer.SpecialTokenId("<|endoftext|>");
        using var inference = new Runtime.InferenceScope(model);
        if (options.Beams is not null)
        {
            if (options.MaxNewTokens == 0)
                return prompts.Select((p, b) => new GenerationResult(p, "", [], "length", promptTokens[b], cropped[b])).ToList();
            var beams = options.Beams with { MaxNewTokens = options.MaxNewTokens, RepetitionPenalty = options.RepetitionPenalty };
            using var beamModel = new LstmBeamSearchModel(model, rows);
            var found = BeamSearch.Run(beamModel, rows, options.StopAtEndOfText ? eot : null, beams, ct);
            return PromptInput.FromBeams(tokenizer, prompts, found, promptTokens, cropped, options, Emit);
        }
        var generated = Enumerable.Range(0, batch).Select(_ => new List<int>()).ToArray();
        var finish = new string?[batch];
        var streams = Enumerable.Range(0, batch).Select(_ => new TextStream(tokenizer, options.StopSequences, options.Safety)).ToArray();
        var history = rows.Select(r => (IReadOnlyList<int>)r).ToArray();
        using var generator = new torch.Generator((ulong)options.Seed);
        using var state = new LstmRows(model, rows);
        var logits = state.Logits;
        for (int step = 0; step < options.MaxNewTokens && finish.Any(f => f is null); step++)
        {
            ct.ThrowIfCancellationRequested();
            long[] next;
            using (var scope = NewDisposeScope())
                next = LogitsProcessor.Sample(logits, options, history, generator);
            for (int b = 0; b < batch; b++)
            {
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
            if (step + 1 < options.MaxNewTokens && finish.Any(f => f is null))
                logits = state.Step(null, next);
        }
        var results = new List<GenerationResult>();
        for (int b = 0; b < batch; b++)
        {
            Emit(b, streams[b].Flush());
            results.Add(
                new GenerationResult(
                    prompts[b],
                    streams[b].Text,
                    generated[b].ToArray(),
                    finish[b] ?? "length",
                    promptTokens[b],
                    cropped[b]
                )
            );
        }
        return results;
    }

    void Emit(int row, string text)
    {
        if (text.Length > 0)
            TextProduced?.Invoke(row, text);
    }
}

/// <summary>
/// Rows of LSTM state: each prompt read alone (so no padding ever enters a state), then stacked; each step feeds one
/// token per row, the rows first following <c>parents</c> when given (beam search). Holds the newest logits [rows, V].
/// </summary>
sealed class LstmRows : IDisposable
{
    readonly LstmLanguageModel _model;
    LstmState _state;
    public Tensor Logits { get; private set; }

    public LstmRows(LstmLanguageModel model, IReadOnlyList<IReadOnlyList<int>> prompts)
    {
        _model = model;
        using var scope = NewDisposeScope();
        var states = new List<LstmState>();
        var logits = new List<Tensor>();
        foreach (var prompt in prompts)
        {
            var (l, s) = model.Forward(tensor(prompt.Select(t => (long)t).ToArray()).unsqueeze(0), null);
            logits.Add(l[.., -1, ..]);
            states.Add(s);
        }
        var stacked = LstmState.Concat(states);
        _state = new LstmState(stacked.Hidden.DetachFromDisposeScope(), stacked.Cell.DetachFromDisposeScope());
        Logits = cat(logits.ToArray(), 0).DetachFromDisposeScope();
    }

    /// <summary>
    /// Row r continues row <paramref name="parents"/>[r] (all rows in order when null) with <paramref name="tokens"/>[r].
    /// </summary>
    public Tensor Step(long[]? parents, long[] tokens)
    {
        using var scope = NewDisposeScope();
        var state = parents is null ? _state : _state.Select(tensor(parents));
        var (logits, next) = _model.Forward(tensor(tokens).unsqueeze(1), state);
        Replace(new LstmState(next.Hidden.DetachFromDisposeScope(), next.Cell.DetachFromDisposeScope()));
        Logits.Dispose();
        Logits = logits[.., -1, ..].DetachFromDisposeScope();
        return Logits;
    }

    /// <summary>Row r becomes row <paramref name="rows"/>[r] (one prompt's state copied to each of its beams).</summary>
    public void Select(long[] rows)
    {
        using var scope = NewDisposeScope();
        var selected = _state.Select(tensor(rows));
        Replace(new LstmState(selected.Hidden.DetachFromDisposeScope(), selected.Cell.DetachFromDisposeScope()));
    }

    void Replace(LstmState state)
    {
        _state.Hidden.Dispose();
        _state.Cell.Dispose();
        _state = state;
    }

    public void Dispose()
    {
        Replace(default);
        Logits.Dispose();
    }
}

/// <summary>An LSTM as beam search drives it: the prompts' states, copied to their beams, then following them.</summary>
sealed class LstmBeamSearchModel(LstmLanguageModel model, IReadOnlyList<IReadOnlyList<int>> prompts) : IBeamSearchModel, IDisposable
{
    LstmRows? _rows;

    public Tensor Start(int numBeams)
    {
        _rows = new LstmRows(model, prompts);
        var logits = _rows.Logits.clone();
        _rows.Select(Enumerable.Range(0, prompts.Count).SelectMany(b => Enumerable.Repeat((long)b, numBeams)).ToArray());
        return logits;
    }

    public Tensor Step(long[] parents, long[] tokens) => _rows!.Step(parents, tokens).clone();

    public void Dispose() => _rows?.Dispose();
}
