using System.ClientModel;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Chat;
using SharpLM.Server;

namespace SharpLM.Tests;

/// <summary>One server with a GPT, a classifier and a masked-LM encoder, shared by the tests of <see cref="ServerTests"/>.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public SharpLMServer Server { get; private set; } = null!;
    public HttpClient Http { get; } = new();
    public OpenAIClient OpenAI { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var models = new[]
        {
            new ServedModelSpec(await ServingModels.TrainedGpt(), "gpt"),
            new ServedModelSpec(await ServingModels.TrainedClassifier(), "reviews"),
            new ServedModelSpec(await ServingModels.TrainedMlm(), "mlm"),
        };
        Server = await ServerTests.Start(
            new ServerOptions
            {
                Models = models,
                Port = 0,
                MaxBatch = 8,
            }
        );
        Http.BaseAddress = Server.Address;
        OpenAI = new OpenAIClient(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(Server.Address, "/v1") });
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
    }
}

/// <summary>
/// The server, driven by real clients over loopback HTTP: the official OpenAI .NET SDK, Microsoft.Extensions.AI's
/// OpenAI adapter, and raw HTTP where an SDK cannot ask (legacy completions, n, SharpLM's extensions, errors).
/// </summary>
[Collection(TorchCollection.Name)]
public class ServerTests(ServerFixture f) : IClassFixture<ServerFixture>
{
    public static async Task<SharpLMServer> Start(ServerOptions options)
    {
        var server = SharpLMServer.Create(options);
        await server.StartAsync();
        await server.WaitUntilReadyAsync();
        return server;
    }

    static async Task<(HttpStatusCode Status, JsonNode Body)> Post(HttpClient http, string path, object body)
    {
        using var response = await http.PostAsync(
            path,
            new StringContent(body is string s ? s : JsonSerializer.Serialize(body), Encoding.UTF8, "application/json")
        );
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    static void AssertError(HttpStatusCode expected, (HttpStatusCode Status, JsonNode Body) r, string? code = null, string? param = null)
    {
        Assert.Equal(expected, r.Status);
        var error = r.Body["error"]!;
        Assert.False(string.IsNullOrWhiteSpace((string?)error["message"]));
        Assert.Single(((string)error["message"]!).Split('\n'));
        Assert.NotNull((string?)error["type"]);
        if (code is not null)
            Assert.Equal(code, (string?)error["code"]);
        if (param is not null)
            Assert.Equal(param, (string?)error["param"]);
    }

    const string Answer = " Some years ago, never mind how long precisely.";

    [Fact]
    public async Task ChatThroughTheOfficialOpenAiSdk()
    {
        var chat = f.OpenAI.GetChatClient("gpt");
        ChatCompletion c = await chat.CompleteChatAsync(
            [new UserChatMessage("Call me Ishmael.")],
            new ChatCompletionOptions { Temperature = 0 }
        );
        Assert.Equal(Answer, c.Content[0].Text); // the plain template's "\nUser:" stop ends the turn
        Assert.Equal(OpenAI.Chat.ChatFinishReason.Stop, c.FinishReason);
        Assert.Equal("gpt", c.Model);
        Assert.Equal(f.Server.Models["gpt"].Model.Tokenizer.Encode("User: Call me Ishmael.\nAssistant:").Length, c.Usage.InputTokenCount);
        Assert.Equal(c.Usage.InputTokenCount + c.Usage.OutputTokenCount, c.Usage.TotalTokenCount);

        var limited = await chat.CompleteChatAsync(
            [new UserChatMessage("Call me Ishmael.")],
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 5 }
        );
        Assert.Equal(Answer[..5], limited.Value.Content[0].Text);
        Assert.Equal(OpenAI.Chat.ChatFinishReason.Length, limited.Value.FinishReason);

        var stopped = await chat.CompleteChatAsync(
            [new UserChatMessage("Call me Ishmael.")],
            new ChatCompletionOptions { Temperature = 0, StopSequences = { "never" } }
        );
        Assert.Equal(" Some years ago, ", stopped.Value.Content[0].Text);
        Assert.Equal(OpenAI.Chat.ChatFinishReason.Stop, stopped.Value.FinishReason);
    }

    [Fact]
    public async Task StreamingThroughTheSdkDeliversTokensThenUsage()
    {
        var chat = f.OpenAI.GetChatClient("gpt");
        var text = new StringBuilder();
        int updates = 0;
        ChatTokenUsage? usage = null;
        OpenAI.Chat.ChatFinishReason? finish = null;
        await foreach (
            var u in chat.CompleteChatStreamingAsync(
                [new UserChatMessage("Call me Ishmael.")],
                new ChatCompletionOptions { Temperature = 0 }
            )
        )
        {
            updates++;
            foreach (var part in u.ContentUpdate)
                text.Append(part.Text);
            usage ??= u.Usage;
            finish ??= u.FinishReason;
        }
        Assert.Equal(Answer, text.ToString());
        Assert.True(updates > 10, $"{updates} updates: tokens should arrive one by one");
        Assert.Equal(OpenAI.Chat.ChatFinishReason.Stop, finish);
        Assert.NotNull(usage); // the SDK asks for include_usage; the last chunk carries it
        Assert.Equal(Answer.Length + "\nUser:".Length, usage!.OutputTokenCount); // one token per character, the stop sequence's included
    }

    [Fact]
    public async Task RawStreamingIsServerSentEventsAsOpenAiSendsThem()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = JsonContent.Create(
                new
                {
                    model = "gpt",
                    prompt = "User: Call",
                    max_tokens = 6,
                    temperature = 0,
                    stream = true,
                    stream_options = new { include_usage = true },
                }
            ),
        };
        using var response = await f.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var events = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.All(events, e => Assert.StartsWith("data: ", e));
        Assert.Equal("data: [DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonNode.Parse(e["data: ".Length..])!).ToList();
        var usage = chunks[^1];
        Assert.Empty(usage["choices"]!.AsArray());
        Assert.Equal(6, (int)usage["usage"]!["completion_tokens"]!);
        Assert.All(chunks[..^1], c => Assert.Null(c["usage"]));
        Assert.Equal(" me Is", string.Concat(chunks[..^1].Select(c => (string)c["choices"]![0]!["text"]!)));
        Assert.Equal("length", (string?)chunks[^2]["choices"]![0]!["finish_reason"]);
    }

    [Fact]
    public async Task MicrosoftExtensionsAiClientsWorkOverHttpAndInProcess()
    {
        IChatClient http = f.OpenAI.GetChatClient("gpt").AsIChatClient();
        var response = await http.GetResponseAsync("Call me Ishmael.", new ChatOptions { Temperature = 0 });
        Assert.Equal(Answer, response.Text);

        // The same engine in process, without HTTP.
        var served = f.Server.Models["gpt"];
        IChatClient local = new Serving.SharpLMChatClient(served.Engine!, served.Template!, "gpt");
        var direct = await local.GetResponseAsync("Call me Ishmael.", new ChatOptions { Temperature = 0 });
        Assert.Equal(Answer, direct.Text);
        Assert.Equal(Microsoft.Extensions.AI.ChatFinishReason.Stop, direct.FinishReason);
        var streamed = new StringBuilder();
        await foreach (var u in local.GetStreamingResponseAsync("Call me Ishmael.", new ChatOptions { Temperature = 0 }))
            streamed.Append(u.Text);
        Assert.Equal(Answer, streamed.ToString());

        IEmbeddingGenerator<string, Embedding<float>> embeddings = f.OpenAI.GetEmbeddingClient("mlm").AsIEmbeddingGenerator();
        var vectors = await embeddings.GenerateAsync(["the food was superb", "the room was awful"]);
        Assert.Equal(2, vectors.Count);
        Assert.Equal(32, vectors[0].Vector.Length);
    }

    [Fact]
    public async Task CompletionsWithTwoChoicesAndLogprobs()
    {
        var (status, body) = await Post(
            f.Http,
            "/v1/completions",
            new
            {
                model = "gpt",
                prompt = new[] { "User: Call", "Assistant: Some" },
                n = 2,
                max_tokens = 8,
                temperature = 1.5,
                seed = 7,
                logprobs = 2,
                user = "alice", // accepted, as OpenAI's end-user id (SharpLM does not use it)
            }
        );
        Assert.Equal(HttpStatusCode.OK, status);
        var choices = body["choices"]!.AsArray();
        Assert.Equal(4, choices.Count); // 2 prompts × n = 2
        Assert.Equal([0, 1, 2, 3], choices.Select(c => (int)c!["index"]!));
        var lp = choices[0]!["logprobs"]!;
        Assert.Equal(8, lp["tokens"]!.AsArray().Count);
        Assert.All(lp["token_logprobs"]!.AsArray(), x => Assert.True((double)x! <= 0));
        Assert.All(lp["top_logprobs"]!.AsArray(), x => Assert.InRange(x!.AsObject().Count, 1, 2));
        Assert.Equal(32, (int)body["usage"]!["completion_tokens"]!);
        Assert.Equal("text_completion", (string?)body["object"]);
    }

    [Fact]
    public async Task ASeededRequestReturnsTheSameTokensAloneAndBatched()
    {
        object Request(long seed) =>
            new
            {
                model = "gpt",
                prompt = "User:",
                max_tokens = 40,
                temperature = 2.0,
                seed,
            };
        string alone = (string)(await Post(f.Http, "/v1/completions", Request(11))).Body["choices"]![0]!["text"]!;
        var crowd = Enumerable.Range(0, 6).Select(i => Post(f.Http, "/v1/completions", Request(i == 3 ? 11 : 100 + i))).ToList();
        var results = await Task.WhenAll(crowd);
        Assert.Equal(alone, (string)results[3].Body["choices"]![0]!["text"]!);
        Assert.NotEqual(alone, (string)results[0].Body["choices"]![0]!["text"]!);
    }

    [Fact]
    public async Task EmbeddingsClassifyTokenizeAndModels()
    {
        var embeddings = await f
            .OpenAI.GetEmbeddingClient("mlm")
            .GenerateEmbeddingsAsync(["the food was superb", "the food was great", "the room was awful"]);
        var v = embeddings.Value.Select(e => e.ToFloats().ToArray()).ToArray();
        Assert.Equal(32, v[0].Length);
        var gpt = await Post(
            f.Http,
            "/v1/embeddings",
            new
            {
                model = "gpt",
                input = "User: Call me",
                pooling = "last",
            }
        );
        Assert.Equal(HttpStatusCode.OK, gpt.Status);
        Assert.Equal(32, gpt.Body["data"]![0]!["embedding"]!.AsArray().Count);
        AssertError(
            HttpStatusCode.BadRequest,
            await Post(
                f.Http,
                "/v1/embeddings",
                new
                {
                    model = "gpt",
                    input = "x",
                    pooling = "cls",
                }
            )
        );

        var (status, body) = await Post(
            f.Http,
            "/v1/classify",
            new { model = "reviews", input = new[] { "the food was superb", "the room was awful" } }
        );
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["pos", "neg"], body["data"]!.AsArray().Select(d => (string)d!["label"]!));
        Assert.Equal(1.0, body["data"]![0]!["probabilities"]!.AsObject().Sum(p => (double)p.Value!), 5);
        AssertError(
            HttpStatusCode.BadRequest,
            await Post(f.Http, "/v1/classify", new { model = "gpt", input = "x" }),
            "model_not_supported",
            "model"
        );

        var tokens = await Post(f.Http, "/tokenize", new { model = "gpt", prompt = "Call" });
        var ids = tokens.Body["tokens"]!.AsArray().Select(t => (int)t!).ToArray();
        Assert.Equal(4, ids.Length);
        Assert.Equal("Call", (string?)(await Post(f.Http, "/detokenize", new { model = "gpt", tokens = ids })).Body["prompt"]);

        var models = await f.OpenAI.GetOpenAIModelClient().GetModelsAsync();
        Assert.Equal(["gpt", "reviews", "mlm"], models.Value.Select(m => m.Id));
        var list = JsonNode.Parse(await f.Http.GetStringAsync("/v1/models"))!;
        var card = list["data"]![1]!["sharplm"]!;
        Assert.Equal("bert-classifier", (string?)card["kind"]);
        Assert.Equal(1.0, (double)card["test_accuracy"]!);
    }

    [Fact]
    public async Task HealthAndMetrics()
    {
        Assert.Equal("ok", (string?)JsonNode.Parse(await f.Http.GetStringAsync("/health"))!["status"]);
        await Post(
            f.Http,
            "/v1/completions",
            new
            {
                model = "gpt",
                prompt = "User:",
                max_tokens = 3,
            }
        );
        string metrics = await f.Http.GetStringAsync("/metrics");
        foreach (
            var name in new[]
            {
                "sharplm:time_to_first_token_seconds_bucket",
                "sharplm:inter_token_latency_seconds_count",
                "sharplm:e2e_request_latency_seconds_sum",
                "sharplm:num_requests_running{model_name=\"gpt\"} 0",
                "sharplm:num_requests_waiting{model_name=\"gpt\"} 0",
                "sharplm:prompt_tokens_total{model_name=\"gpt\"}",
                "sharplm:generation_tokens_total{model_name=\"gpt\"}",
                "sharplm:request_success_total{model_name=\"gpt\",finished_reason=\"length\"}",
            }
        )
            Assert.Contains(name, metrics);
    }

    [Fact]
    public async Task ErrorsHaveOpenAisShapeAndStatus()
    {
        AssertError(HttpStatusCode.BadRequest, await Post(f.Http, "/v1/completions", "{not json"));
        AssertError(
            HttpStatusCode.BadRequest,
            await Post(
                f.Http,
                "/v1/completions",
                new
                {
                    model = "gpt",
                    prompt = "Call",
                    temperature = 3,
                }
            ),
            param: "temperature"
        );
        AssertError(
            HttpStatusCode.BadRequest,
            await Post(
                f.Http,
                "/v1/completions",
                new
                {
                    model = "gpt",
                    prompt = "Call",
                    max_tokens = 0,
                }
            ),
            param: "max_tokens"
        );
        AssertError(
            HttpStatusCode.BadRequest,
            await Post(
                f.Http,
                "/v1/completions",
                new
                {
                    model = "gpt",
                    prompt = "Call",
                    presence_penalty = 0.5,
                }
            ),
            "unsupported_parameter",
            "presence_penalty"
        );
        AssertError(
            HttpStatusCode.BadRequest,
            await Post(
                f.Http,
                "/v1/completions",
                new
                {
                    model = "gpt",
                    prompt = "Call",
                    user = 5,
                }
            ),
            param: "user"
        );
        AssertError(
            HttpStatusCode.BadRequest,
            await Post(f.Http, "/v1/chat/completions", new { model = "gpt", messages = Array.Empty<object>() }),
            param: "messages"
        );
        AssertError(HttpStatusCode.BadRequest, await Post(f.Http, "/v1/completions", new { model = "gpt" }), param: "prompt");
        AssertError(
            HttpStatusCode.NotFound,
            await Post(f.Http, "/v1/completions", new { model = "gpt-9", prompt = "Call" }),
            "model_not_found",
            "model"
        );
        AssertError(
            HttpStatusCode.UnprocessableEntity,
            await Post(f.Http, "/v1/completions", new { model = "gpt", prompt = new string('a', 200) }),
            "context_length_exceeded"
        );
        var truncated = await Post(
            f.Http,
            "/v1/completions",
            new
            {
                model = "gpt",
                prompt = new string('a', 200),
                truncate_prompt_tokens = 100,
                max_tokens = 2,
            }
        );
        Assert.Equal(HttpStatusCode.OK, truncated.Status);
        Assert.Equal(100, (int)truncated.Body["usage"]!["prompt_tokens"]!);
        AssertError(HttpStatusCode.NotFound, await Post(f.Http, "/v2/nothing", new { }));
        // The SDK turns them into exceptions with the status.
        var e = await Assert.ThrowsAsync<ClientResultException>(() => f.OpenAI.GetChatClient("nope").CompleteChatAsync("hi"));
        Assert.Equal(404, e.Status);
    }

    [Fact]
    public async Task AnApiKeyALoadingStateABodyLimitAndAFullQueue()
    {
        string gpt = ServingModels.LongContextGpt();
        var gate = new TaskCompletionSource();
        var options = new ServerOptions
        {
            Models = [new ServedModelSpec(gpt, "long")],
            Port = 0,
            ApiKey = "s3cret",
            MaxBatch = 1,
            MaxQueue = 0,
            MaxBodyBytes = 2000,
        };
        var server = SharpLMServer.Create(options);
        server.LoadGate = gate.Task;
        await server.StartAsync();
        await using var _ = server;
        using var http = new HttpClient { BaseAddress = server.Address };
        var health = await http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        http.DefaultRequestHeaders.Authorization = new("Bearer", "s3cret");
        AssertError(
            HttpStatusCode.ServiceUnavailable,
            await Post(http, "/v1/completions", new { model = "long", prompt = "x" }),
            "loading"
        );
        gate.SetResult();
        await server.WaitUntilReadyAsync();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health")).StatusCode);

        using (var anonymous = new HttpClient { BaseAddress = server.Address })
        {
            AssertError(
                HttpStatusCode.Unauthorized,
                await Post(anonymous, "/v1/completions", new { model = "long", prompt = "x" }),
                "missing_api_key"
            );
            anonymous.DefaultRequestHeaders.Authorization = new("Bearer", "wrong");
            AssertError(
                HttpStatusCode.Unauthorized,
                await Post(anonymous, "/v1/completions", new { model = "long", prompt = "x" }),
                "invalid_api_key"
            );
            Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health")).StatusCode); // health needs no key
        }
        var sdk = new OpenAIClient(new ApiKeyCredential("s3cret"), new OpenAIClientOptions { Endpoint = new Uri(server.Address, "/v1") });
        Assert.Single((await sdk.GetOpenAIModelClient().GetModelsAsync()).Value);

        AssertError(
            HttpStatusCode.RequestEntityTooLarge,
            await Post(http, "/v1/completions", new { model = "long", prompt = new string('a', 5000) }),
            "request_too_large"
        );

        // One slot, no queue: a second request while the first runs gets 429 with Retry-After.
        var first = Post(
            http,
            "/v1/completions",
            new
            {
                model = "long",
                prompt = "x",
                max_tokens = 2000,
            }
        );
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (server.Models["long"].Engine!.Running == 0 && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        using var busy = await http.PostAsync(
            "/v1/completions",
            JsonContent.Create(
                new
                {
                    model = "long",
                    prompt = "y",
                    max_tokens = 2,
                }
            )
        );
        Assert.Equal(HttpStatusCode.TooManyRequests, busy.StatusCode);
        Assert.Equal("1", busy.Headers.RetryAfter!.ToString());
        Assert.Equal(HttpStatusCode.OK, (await first).Status);
    }

    [Fact]
    public async Task ABf16ServerDecodesItsGptInBf16AndKeepsTheClassifierInFp32()
    {
        await using var server = await Start(
            new ServerOptions
            {
                Models =
                [
                    new ServedModelSpec(await ServingModels.TrainedGpt(), "gpt"),
                    new ServedModelSpec(await ServingModels.TrainedClassifier(), "reviews"),
                ],
                Port = 0,
                Precision = Models.Layers.Precision.Bf16,
            }
        );
        using var http = new HttpClient { BaseAddress = server.Address };
        var models = JsonNode.Parse(await http.GetStringAsync("/v1/models"))!["data"]!.AsArray();
        Assert.Equal("bf16", models.Single(m => (string)m!["id"]! == "gpt")!["sharplm"]!["precision"]!.GetValue<string>());
        Assert.Equal("fp32", models.Single(m => (string)m!["id"]! == "reviews")!["sharplm"]!["precision"]!.GetValue<string>());
        var (status, body) = await Post(
            http,
            "/v1/completions",
            new
            {
                model = "gpt",
                prompt = "User: Call me",
                max_tokens = 9,
                temperature = 0,
            }
        );
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.StartsWith(" Ishmael.", (string)body["choices"]![0]!["text"]!); // the learned line survives bf16 products
    }

    [Fact]
    public async Task AClientThatGoesAwayMidStreamFreesItsSlot()
    {
        string gpt = ServingModels.LongContextGpt();
        await using var server = await Start(
            new ServerOptions
            {
                Models = [new ServedModelSpec(gpt, "long")],
                Port = 0,
                MaxBatch = 2,
            }
        );
        // No draining on dispose: the client really hangs up instead of reading the rest of the stream.
        using var http = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = server.Address };
        using (var cts = new CancellationTokenSource())
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
            {
                Content = JsonContent.Create(
                    new
                    {
                        model = "long",
                        prompt = "x",
                        max_tokens = 2000,
                        stream = true,
                    }
                ),
            };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
            for (int events = 0; events < 5; )
                if ((await reader.ReadLineAsync(cts.Token))!.StartsWith("data: "))
                    events++;
            Assert.Equal(1, server.Models["long"].Engine!.Running);
            cts.Cancel(); // the client hangs up
        }
        var clock = Stopwatch.StartNew();
        string metrics = "";
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            metrics = await http.GetStringAsync("/metrics");
            if (metrics.Contains("finished_reason=\"cancelled\"} 1"))
                break;
            await Task.Delay(20);
        }
        Assert.Contains("sharplm:num_requests_running{model_name=\"long\"} 0", metrics);
        Assert.True(metrics.Contains("sharplm:request_success_total{model_name=\"long\",finished_reason=\"cancelled\"} 1"), metrics);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"the slot was freed after {clock.Elapsed}");
    }

    [Fact]
    public async Task TheSafetyFilterRefusesPromptsAndCutsOutputWithoutStreamingIt()
    {
        string list = Path.Combine(TestData.TempDir(), "blocked.txt");
        File.WriteAllLines(list, ["# blocked words", "precisely", "re:ishm\\w+"]);
        await using var server = await Start(
            new ServerOptions
            {
                Models = [new ServedModelSpec(await ServingModels.TrainedGpt(), "gpt")],
                Port = 0,
                SafetyFile = list,
            }
        );
        using var http = new HttpClient { BaseAddress = server.Address };
        AssertError(
            HttpStatusCode.BadRequest,
            await Post(http, "/v1/completions", new { model = "gpt", prompt = "Call me Ishmael" }),
            "content_filter",
            "prompt"
        );
        var chat = await Post(
            http,
            "/v1/chat/completions",
            new
            {
                model = "gpt",
                messages = new[] { new { role = "user", content = "Call me" } },
                temperature = 0,
            }
        );
        Assert.Equal(HttpStatusCode.OK, chat.Status);
        Assert.Equal(" Some years ago, never mind how long ", (string?)chat.Body["choices"]![0]!["message"]!["content"]);
        Assert.Equal("content_filter", (string?)chat.Body["choices"]![0]!["finish_reason"]);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = JsonContent.Create(
                new
                {
                    model = "gpt",
                    messages = new[] { new { role = "user", content = "Call me" } },
                    temperature = 0,
                    stream = true,
                }
            ),
        };
        using var response = await http.SendAsync(request);
        string stream = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("prec", stream);
        Assert.Contains("\"finish_reason\":\"content_filter\"", stream);
    }

    [Fact]
    public async Task ChatCanBeTurnedOff()
    {
        await using var server = await Start(
            new ServerOptions
            {
                Models = [new ServedModelSpec(await ServingModels.TrainedGpt(), "gpt")],
                Port = 0,
                ChatTemplate = "none",
            }
        );
        using var http = new HttpClient { BaseAddress = server.Address };
        AssertError(
            HttpStatusCode.BadRequest,
            await Post(http, "/v1/chat/completions", new { model = "gpt", messages = new[] { new { role = "user", content = "hi" } } }),
            "chat_not_supported"
        );
        Assert.Equal(HttpStatusCode.OK, (await Post(http, "/v1/completions", new { model = "gpt", prompt = "User:" })).Status);
    }

    [Fact]
    public async Task MemoryStaysFlatOverTwoThousandRequests()
    {
        async Task Burst(int count)
        {
            for (int i = 0; i < count; i += 8)
                await Task.WhenAll(
                    Enumerable
                        .Range(0, 8)
                        .Select(j =>
                            Post(
                                f.Http,
                                "/v1/completions",
                                new
                                {
                                    model = "gpt",
                                    prompt = "User:",
                                    max_tokens = 4,
                                    seed = i + j,
                                }
                            )
                        )
                );
        }
        await Burst(200); // warm-up: JIT, pools, allocator
        GC.Collect();
        long before = Process.GetCurrentProcess().WorkingSet64;
        await Burst(2000);
        GC.Collect();
        long after = Process.GetCurrentProcess().WorkingSet64;
        Assert.True(after - before < 64L << 20, $"working set grew by {(after - before) >> 20} MB over 2,000 requests");
    }

    [Fact]
    public async Task MalformedRequestsGetAnErrorNeverAServerFault()
    {
        // Valid requests of every endpoint, each field then replaced by values of every JSON type and edge (seeded).
        var valid = new (string Path, JsonObject Body)[]
        {
            (
                "/v1/completions",
                JsonNode
                    .Parse(
                        """
                        {"model":"gpt","prompt":"User:","max_tokens":3,"temperature":0.5,"top_p":0.9,"n":2,"stop":["\n"],"seed":1,
                         "logprobs":2,"stream":false}
                        """
                    )!
                    .AsObject()
            ),
            (
                "/v1/chat/completions",
                JsonNode
                    .Parse(
                        """
                        {"model":"gpt","messages":[{"role":"system","content":"hi"},{"role":"user","content":"Call me"}],
                         "max_completion_tokens":3,"top_k":5,"logprobs":true,"top_logprobs":2,"stream":true,
                         "stream_options":{"include_usage":true}}
                        """
                    )!
                    .AsObject()
            ),
            (
                "/v1/embeddings",
                JsonNode
                    .Parse("""{"model":"mlm","input":["the food","was superb"],"encoding_format":"float","pooling":"cls"}""")!
                    .AsObject()
            ),
            ("/v1/classify", JsonNode.Parse("""{"model":"reviews","input":["the food was superb"]}""")!.AsObject()),
            ("/tokenize", JsonNode.Parse("""{"model":"gpt","prompt":"Call me"}""")!.AsObject()),
            ("/detokenize", JsonNode.Parse("""{"model":"gpt","tokens":[1,2,3]}""")!.AsObject()),
        };
        JsonNode?[] values =
        [
            null,
            true,
            false,
            0,
            -1,
            1,
            2,
            17,
            int.MaxValue,
            long.MinValue,
            1e308,
            -0.0,
            0.5,
            3.7,
            "",
            "x",
            "gpt",
            new string('a', 5000),
            "\ud800",
            new JsonArray(),
            new JsonArray(1, 2),
            new JsonArray("a", 1),
            new JsonArray(new JsonArray(-5)),
            new JsonObject(),
            new JsonObject { ["include_usage"] = "yes" },
            new JsonArray(new JsonObject { ["role"] = 1 }),
            new JsonArray(new JsonObject { ["role"] = "user" }),
            new JsonArray(new JsonObject { ["role"] = "tool", ["content"] = "x" }),
        ];
        var rng = new Random(11);
        using var http = new HttpClient { BaseAddress = f.Http.BaseAddress };
        var seen = new SortedSet<int>();
        for (int i = 0; i < 400; i++)
        {
            var (path, template) = valid[rng.Next(valid.Length)];
            var body = template.DeepClone().AsObject();
            foreach (var _ in Enumerable.Range(0, 1 + rng.Next(2)))
            {
                string field = rng.Next(5) == 0 ? "unknown_field" : body.ElementAt(rng.Next(body.Count)).Key;
                body[field] = values[rng.Next(values.Length)]?.DeepClone();
            }
            if (rng.Next(10) == 0)
                body.Remove(body.ElementAt(rng.Next(body.Count)).Key);
            using var response = await http.PostAsync(path, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
            string text = await response.Content.ReadAsStringAsync();
            int status = (int)response.StatusCode;
            seen.Add(status);
            Assert.True(
                status is 200 or 400 or 404 or 422,
                $"{path} {body.ToJsonString()[..Math.Min(300, body.ToJsonString().Length)]} → {status} {text}"
            );
            if (status != 200)
            {
                var error = JsonNode.Parse(text)!["error"]!;
                Assert.Single(((string)error["message"]!).Split('\n'));
            }
        }
        Assert.Contains(200, seen);
        Assert.Contains(400, seen);
    }
}
