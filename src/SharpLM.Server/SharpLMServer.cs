using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SharpLM.Generation;

namespace SharpLM.Server;

/// <summary>
/// An OpenAI-compatible HTTP server for SharpLM runs, on ASP.NET Core: completions and chat (continuous batching,
/// streaming), embeddings, SharpLM's classify, tokenize/detokenize, models, health and Prometheus metrics, with an
/// optional API key, request limits and a safety filter. Models load in the background: /health says 503 until then.
/// </summary>
public sealed class SharpLMServer : IAsyncDisposable
{
    readonly ServerOptions _o;
    readonly WebApplication _app;
    readonly Dictionary<string, ServedModel> _models = new(StringComparer.Ordinal);
    readonly SafetyFilter? _safety;
    readonly byte[]? _key;
    Task? _loading;
    volatile bool _ready;
    volatile string? _loadError;

    public ServerMetrics Metrics { get; }
    public bool Ready => _ready;
    public IReadOnlyDictionary<string, ServedModel> Models => _models;

    /// <summary>The address clients use (known once started; a port of 0 becomes a free port).</summary>
    public Uri Address { get; private set; } = new("http://127.0.0.1/");

    SharpLMServer(ServerOptions o)
    {
        _o = o;
        if (o.Models.Count == 0)
            throw new SharpLMException("Give at least one model (a run folder) to serve.");
        var ids = o.Models.Select(m => m.Id).ToList();
        var repeated = ids.GroupBy(i => i).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (repeated.Count > 0)
            throw new SharpLMException($"Two served models have the same id ({string.Join(", ", repeated)}); name them apart.");
        foreach (var m in o.Models)
            if (!Directory.Exists(m.Path))
                throw new SharpLMException($"Run folder {m.Path} does not exist.");
        _safety = o.SafetyFile is string file ? SafetyFilter.Load(file) : null;
        _key = o.ApiKey is string k ? SHA256.HashData(Encoding.UTF8.GetBytes(k)) : null;
        Metrics = new ServerMetrics(() =>
            _models.Values.Where(m => m.Engine is not null).Select(m => (m.Id, m.Engine!.Running, m.Engine.Waiting)).ToList()
        );

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = o.MaxBodyBytes;
            k.AddServerHeader = false;
            if (o.Host is "localhost" or "127.0.0.1")
                k.Listen(IPAddress.Loopback, o.Port);
            else if (o.Host is "0.0.0.0" or "*")
                k.Listen(IPAddress.Any, o.Port);
            else
                k.Listen(
                    IPAddress.TryParse(o.Host, out var ip) ? ip : throw new SharpLMException($"Host '{o.Host}' is not an IP address."),
                    o.Port
                );
        });
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(30));
        // The host must not take SIGINT/SIGTERM for itself: whoever embeds the server (the CLI, an app) decides when to stop.
        builder.Services.AddSingleton<IHostLifetime, EmbeddedLifetime>();
        _app = builder.Build();
        _app.Use(Guard);
        Map(_app);
    }

    public static SharpLMServer Create(ServerOptions options) => new(options);

    /// <summary>Starts listening, then loads the models in the background (until then /health answers 503).</summary>
    public async Task StartAsync(CancellationToken ct = default)
    {
        await _app.StartAsync(ct);
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Address = new Uri(address.Replace("[::]", "localhost").Replace("0.0.0.0", "localhost"));
        _loading = Task.Run(LoadModels, ct);
    }

    /// <summary>For tests: loading waits for this (so that the loading state can be observed).</summary>
    internal Task LoadGate { get; set; } = Task.CompletedTask;

    void LoadModels()
    {
        try
        {
            LoadGate.Wait();
            foreach (var spec in _o.Models)
                _models[spec.Id] = ServedModel.Load(spec, _o, _safety, Metrics);
            _ready = true;
        }
        catch (Exception e)
        {
            _loadError = e is SharpLMException ? e.Message : $"{e.GetType().Name}: {e.Message}";
        }
    }

    /// <summary>Waits until every model is loaded; throws <see cref="SharpLMException"/> if one could not be.</summary>
    public async Task WaitUntilReadyAsync(CancellationToken ct = default)
    {
        if (_loading is not null)
            await _loading.WaitAsync(ct);
        if (_loadError is string error)
            throw new SharpLMException(error);
    }

    /// <summary>Stops accepting requests, lets in-flight ones finish (up to 30 s), then frees the models.</summary>
    public async Task StopAsync()
    {
        await _app.StopAsync();
        if (_loading is not null)
            await _loading;
        foreach (var m in _models.Values)
            m.Dispose();
        _models.Clear();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _app.DisposeAsync();
    }

    // ------------------------------------------------------------------ middleware

    /// <summary>The API key (API routes only), the loading state, and every error as OpenAI's JSON shape.</summary>
    async Task Guard(HttpContext ctx, RequestDelegate next)
    {
        string path = ctx.Request.Path.Value ?? "";
        bool api = path.StartsWith("/v1/", StringComparison.Ordinal) || path is "/tokenize" or "/detokenize";
        try
        {
            if (api && _key is not null)
                RequireKey(ctx.Request);
            if (api && !_ready)
            {
                ctx.Response.Headers.RetryAfter = "2";
                throw new ApiException(
                    503,
                    _loadError ?? "The server is loading its models; try again shortly.",
                    "server_error",
                    code: "loading"
                );
            }
            await next(ctx);
        }
        catch (ApiException e)
        {
            await WriteError(ctx, e);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await WriteError(
                ctx,
                new ApiException(413, $"The request body is larger than {_o.MaxBodyBytes} bytes.", code: "request_too_large")
            );
        }
        catch (Serving.EngineBusyException e)
        {
            ctx.Response.Headers.RetryAfter = "1";
            await WriteError(ctx, new ApiException(429, e.Message, "rate_limit_error", code: "queue_full"));
        }
        catch (SharpLMException e)
        {
            await WriteError(ctx, ApiException.BadRequest(e.Message));
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nobody is left to answer.
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A bug of ours: the client still gets OpenAI's shape, and whoever runs the server hears of it.
            _o.OnInternalError?.Invoke(e);
            await WriteError(
                ctx,
                new ApiException(500, $"Internal error ({e.GetType().Name}); this is a bug in SharpLM, please report it.", "server_error")
            );
        }
    }

    void RequireKey(HttpRequest request)
    {
        string? header = request.Headers.Authorization;
        if (header is null || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            throw new ApiException(401, "You didn't provide an API key: pass it as 'Authorization: Bearer KEY'.", code: "missing_api_key");
        var given = SHA256.HashData(Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim()));
        if (!CryptographicOperations.FixedTimeEquals(given, _key))
            throw new ApiException(401, "Incorrect API key provided.", code: "invalid_api_key");
    }

    static async Task WriteError(HttpContext ctx, ApiException e)
    {
        if (ctx.Response.HasStarted)
            return; // a stream already under way: the client sees it end
        ctx.Response.StatusCode = e.Status;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(e.ToJson().ToJsonString(OpenAiEndpoints.Compact));
    }

    // ------------------------------------------------------------------ routes

    void Map(WebApplication app)
    {
        app.MapGet(
            "/health",
            (HttpContext ctx) =>
                _ready
                    ? Results.Json(new { status = "ok" })
                    : Results.Json(new { status = _loadError is null ? "loading" : "failed", error = _loadError }, statusCode: 503)
        );
        app.MapGet("/metrics", () => Results.Text(Metrics.Render(), "text/plain; version=0.0.4; charset=utf-8"));
        app.MapGet(
            "/v1/models",
            () =>
                Results.Text(
                    new JsonObject
                    {
                        ["object"] = "list",
                        ["data"] = new JsonArray(_models.Values.Select(ModelJson).ToArray()),
                    }.ToJsonString(OpenAiEndpoints.Compact),
                    "application/json"
                )
        );
        app.MapGet(
            "/v1/models/{id}",
            (string id) => Results.Text(ModelJson(Find(id, "id")).ToJsonString(OpenAiEndpoints.Compact), "application/json")
        );
        app.MapGet(
            "/v1/models/{id}/loss.png",
            (string id) =>
            {
                var model = Find(id, "id");
                string plot = Path.Combine(model.Model.Run.Path, "loss.png");
                return File.Exists(plot)
                    ? Results.File(File.ReadAllBytes(plot), "image/png")
                    : throw new ApiException(404, $"The run of '{id}' has no loss plot.", code: "not_found");
            }
        );
        Playground.Map(app);
        var api = new OpenAiEndpoints(this, _safety);
        app.MapPost("/v1/completions", api.Completions);
        app.MapPost("/v1/chat/completions", api.ChatCompletions);
        app.MapPost("/v1/embeddings", api.Embeddings);
        app.MapPost("/v1/classify", api.Classify);
        app.MapPost("/v1/fill-mask", api.FillMask);
        app.MapPost("/tokenize", api.Tokenize);
        app.MapPost("/detokenize", api.Detokenize);
        app.MapFallback(
            (HttpContext ctx) => throw new ApiException(404, $"No route for {ctx.Request.Method} {ctx.Request.Path}.", code: "not_found")
        );
    }

    JsonNode ModelJson(ServedModel m) =>
        new JsonObject
        {
            ["id"] = m.Id,
            ["object"] = "model",
            ["created"] = m.Created.ToUnixTimeSeconds(),
            ["owned_by"] = "sharplm",
            ["max_model_len"] = m.Context,
            ["sharplm"] = m.Card.DeepClone(),
        };

    /// <summary>A served model by id, or a 404 in OpenAI's words.</summary>
    internal ServedModel Find(string id, string param = "model") =>
        _models.TryGetValue(id, out var m)
            ? m
            : throw new ApiException(
                404,
                $"The model '{id}' does not exist; GET /v1/models lists the served ones.",
                param: param,
                code: "model_not_found"
            );
}

/// <summary>A host lifetime that listens to no signals (the ASP.NET console lifetime would stop the host on Ctrl+C itself).</summary>
sealed class EmbeddedLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
