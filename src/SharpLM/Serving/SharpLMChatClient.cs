using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using SharpLM.Generation;
using AI = Microsoft.Extensions.AI;

namespace SharpLM.Serving;

/// <summary>
/// A SharpLM GPT run as a Microsoft.Extensions.AI <see cref="IChatClient"/>, in process: the same engine and chat
/// template as the server, without HTTP. Options map as OpenAI's do (temperature, top-p, top-k, max output tokens,
/// stop sequences, seed); unset temperature is 1.
/// </summary>
public sealed class SharpLMChatClient(GenerationEngine engine, ChatTemplate template, string modelId) : IChatClient
{
    IDisposable[] _owned = [];

    public GenerationEngine Engine => engine;

    /// <summary>
    /// Loads a GPT run with its own engine (disposed with the client). <paramref name="chatTemplate"/> is as the server's
    /// --chat-template: auto, chatml, plain or a template file.
    /// </summary>
    public static SharpLMChatClient Load(string runFolder, string chatTemplate = "auto", EngineOptions? options = null)
    {
        var model = Kinds.ModelRegistry.Load(runFolder);
        try
        {
            var template =
                ChatTemplate.Resolve(chatTemplate, model.Tokenizer)
                ?? throw new SharpLMException("chat_template 'none' turns chat off; give auto, chatml, plain or a template file.");
            var engine = new GenerationEngine(model, options);
            string id = Path.GetFileName(Path.GetFullPath(runFolder).TrimEnd(Path.DirectorySeparatorChar));
            return new SharpLMChatClient(engine, template, id) { _owned = [engine, model] };
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    EngineRequest Request(IEnumerable<AI.ChatMessage> messages, ChatOptions? options)
    {
        var turns = messages.Select(m => new ChatTurn(m.Role.Value, m.Text)).ToList();
        var prompt = template.Encode(engine.Tokenizer, turns);
        var generation = new GenerationOptions
        {
            MaxNewTokens = options?.MaxOutputTokens ?? Math.Max(1, engine.Context - prompt.Length),
            Temperature = options?.Temperature ?? 1.0,
            TopP = options?.TopP ?? 1.0,
            TopK = options?.TopK ?? 0,
            StopSequences = [.. template.StopSequences, .. options?.StopSequences ?? []],
            Seed = options?.Seed ?? Random.Shared.NextInt64(),
        };
        return new EngineRequest { PromptIds = prompt, Options = generation };
    }

    static ChatFinishReason Reason(string reason) =>
        reason switch
        {
            "length" => ChatFinishReason.Length,
            "content_filter" => ChatFinishReason.ContentFilter,
            _ => ChatFinishReason.Stop,
        };

    public async Task<ChatResponse> GetResponseAsync(
        IEnumerable<AI.ChatMessage> messages,
        ChatOptions? options = null,
        CancellationToken ct = default
    )
    {
        var end = await engine.Submit(Request(messages, options), ct).CompleteAsync(ct: ct);
        return new ChatResponse(new AI.ChatMessage(ChatRole.Assistant, end.Text))
        {
            FinishReason = Reason(end.Reason),
            ModelId = modelId,
            CreatedAt = DateTimeOffset.UtcNow,
            Usage = new UsageDetails
            {
                InputTokenCount = end.PromptTokens,
                OutputTokenCount = end.CompletionTokens,
                TotalTokenCount = end.PromptTokens + end.CompletionTokens,
            },
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<AI.ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken ct = default
    )
    {
        var handle = engine.Submit(Request(messages, options), ct);
        await foreach (var e in handle.Events.ReadAllAsync(ct))
        {
            if (e is TokenGenerated { Text.Length: > 0 } t)
                yield return new ChatResponseUpdate(ChatRole.Assistant, t.Text) { ModelId = modelId };
            else if (e is Finished f)
                yield return new ChatResponseUpdate(
                    ChatRole.Assistant,
                    [
                        new UsageContent(
                            new UsageDetails
                            {
                                InputTokenCount = f.PromptTokens,
                                OutputTokenCount = f.CompletionTokens,
                                TotalTokenCount = f.PromptTokens + f.CompletionTokens,
                            }
                        ),
                    ]
                )
                {
                    ModelId = modelId,
                    FinishReason = Reason(f.Reason),
                };
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this
        : serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("sharplm", null, modelId)
        : null;

    public void Dispose()
    {
        foreach (var d in _owned)
            d.Dispose();
        _owned = [];
    }
}

/// <summary>A SharpLM run's pooled hidden states as a Microsoft.Extensions.AI embedding generator, in process.</summary>
public sealed class SharpLMEmbeddingGenerator(
    Pipelines.FeatureExtractionPipeline pipeline,
    string modelId,
    Pipelines.Pooling pooling = Pipelines.Pooling.Mean
) : IEmbeddingGenerator<string, Embedding<float>>
{
    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values,
        EmbeddingGenerationOptions? options = null,
        CancellationToken ct = default
    )
    {
        var (vectors, tokens) = pipeline.Embed(values.ToList(), pooling, ct: ct);
        var result = new GeneratedEmbeddings<Embedding<float>>(
            vectors.Select(v => new Embedding<float>(v) { ModelId = modelId, CreatedAt = DateTimeOffset.UtcNow })
        )
        {
            Usage = new UsageDetails { InputTokenCount = tokens.Sum(), TotalTokenCount = tokens.Sum() },
        };
        return Task.FromResult(result);
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this
        : serviceType == typeof(EmbeddingGeneratorMetadata) ? new EmbeddingGeneratorMetadata("sharplm", null, modelId)
        : null;

    public void Dispose() { }
}
