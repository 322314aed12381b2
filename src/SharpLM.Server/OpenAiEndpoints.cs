using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using SharpLM.Generation;
using SharpLM.Pipelines;
using SharpLM.Serving;

namespace SharpLM.Server;

/// <summary>
/// The OpenAI API's request and response shapes over the engine and pipelines. Field names, defaults, finish reasons,
/// streaming (server-sent events, usage in a last chunk when stream_options.include_usage) and errors follow OpenAI's
/// API; top_k, repetition_penalty, truncate_prompt_tokens and pooling are SharpLM's (vLLM's) extensions.
/// </summary>
sealed class OpenAiEndpoints(SharpLMServer server, SafetyFilter? safety)
{
    internal static readonly JsonSerializerOptions Compact = new()
    {
        WriteIndented = false,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>How to sample, read from a completions or chat request.</summary>
    sealed record Sampling(GenerationOptions Options, int N, bool Stream, bool IncludeUsage, long? Seed);

    static Sampling ReadSampling(RequestBody body, int context, int promptTokens, bool chat)
    {
        body.RefuseUnsupported(
            ("presence_penalty", RequestBody.IsZero),
            ("frequency_penalty", RequestBody.IsZero),
            ("logit_bias", RequestBody.IsEmptyObject),
            ("best_of", v => v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int b) && b == 1),
            ("echo", v => v.ValueKind == JsonValueKind.False),
            ("suffix", v => v.ValueKind == JsonValueKind.String && v.GetString() == ""),
            ("tools", v => v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 0),
            ("functions", v => v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 0),
            (
                "response_format",
                v =>
                    v.ValueKind == JsonValueKind.Object
                    && v.TryGetProperty("type", out var t)
                    && t.ValueKind == JsonValueKind.String
                    && t.GetString() == "text"
            )
        );
        int room = Math.Max(1, context - promptTokens + 1);
        int? max = body.Integer("max_completion_tokens", 1, int.MaxValue) ?? body.Integer("max_tokens", 1, int.MaxValue);
        var stop = body.Strings("stop", 16) ?? [];
        if (stop.Any(s => s.Length == 0))
            throw ApiException.BadRequest("Stop sequences must not be empty.", "stop");
        long? seed = body.Long("seed");
        _ = body.String("user"); // OpenAI's end-user id: checked, not used
        int topK = body.Integer("top_k", -1, int.MaxValue) ?? 0;
        var options = new GenerationOptions
        {
            MaxNewTokens = Math.Min(max ?? (chat ? room : 16), room),
            Temperature = body.Number("temperature", 1.0, 0, 2),
            TopP = body.Number("top_p", 1.0, double.Epsilon, 1),
            TopK = topK < 0 ? 0 : topK,
            RepetitionPenalty = body.Number("repetition_penalty", 1.0, double.Epsilon, 100),
            StopSequences = stop,
            Seed = seed ?? Random.Shared.NextInt64(),
        };
        bool stream = body.Bool("stream", false);
        bool includeUsage = false;
        if (body.Has("stream_options"))
        {
            var so = body.Root.GetProperty("stream_options");
            if (!stream)
                throw ApiException.BadRequest("'stream_options' is only allowed when 'stream' is true.", "stream_options");
            includeUsage =
                so.ValueKind == JsonValueKind.Object
                && so.TryGetProperty("include_usage", out var iu)
                && iu.ValueKind == JsonValueKind.True;
        }
        return new Sampling(options, body.Integer("n", 1, 16) ?? 1, stream, includeUsage, seed);
    }

    /// <summary>The served model the request names, which must generate text.</summary>
    ServedModel Generator(RequestBody body)
    {
        var model = server.Find(body.RequiredString("model"));
        if (model.Engine is null)
            throw ApiException.BadRequest(
                $"The model '{model.Id}' is a {model.Model.Kind.Description}; it does not generate text.",
                "model",
                "model_not_supported"
            );
        return model;
    }

    /// <summary>The prompt's ids, checked: not blocked by the safety filter, and within the context (or cut, if asked).</summary>
    int[] CheckPrompt(ServedModel model, int[] ids, string text, RequestBody body, string param)
    {
        if (safety is not null && safety.FirstMatch(text) >= 0)
            throw ApiException.BadRequest("The prompt was refused by the server's content filter.", param, "content_filter");
        if (ids.Length == 0)
            throw ApiException.BadRequest("The prompt is empty.", param);
        int context = model.Engine!.Context;
        if (body.Integer("truncate_prompt_tokens", 1, context) is int keep && ids.Length > keep)
            ids = ids[^keep..];
        if (ids.Length > context)
            throw new ApiException(
                422,
                $"The prompt has {ids.Length} tokens; this model's context is {context} tokens. Shorten it, or set truncate_prompt_tokens.",
                param: param,
                code: "context_length_exceeded"
            );
        return ids;
    }

    /// <summary>Submits n sequences per prompt; choice index = prompt × n + j, seeded seed + j when a seed was given.</summary>
    static List<GenerationEngine.Handle> Submit(
        ServedModel model,
        IReadOnlyList<int[]> prompts,
        Sampling s,
        bool logprobs,
        int top,
        CancellationToken ct
    )
    {
        var handles = new List<GenerationEngine.Handle>();
        foreach (var prompt in prompts)
            for (int j = 0; j < s.N; j++)
            {
                var options = s.Options with { Seed = s.Seed is long seed ? seed + j : Random.Shared.NextInt64() };
                handles.Add(
                    model.Engine!.Submit(
                        new EngineRequest
                        {
                            PromptIds = prompt,
                            Options = options,
                            Logprobs = logprobs,
                            TopLogprobs = top,
                        },
                        ct
                    )
                );
            }
        return handles;
    }

    static long Now() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    static string NewId(string prefix) => prefix + Guid.NewGuid().ToString("N")[..24];

    /// <summary>What every completion and chat response and chunk carries around its choices and usage.</summary>
    sealed record Envelope(string Id, string Object, long Created, string Model, bool Chat)
    {
        public JsonObject With(JsonArray choices, JsonNode? usage)
        {
            var o = new JsonObject
            {
                ["id"] = Id,
                ["object"] = Object,
                ["created"] = Created,
                ["model"] = Model,
            };
            if (Chat)
                o["system_fingerprint"] = null;
            o["choices"] = choices;
            o["usage"] = usage;
            return o;
        }

        /// <summary>A streamed chunk of one choice: its text ("text") or delta ("delta"), log-probabilities and finish.</summary>
        public JsonObject Chunk(int index, string field, JsonNode? content, JsonNode? logprobs, string? finish) =>
            With(
                new JsonArray(
                    new JsonObject
                    {
                        ["index"] = index,
                        [field] = content,
                        ["logprobs"] = logprobs,
                        ["finish_reason"] = finish,
                    }
                ),
                usage: null
            );
    }

    static JsonObject Usage(int prompt, int completion) =>
        new()
        {
            ["prompt_tokens"] = prompt,
            ["completion_tokens"] = completion,
            ["total_tokens"] = prompt + completion,
        };

    // ------------------------------------------------------------------ completions

    public async Task Completions(HttpContext ctx)
    {
        var ct = ctx.RequestAborted;
        var body = await RequestBody.ReadAsync(ctx.Request, ct);
        var model = Generator(body);
        var tokenizer = model.Engine!.Tokenizer;
        var prompts = ReadPrompts(body, tokenizer).Select(p => CheckPrompt(model, p.Ids, p.Text, body, "prompt")).ToList();
        var s = ReadSampling(body, model.Engine.Context, prompts.Max(p => p.Length), chat: false);
        int logprobs = body.Integer("logprobs", 0, 5) ?? -1;
        var handles = Submit(model, prompts, s, logprobs >= 0, Math.Max(0, logprobs), ct);
        var envelope = new Envelope(NewId("cmpl-"), "text_completion", Now(), model.Id, Chat: false);
        int promptTokens = prompts.Sum(p => p.Length);
        JsonObject Chunk(int index, string text, JsonNode? lp, string? finish) => envelope.Chunk(index, "text", text, lp, finish);
        if (s.Stream)
        {
            await StreamAsync(
                ctx,
                handles,
                (i, e) =>
                    e switch
                    {
                        TokenGenerated t => Chunk(i, t.Text, logprobs >= 0 && t.Id >= 0 ? CompletionLogprobs([t], tokenizer) : null, null),
                        Finished f => Chunk(i, "", null, f.Reason),
                        _ => null,
                    },
                s.IncludeUsage ? completion => envelope.With([], Usage(promptTokens, completion)) : null
            );
            return;
        }
        var results = await Task.WhenAll(handles.Select(Collect));
        await Json(
            ctx,
            envelope.With(
                new JsonArray(
                    results
                        .Select(
                            (r, i) =>
                                (JsonNode)
                                    new JsonObject
                                    {
                                        ["index"] = i,
                                        ["text"] = r.End.Text,
                                        ["logprobs"] = logprobs >= 0 ? CompletionLogprobs(r.Tokens, tokenizer) : null,
                                        ["finish_reason"] = r.End.Reason,
                                    }
                        )
                        .ToArray()
                ),
                Usage(promptTokens, results.Sum(r => r.End.CompletionTokens))
            )
        );
    }

    /// <summary>prompt: a string, a list of strings, a list of token ids, or a list of those.</summary>
    static List<(int[] Ids, string Text)> ReadPrompts(RequestBody body, Tokenization.Tokenizer tokenizer)
    {
        if (!body.Root.TryGetProperty("prompt", out var p) || p.ValueKind == JsonValueKind.Null)
            throw ApiException.BadRequest("'prompt' is required.", "prompt");
        (int[], string) FromIds(JsonElement a)
        {
            var ids = a.EnumerateArray()
                .Select(x =>
                    x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out int id) && id >= 0 && id < tokenizer.VocabSize
                        ? id
                        : throw ApiException.BadRequest(
                            $"Token ids in 'prompt' must be integers from 0 to {tokenizer.VocabSize - 1}.",
                            "prompt"
                        )
                )
                .ToArray();
            return (ids, tokenizer.Decode(ids));
        }
        (int[], string) FromText(string text)
        {
            try
            {
                return (tokenizer.Encode(text, allowSpecial: true), text);
            }
            catch (SharpLMException e)
            {
                throw ApiException.BadRequest($"The prompt cannot be encoded by this model's tokenizer: {e.Message}", "prompt");
            }
        }
        return p.ValueKind switch
        {
            JsonValueKind.String => [FromText(p.GetString()!)],
            JsonValueKind.Array when p.GetArrayLength() > 0 && p.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String) =>
                p.EnumerateArray().Select(x => FromText(x.GetString()!)).ToList(),
            JsonValueKind.Array when p.GetArrayLength() > 0 && p.EnumerateArray().All(x => x.ValueKind == JsonValueKind.Number) =>
            [
                FromIds(p),
            ],
            JsonValueKind.Array when p.GetArrayLength() > 0 && p.EnumerateArray().All(x => x.ValueKind == JsonValueKind.Array) =>
                p.EnumerateArray().Select(FromIds).ToList(),
            _ => throw ApiException.BadRequest(
                "'prompt' must be a string, a list of strings, a list of token ids, or a list of those.",
                "prompt"
            ),
        };
    }

    static JsonObject CompletionLogprobs(IReadOnlyList<TokenGenerated> tokens, Tokenization.Tokenizer tokenizer)
    {
        var real = tokens.Where(t => t.Id >= 0).ToList();
        int offset = 0;
        var offsets = new JsonArray();
        foreach (var t in real)
        {
            offsets.Add(offset);
            offset += tokenizer.Decode([t.Id]).Length;
        }
        return new JsonObject
        {
            ["tokens"] = new JsonArray(real.Select(t => (JsonNode)tokenizer.Decode([t.Id])).ToArray()),
            ["token_logprobs"] = new JsonArray(real.Select(t => (JsonNode?)t.Logprob).ToArray()),
            ["top_logprobs"] = new JsonArray(
                real.Select(t =>
                        (JsonNode)
                            new JsonObject(
                                (t.Top ?? [])
                                    .GroupBy(x => tokenizer.Decode([x.Id]))
                                    .Select(g => KeyValuePair.Create(g.Key, (JsonNode?)g.First().Logprob))
                            )
                    )
                    .ToArray()
            ),
            ["text_offset"] = offsets,
        };
    }

    // ------------------------------------------------------------------ chat

    public async Task ChatCompletions(HttpContext ctx)
    {
        var ct = ctx.RequestAborted;
        var body = await RequestBody.ReadAsync(ctx.Request, ct);
        var model = Generator(body);
        if (model.Template is null)
            throw ApiException.BadRequest(
                $"The model '{model.Id}' is served without a chat template (--chat-template none); use /v1/completions.",
                "messages",
                "chat_not_supported"
            );
        var turns = ReadMessages(body);
        var tokenizer = model.Engine!.Tokenizer;
        int[] prompt;
        try
        {
            prompt = model.Template.Encode(tokenizer, turns);
        }
        catch (SharpLMException e)
        {
            throw ApiException.BadRequest($"The messages cannot be encoded by this model's tokenizer: {e.Message}", "messages");
        }
        prompt = CheckPrompt(model, prompt, string.Join("\n", turns.Select(t => t.Content)), body, "messages");
        var s = ReadSampling(body, model.Engine.Context, prompt.Length, chat: true);
        s = s with { Options = s.Options with { StopSequences = [.. model.Template.StopSequences, .. s.Options.StopSequences] } };
        bool logprobs = body.Bool("logprobs", false);
        int top = body.Integer("top_logprobs", 0, 20) ?? 0;
        if (top > 0 && !logprobs)
            throw ApiException.BadRequest("'top_logprobs' needs 'logprobs': true.", "top_logprobs");
        var handles = Submit(model, [prompt], s, logprobs, top, ct);
        var envelope = new Envelope(NewId("chatcmpl-"), "chat.completion.chunk", Now(), model.Id, Chat: true);
        JsonObject Chunk(int index, JsonObject delta, JsonNode? lp, string? finish) => envelope.Chunk(index, "delta", delta, lp, finish);
        if (s.Stream)
        {
            var started = new HashSet<int>();
            await StreamAsync(
                ctx,
                handles,
                (i, e) =>
                {
                    var first = started.Add(i) ? new JsonObject { ["role"] = "assistant" } : new JsonObject();
                    return e switch
                    {
                        TokenGenerated t => Chunk(
                            i,
                            AddContent(first, t.Text),
                            logprobs && t.Id >= 0 ? ChatLogprobs([t], tokenizer) : null,
                            null
                        ),
                        Finished f => Chunk(i, first, null, f.Reason),
                        _ => null,
                    };
                },
                s.IncludeUsage ? completion => envelope.With([], Usage(prompt.Length, completion)) : null
            );
            return;
        }
        var results = await Task.WhenAll(handles.Select(Collect));
        await Json(
            ctx,
            (envelope with { Object = "chat.completion" }).With(
                new JsonArray(
                    results
                        .Select(
                            (r, i) =>
                                (JsonNode)
                                    new JsonObject
                                    {
                                        ["index"] = i,
                                        ["message"] = new JsonObject
                                        {
                                            ["role"] = "assistant",
                                            ["content"] = r.End.Text,
                                            ["refusal"] = null,
                                        },
                                        ["logprobs"] = logprobs ? ChatLogprobs(r.Tokens, tokenizer) : null,
                                        ["finish_reason"] = r.End.Reason,
                                    }
                        )
                        .ToArray()
                ),
                Usage(prompt.Length, results.Sum(r => r.End.CompletionTokens))
            )
        );
    }

    static JsonObject AddContent(JsonObject delta, string text)
    {
        delta["content"] = text;
        return delta;
    }

    static List<ChatTurn> ReadMessages(RequestBody body)
    {
        if (!body.Root.TryGetProperty("messages", out var m) || m.ValueKind != JsonValueKind.Array || m.GetArrayLength() == 0)
            throw ApiException.BadRequest("'messages' must be a non-empty array of {role, content} objects.", "messages");
        var turns = new List<ChatTurn>();
        int i = 0;
        foreach (var message in m.EnumerateArray())
        {
            string param = $"messages[{i++}]";
            if (
                message.ValueKind != JsonValueKind.Object
                || !message.TryGetProperty("role", out var role)
                || role.ValueKind != JsonValueKind.String
            )
                throw ApiException.BadRequest($"{param} needs a string 'role'.", param);
            string r = role.GetString()! switch
            {
                "developer" => "system",
                "system" or "user" or "assistant" => role.GetString()!,
                var other => throw ApiException.BadRequest(
                    $"{param}: role '{other}' is not supported (system, developer, user, assistant).",
                    param
                ),
            };
            if (!message.TryGetProperty("content", out var content))
                throw ApiException.BadRequest($"{param} has no 'content'.", param);
            string text = content.ValueKind switch
            {
                JsonValueKind.String => content.GetString()!,
                JsonValueKind.Array => string.Concat(
                    content
                        .EnumerateArray()
                        .Select(part =>
                            part.ValueKind == JsonValueKind.Object
                            && part.TryGetProperty("type", out var t)
                            && t.ValueKind == JsonValueKind.String
                            && t.GetString() == "text"
                            && part.TryGetProperty("text", out var x)
                            && x.ValueKind == JsonValueKind.String
                                ? x.GetString()
                                : throw ApiException.BadRequest($"{param}: only text content parts are supported.", param)
                        )
                ),
                _ => throw ApiException.BadRequest($"{param}: 'content' must be a string or an array of text parts.", param),
            };
            turns.Add(new ChatTurn(r, text));
        }
        return turns;
    }

    static JsonObject ChatLogprobs(IReadOnlyList<TokenGenerated> tokens, Tokenization.Tokenizer tokenizer)
    {
        JsonObject Entry(int id, double logprob) =>
            new()
            {
                ["token"] = tokenizer.Decode([id]),
                ["logprob"] = logprob,
                ["bytes"] = new JsonArray(Encoding.UTF8.GetBytes(tokenizer.Decode([id])).Select(b => (JsonNode)(int)b).ToArray()),
            };
        return new JsonObject
        {
            ["content"] = new JsonArray(
                tokens
                    .Where(t => t.Id >= 0)
                    .Select(t =>
                    {
                        var e = Entry(t.Id, t.Logprob ?? 0);
                        e["top_logprobs"] = new JsonArray((t.Top ?? []).Select(x => (JsonNode)Entry(x.Id, x.Logprob)).ToArray());
                        return (JsonNode)e;
                    })
                    .ToArray()
            ),
            ["refusal"] = null,
        };
    }

    // ------------------------------------------------------------------ streaming

    /// <summary>
    /// Server-sent events as OpenAI sends them: one "data: {chunk}" per token event of every choice (interleaved as they
    /// come), an optional last chunk with the usage, then "data: [DONE]". A client that goes away cancels the sequences.
    /// </summary>
    static async Task StreamAsync(
        HttpContext ctx,
        List<GenerationEngine.Handle> handles,
        Func<int, GenerationEvent, JsonObject?> chunk,
        Func<int, JsonObject>? usage
    )
    {
        var ct = ctx.RequestAborted;
        ctx.Response.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-cache";
        ctx.Response.Headers["X-Accel-Buffering"] = "no";
        var merged = Channel.CreateUnbounded<(int, GenerationEvent)>();
        int open = handles.Count;
        for (int i = 0; i < handles.Count; i++)
        {
            int index = i;
            _ = Task.Run(
                async () =>
                {
                    try
                    {
                        await foreach (var e in handles[index].Events.ReadAllAsync(ct))
                            merged.Writer.TryWrite((index, e));
                    }
                    catch (Exception e)
                    {
                        merged.Writer.TryComplete(e);
                    }
                    if (Interlocked.Decrement(ref open) == 0)
                        merged.Writer.TryComplete();
                },
                ct
            );
        }
        int completion = 0;
        await ctx.Response.StartAsync(ct);
        await foreach (var (index, e) in merged.Reader.ReadAllAsync(ct))
        {
            if (e is Finished f)
                completion += f.CompletionTokens;
            if (chunk(index, e) is JsonObject c)
                await Event(ctx, c.ToJsonString(Compact), ct);
        }
        if (usage is not null)
            await Event(ctx, usage(completion).ToJsonString(Compact), ct);
        await Event(ctx, "[DONE]", ct);
    }

    static async Task Event(HttpContext ctx, string data, CancellationToken ct)
    {
        await ctx.Response.WriteAsync($"data: {data}\n\n", ct);
        await ctx.Response.Body.FlushAsync(ct);
    }

    static async Task<(Finished End, List<TokenGenerated> Tokens)> Collect(GenerationEngine.Handle handle)
    {
        var tokens = new List<TokenGenerated>();
        var end = await handle.CompleteAsync(tokens.Add);
        return (end, tokens);
    }

    static async Task Json(HttpContext ctx, JsonNode body)
    {
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(body.ToJsonString(Compact));
    }

    // ------------------------------------------------------------------ embeddings, classify, tokenize

    public async Task Embeddings(HttpContext ctx)
    {
        var body = await RequestBody.ReadAsync(ctx.Request, ctx.RequestAborted);
        var model = server.Find(body.RequiredString("model"));
        var input =
            body.Strings("input", 2048) ?? throw ApiException.BadRequest("'input' is required: a string or an array of strings.", "input");
        if (input.Count == 0 || input.Any(s => s.Length == 0))
            throw ApiException.BadRequest("'input' must not be empty, nor hold an empty string.", "input");
        string format = body.String("encoding_format") ?? "float";
        if (format is not ("float" or "base64"))
            throw ApiException.BadRequest("'encoding_format' must be float or base64.", "encoding_format");
        var pooling = (body.String("pooling") ?? "mean") switch
        {
            "mean" => Pooling.Mean,
            "cls" => Pooling.Cls,
            "last" => Pooling.Last,
            var p => throw ApiException.BadRequest($"'pooling' must be mean, cls or last (got '{p}').", "pooling"),
        };
        FeatureExtractionPipeline features;
        try
        {
            features = model.Features;
        }
        catch (SharpLMException e)
        {
            throw ApiException.BadRequest(e.Message, "model", "model_not_supported");
        }
        var (vectors, tokens) = features.Embed(input, pooling, ct: ctx.RequestAborted);
        if (body.Integer("dimensions", 1, int.MaxValue) is int d && d != vectors[0].Length)
            throw ApiException.BadRequest(
                $"This model's embeddings have {vectors[0].Length} dimensions; 'dimensions' cannot change that.",
                "dimensions"
            );
        await Json(
            ctx,
            new JsonObject
            {
                ["object"] = "list",
                ["data"] = new JsonArray(
                    vectors
                        .Select(
                            (v, i) =>
                                (JsonNode)
                                    new JsonObject
                                    {
                                        ["object"] = "embedding",
                                        ["index"] = i,
                                        ["embedding"] =
                                            format == "base64"
                                                ? Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan()))
                                                : new JsonArray(v.Select(x => (JsonNode)x).ToArray()),
                                    }
                        )
                        .ToArray()
                ),
                ["model"] = model.Id,
                ["usage"] = new JsonObject { ["prompt_tokens"] = tokens.Sum(), ["total_tokens"] = tokens.Sum() },
            }
        );
    }

    /// <summary>SharpLM's own: {model, input} → each text's label and class probabilities.</summary>
    /// <summary>SharpLM's own: a masked-LM run's top candidates for each [MASK] of the input.</summary>
    public async Task FillMask(HttpContext ctx)
    {
        var body = await RequestBody.ReadAsync(ctx.Request, ctx.RequestAborted);
        var model = server.Find(body.RequiredString("model"));
        if (model.FillMask is null)
            throw ApiException.BadRequest(
                $"The model '{model.Id}' is a {model.Model.Kind.Description}, not a masked language model.",
                "model",
                "model_not_supported"
            );
        string input = body.RequiredString("input");
        int top = body.Integer("top_k", 1, 100) ?? 5;
        if (safety is not null && safety.FirstMatch(input) >= 0)
            throw ApiException.BadRequest("The input was refused by the server's content filter.", "input", "content_filter");
        IReadOnlyList<Pipelines.MaskPrediction> masks;
        try
        {
            masks = model.FillMask.Predict(input, top);
        }
        catch (SharpLMException e)
        {
            throw ApiException.BadRequest(e.Message, "input");
        }
        await Json(
            ctx,
            new JsonObject
            {
                ["id"] = NewId("fillmask-"),
                ["object"] = "fill_mask",
                ["created"] = Now(),
                ["model"] = model.Id,
                ["masks"] = new JsonArray(
                    masks
                        .Select(m =>
                            (JsonNode)
                                new JsonObject
                                {
                                    ["position"] = m.Position,
                                    ["candidates"] = new JsonArray(
                                        m.Candidates.Select(c =>
                                                (JsonNode)
                                                    new JsonObject
                                                    {
                                                        ["token"] = c.Token,
                                                        ["id"] = c.Id,
                                                        ["probability"] = c.Probability,
                                                    }
                                            )
                                            .ToArray()
                                    ),
                                }
                        )
                        .ToArray()
                ),
            }
        );
    }

    public async Task Classify(HttpContext ctx)
    {
        var body = await RequestBody.ReadAsync(ctx.Request, ctx.RequestAborted);
        var model = server.Find(body.RequiredString("model"));
        if (model.Classifier is null)
            throw ApiException.BadRequest(
                $"The model '{model.Id}' is a {model.Model.Kind.Description}, not a classifier.",
                "model",
                "model_not_supported"
            );
        var input =
            body.Strings("input", 2048) ?? throw ApiException.BadRequest("'input' is required: a string or an array of strings.", "input");
        if (input.Count == 0)
            throw ApiException.BadRequest("'input' must not be empty.", "input");
        var predictions = model.Classifier.Classify(input, ct: ctx.RequestAborted);
        int tokens = input.Sum(t => Math.Min(model.Classifier.MaxInputTokens, model.Model.Tokenizer.Encode(t).Length));
        await Json(
            ctx,
            new JsonObject
            {
                ["id"] = NewId("classify-"),
                ["object"] = "classification",
                ["created"] = Now(),
                ["model"] = model.Id,
                ["data"] = new JsonArray(
                    predictions
                        .Select(
                            (p, i) =>
                                (JsonNode)
                                    new JsonObject
                                    {
                                        ["index"] = i,
                                        ["label"] = p.Label,
                                        ["probabilities"] = new JsonObject(
                                            p.Probabilities.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))
                                        ),
                                    }
                        )
                        .ToArray()
                ),
                ["usage"] = new JsonObject { ["prompt_tokens"] = tokens, ["total_tokens"] = tokens },
            }
        );
    }

    /// <summary>vLLM's /tokenize: {model, prompt} or {model, messages} (with the chat template) → token ids.</summary>
    public async Task Tokenize(HttpContext ctx)
    {
        var body = await RequestBody.ReadAsync(ctx.Request, ctx.RequestAborted);
        var model = server.Find(body.RequiredString("model"));
        var tokenizer = model.Model.Tokenizer;
        int[] ids;
        if (body.Has("messages"))
            ids = (model.Template ?? throw ApiException.BadRequest($"The model '{model.Id}' has no chat template.", "messages")).Encode(
                tokenizer,
                ReadMessages(body)
            );
        else
            ids = tokenizer.Encode(body.RequiredString("prompt"), allowSpecial: true);
        await Json(
            ctx,
            new JsonObject
            {
                ["count"] = ids.Length,
                ["max_model_len"] = model.Context,
                ["tokens"] = new JsonArray(ids.Select(i => (JsonNode)i).ToArray()),
            }
        );
    }

    /// <summary>vLLM's /detokenize: {model, tokens} → {prompt}.</summary>
    public async Task Detokenize(HttpContext ctx)
    {
        var body = await RequestBody.ReadAsync(ctx.Request, ctx.RequestAborted);
        var model = server.Find(body.RequiredString("model"));
        if (!body.Root.TryGetProperty("tokens", out var t) || t.ValueKind != JsonValueKind.Array)
            throw ApiException.BadRequest("'tokens' must be an array of token ids.", "tokens");
        int vocab = model.Model.Tokenizer.VocabSize;
        var ids = t.EnumerateArray()
            .Select(x =>
                x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out int i) && i >= 0 && i < vocab
                    ? i
                    : throw ApiException.BadRequest($"'tokens' must hold token ids from 0 to {vocab - 1}.", "tokens")
            )
            .ToList();
        await Json(ctx, new JsonObject { ["prompt"] = model.Model.Tokenizer.Decode(ids) });
    }
}
