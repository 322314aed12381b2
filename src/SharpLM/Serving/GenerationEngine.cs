using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using SharpLM.Generation;
using SharpLM.Kinds;
using SharpLM.Models;
using SharpLM.Models.Layers;
using SharpLM.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Serving;

/// <summary>One sequence to generate: prompt ids, how to sample, and whether to report log-probabilities.</summary>
public sealed record EngineRequest
{
    public required int[] PromptIds { get; init; }
    public required GenerationOptions Options { get; init; }

    /// <summary>Report each sampled token's log-probability (and the <see cref="TopLogprobs"/> most likely alternatives).</summary>
    public bool Logprobs { get; init; }
    public int TopLogprobs { get; init; }
}

/// <summary>What a running sequence reports, in order: tokens, then one <see cref="Finished"/>.</summary>
public abstract record GenerationEvent;

/// <summary>A sampled token, the text it made certain (may be empty), and its log-probabilities when asked for.</summary>
public sealed record TokenGenerated(int Id, string Text, double? Logprob, IReadOnlyList<(int Id, double Logprob)>? Top) : GenerationEvent;

/// <summary>
/// The end: "stop" (a stop sequence or end of text), "length" (max tokens or the model's context), "content_filter"
/// (the safety filter cut it) or "cancelled"; the whole text; token counts; time to first token and in all.
/// </summary>
public sealed record Finished(string Reason, string Text, int PromptTokens, int CompletionTokens, TimeSpan TimeToFirstToken, TimeSpan Total)
    : GenerationEvent;

/// <summary>What the engine tells an observer (the server's metrics): queue changes, first tokens, tokens and ends.</summary>
public interface IEngineObserver
{
    void Queued() { }
    void Started(TimeSpan waited) { }
    void FirstToken(TimeSpan sinceSubmit) { }
    void Token(TimeSpan sincePrevious) { }
    void Finished(Finished finished) { }
}

/// <summary>The queue is full: the caller should try again later (HTTP 429).</summary>
public sealed class EngineBusyException(string message) : Exception(message);

public sealed record EngineOptions
{
    /// <summary>Sequences decoded together (KV-cache slots).</summary>
    public int MaxBatch { get; init; } = 16;

    /// <summary>Requests waiting for a slot beyond the running ones; more are refused.</summary>
    public int MaxQueue { get; init; } = 64;

    /// <summary>Applied to every sequence's output (prompts are checked by the caller).</summary>
    public SafetyFilter? Safety { get; init; }
    public IEngineObserver? Observer { get; init; }
}

/// <summary>
/// Continuous batching at token granularity for a GPT run, as vLLM, TGI and llama.cpp's server do it: one loop; a new
/// request takes a free KV-cache slot at the next step boundary (its prompt is prefilled on its own), then every active
/// sequence advances by one token in a single batched forward pass; a finished or cancelled sequence leaves at once
/// and its slot is reused. Each request samples with its own generator, so a seeded request gets the same tokens alone
/// or batched (up to floating-point differences between batch sizes, which sampling almost never notices).
/// </summary>
public sealed class GenerationEngine : IDisposable
{
    readonly Gpt _gpt;
    readonly EngineOptions _o;
    readonly SlotKvCache _cache;
    readonly ConcurrentQueue<Sequence> _queue = new();
    readonly SemaphoreSlim _wake = new(0);
    readonly Thread _loop;
    readonly CancellationTokenSource _stop = new();
    readonly int? _endOfText;
    int _waiting,
        _running;

    public LoadedModel Model { get; }
    public Tokenizer Tokenizer => Model.Tokenizer;

    /// <summary>The model's context: prompt plus generated tokens cannot exceed it.</summary>
    public int Context => _gpt.Config.NPositions;
    public int Waiting => Volatile.Read(ref _waiting);
    public int Running => Volatile.Read(ref _running);

    public GenerationEngine(LoadedModel model, EngineOptions? options = null)
    {
        Model = model;
        _gpt = model.As<Gpt>("text generation");
        _o = options ?? new EngineOptions();
        if (_o.MaxBatch < 1 || _o.MaxQueue < 0)
            throw new SharpLMException($"max_batch must be at least 1 and max_queue at least 0 (got {_o.MaxBatch} and {_o.MaxQueue}).");
        _cache = _gpt.NewSlotCache(_o.MaxBatch);
        _endOfText = model.Tokenizer.SpecialTokenId("<|endoftext|>");
        _loop = new Thread(Loop) { IsBackground = true, Name = "sharplm-engine" };
        _loop.Start();
    }

    /// <summary>A submitted sequence: read its events until <see cref="Finished"/>.</summary>
    public sealed class Handle(ChannelReader<GenerationEvent> events)
    {
        public ChannelReader<GenerationEvent> Events { get; } = events;

        /// <summary>Reads every event and returns the end (tokens are passed to <paramref name="onToken"/>).</summary>
        public async Task<Finished> CompleteAsync(Action<TokenGenerated>? onToken = null, CancellationToken ct = default)
        {
            await foreach (var e in Events.ReadAllAsync(ct))
                if (e is TokenGenerated t)
                    onToken?.Invoke(t);
                else if (e is Finished f)
                    return f;
            throw new InvalidOperationException("The engine ended the sequence without a result.");
        }
    }

    /// <summary>
    /// Queues a sequence; cancelling <paramref name="ct"/> (a client that went away) frees its slot within one step.
    /// Throws <see cref="EngineBusyException"/> when the queue is full.
    /// </summary>
    public Handle Submit(EngineRequest request, CancellationToken ct = default)
    {
        request.Options.Validate();
        if (request.PromptIds.Length == 0)
            throw new SharpLMException("The prompt has no tokens.");
        if (request.PromptIds.Length > Context)
            throw new SharpLMException($"The prompt has {request.PromptIds.Length} tokens; the model's context is {Context}.");
        if (_stop.IsCancellationRequested)
            throw new ObjectDisposedException(nameof(GenerationEngine));
        if (Interlocked.Increment(ref _waiting) > _o.MaxQueue + Math.Max(0, _o.MaxBatch - Running))
        {
            Interlocked.Decrement(ref _waiting);
            throw new EngineBusyException(
                $"The server is busy: {Running} sequences running and {Waiting} waiting (max_queue {_o.MaxQueue})."
            );
        }
        var channel = Channel.CreateUnbounded<GenerationEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        _queue.Enqueue(new Sequence(request, channel.Writer, ct, _o.Safety, Tokenizer));
        _o.Observer?.Queued();
        _wake.Release();
        return new Handle(channel.Reader);
    }

    /// <summary>One sequence in the engine: its slot, tokens, sampler, text and timing.</summary>
    sealed class Sequence(
        EngineRequest request,
        ChannelWriter<GenerationEvent> output,
        CancellationToken ct,
        SafetyFilter? safety,
        Tokenizer tokenizer
    ) : IDisposable
    {
        public EngineRequest Request { get; } = request;
        public ChannelWriter<GenerationEvent> Output { get; } = output;
        public CancellationToken Cancel { get; } = ct;
        public TextStream Text { get; } = new(tokenizer, request.Options.StopSequences, request.Options.Safety ?? safety);
        public List<int> History { get; } = [.. request.PromptIds];
        public Generator Sampler { get; } = new((ulong)request.Options.Seed);
        public Stopwatch Clock { get; } = Stopwatch.StartNew();
        public TimeSpan? FirstToken { get; set; }
        public TimeSpan LastToken { get; set; }
        public int Slot { get; set; } = -1;

        /// <summary>Tokens whose keys and values are in the slot; the newest sampled token goes at this position next.</summary>
        public int Stored { get; set; }
        public int Generated { get; set; }

        public void Dispose() => Sampler.Dispose();
    }

    void Loop()
    {
        // active[b] lives in slot b: the step reads the cache as a view, not a gather (see SlotKvCache.Write).
        var active = new List<Sequence>();
        using var inference = new Runtime.InferenceScope(_gpt);
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                // Admit waiting sequences into free slots (each prefilled alone, then one of the batch).
                while (active.Count < _o.MaxBatch && _queue.TryDequeue(out var s))
                {
                    Interlocked.Decrement(ref _waiting);
                    _o.Observer?.Started(s.Clock.Elapsed);
                    if (s.Cancel.IsCancellationRequested || s.Request.Options.MaxNewTokens == 0)
                    {
                        End(s, s.Cancel.IsCancellationRequested ? "cancelled" : "length");
                        s.Dispose();
                        continue;
                    }
                    s.Slot = active.Count;
                    Interlocked.Increment(ref _running);
                    try
                    {
                        using var scope = NewDisposeScope();
                        var prompt = tensor(s.Request.PromptIds.Select(i => (long)i).ToArray(), [1, s.Request.PromptIds.Length]);
                        var logits = _gpt.Prefill(prompt, _cache, s.Slot);
                        s.Stored = s.Request.PromptIds.Length;
                        if (Advance(s, logits[0], Greedy(s) ? logits[0].argmax().item<long>() : null))
                            active.Add(s);
                        else
                            Release(s);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        s.Output.TryComplete(e);
                        Release(s);
                    }
                }
                // Cancelled ones leave before the step.
                for (int b = active.Count - 1; b >= 0; b--)
                    if (active[b].Cancel.IsCancellationRequested)
                    {
                        End(active[b], "cancelled");
                        Leave(active, b);
                    }
                if (active.Count == 0)
                {
                    _wake.Wait(TimeSpan.FromMilliseconds(200), _stop.Token);
                    continue;
                }
                using (var scope = NewDisposeScope())
                {
                    var ids = tensor(active.Select(s => (long)s.History[^1]).ToArray());
                    var logits = _gpt.DecodeStep(
                        ids,
                        _cache,
                        active.Select(s => (long)s.Slot).ToArray(),
                        active.Select(s => (long)s.Stored).ToArray()
                    );
                    for (int b = 0; b < active.Count; b++)
                        active[b].Stored++;
                    // Greedy rows (the common case) take one argmax for the whole batch instead of one per row.
                    long[]? argmax = active.Any(Greedy) ? logits.argmax(-1).data<long>().ToArray() : null;
                    // From the end, so that a row leaving moves only rows already advanced into its slot.
                    for (int b = active.Count - 1; b >= 0; b--)
                        if (!Advance(active[b], logits[b], Greedy(active[b]) ? argmax![b] : null))
                            Leave(active, b);
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // A failure in the step fails the sequences in it, not the engine.
                foreach (var s in active)
                {
                    s.Output.TryComplete(e);
                    Release(s);
                }
                active.Clear();
            }
        }
        foreach (var s in active)
            End(s, "cancelled");
        while (_queue.TryDequeue(out var waiting))
            End(waiting, "cancelled");
    }

    /// <summary>Row <paramref name="b"/> leaves; the last row moves into its slot, so slots stay 0..count-1.</summary>
    void Leave(List<Sequence> active, int b)
    {
        var leaving = active[b];
        int last = active.Count - 1;
        if (b != last)
        {
            var moved = active[last];
            _cache.Move(moved.Slot, b, moved.Stored);
            moved.Slot = b;
            active[b] = moved;
        }
        active.RemoveAt(last);
        Release(leaving);
    }

    void Release(Sequence s)
    {
        FreeSlot(s);
        s.Dispose();
    }

    void FreeSlot(Sequence s)
    {
        if (s.Slot >= 0)
        {
            s.Slot = -1;
            Interlocked.Decrement(ref _running);
        }
    }

    /// <summary>Greedy decoding without a repetition penalty or log-probabilities needs only the argmax.</summary>
    static bool Greedy(Sequence s) => s.Request.Options is { Temperature: 0, RepetitionPenalty: 1.0 } && !s.Request.Logprobs;

    /// <summary>
    /// Samples the sequence's next token from <paramref name="logits"/> [vocab] (or takes <paramref name="chosen"/>, the
    /// argmax of a greedy row); returns whether it goes on.
    /// </summary>
    bool Advance(Sequence s, Tensor logits, long? chosen)
    {
        var o = s.Request.Options;
        long next = chosen ?? LogitsProcessor.Sample(logits.unsqueeze(0), o, [s.History], s.Sampler)[0];
        double? logprob = null;
        List<(int, double)>? top = null;
        if (s.Request.Logprobs)
        {
            var lp = logits.to(ScalarType.Float32).log_softmax(-1);
            logprob = lp[next].item<float>();
            if (s.Request.TopLogprobs > 0)
            {
                var (values, indices) = lp.topk(Math.Min(s.Request.TopLogprobs, (int)lp.shape[0]));
                var v = values.data<float>().ToArray();
                top = indices.data<long>().Select((id, j) => ((int)id, (double)v[j])).ToList();
            }
        }
        var now = s.Clock.Elapsed;
        if (s.FirstToken is null)
        {
            s.FirstToken = now;
            _o.Observer?.FirstToken(now);
        }
        else
            _o.Observer?.Token(now - s.LastToken);
        s.LastToken = now;
        if (o.StopAtEndOfText && next == _endOfText)
        {
            End(s, "stop");
            return false;
        }
        s.History.Add((int)next);
        s.Generated++;
        string delta = s.Text.Add((int)next);
        s.Output.TryWrite(new TokenGenerated((int)next, delta, logprob, top));
        if (s.Text.Finish is string reason)
        {
            End(s, reason);
            return false;
        }
        // The token just sampled would be stored at position Stored: past the context, the sequence ends.
        if (s.Generated >= o.MaxNewTokens || s.Stored >= Context)
        {
            End(s, "length");
            return false;
        }
        return true;
    }

    void End(Sequence s, string reason)
    {
        // The slot counts as free before anyone hears that the sequence finished, so that the metrics never show a
        // sequence both finished and running (its cache rows are reused once it leaves the batch).
        FreeSlot(s);
        string rest = s.Text.Flush();
        if (rest.Length > 0)
            s.Output.TryWrite(new TokenGenerated(-1, rest, null, null));
        var finished = new Finished(
            reason,
            s.Text.Text,
            s.Request.PromptIds.Length,
            s.Generated,
            s.FirstToken ?? s.Clock.Elapsed,
            s.Clock.Elapsed
        );
        s.Output.TryWrite(finished);
        s.Output.TryComplete();
        _o.Observer?.Finished(finished);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _wake.Release();
        _loop.Join();
        _cache.Dispose();
        _wake.Dispose();
        _stop.Dispose();
    }
}
