using System.CommandLine;
using SharpLM.Server;

namespace SharpLM.Cli.Commands;

/// <summary>sharplm serve: an OpenAI-compatible HTTP server for one or more run folders.</summary>
public static class ServeCommand
{
    public static Command Build(CliContext ctx)
    {
        var model = new Option<string[]>("--model")
        {
            Description = "Run folder to serve; repeat for several.",
            Required = true,
            AllowMultipleArgumentsPerToken = false,
        };
        var names = new Option<string[]>("--served-model-name")
        {
            Description = "Model id clients use, one per --model in order (default: the folder's name).",
            DefaultValueFactory = _ => [],
        };
        var host = new Option<string>("--host")
        {
            Description = "Address to listen on (127.0.0.1; 0.0.0.0 for every interface).",
            DefaultValueFactory = _ => "127.0.0.1",
        };
        var port = new Option<int>("--port") { Description = "Port (0 picks a free one).", DefaultValueFactory = _ => 8000 };
        var key = new Option<string?>("--api-key") { Description = "Require 'Authorization: Bearer KEY' on API requests." };
        var keyFile = new Option<string?>("--api-key-file")
        {
            Description = "Read the API key from a file (keeps it out of the process list).",
        };
        var batch = new Option<int>("--max-batch")
        {
            Description = "Sequences of one model decoded together.",
            DefaultValueFactory = _ => 16,
        };
        var queue = new Option<int>("--max-queue")
        {
            Description = "Requests waiting beyond the running ones; more get 429.",
            DefaultValueFactory = _ => 64,
        };
        var template = new Option<string>("--chat-template")
        {
            Description =
                "auto (ChatML if the tokenizer has its tokens, else plain), chatml, plain, none (chat gets 400), or a template file.",
            DefaultValueFactory = _ => "auto",
        };
        var safety = new Option<string?>("--safety")
        {
            Description = "Blocked words/phrases/re:patterns, one per line: prompts get 400, output is cut (finish_reason content_filter).",
        };
        var body = new Option<long>("--max-body-bytes")
        {
            Description = "Largest request body (larger: 413).",
            DefaultValueFactory = _ => 1 << 20,
        };
        var precision = CliApp.PrecisionOption(
            "fp32 (default) or bf16 matrix products and KV cache for the GPT language models served (others stay fp32)."
        );
        var cmd = new Command(
            "serve",
            "Serve runs over an OpenAI-compatible HTTP API (completions, chat, embeddings, classify) with continuous batching."
        );
        foreach (var o in new Option[] { model, names, host, port, key, keyFile, batch, queue, template, safety, body, precision })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                async (p, ct) =>
                {
                    var paths = p.GetValue(model)!;
                    var ids = p.GetValue(names)!;
                    if (ids.Length > 0 && ids.Length != paths.Length)
                        throw new SharpLMException($"Give one --served-model-name per --model ({paths.Length}), or none.");
                    if (p.GetValue(key) is not null && p.GetValue(keyFile) is not null)
                        throw new SharpLMException("Give --api-key or --api-key-file, not both.");
                    string? apiKey = p.GetValue(key);
                    if (p.GetValue(keyFile) is string file)
                        apiKey = File.Exists(file)
                            ? File.ReadAllText(file).Trim()
                            : throw new SharpLMException($"API key file {file} does not exist.");
                    if (apiKey is "")
                        throw new SharpLMException("The API key is empty.");
                    var options = new ServerOptions
                    {
                        Models = paths.Select((m, i) => new ServedModelSpec(m, ids.Length > 0 ? ids[i] : null)).ToList(),
                        Host = p.GetValue(host)!,
                        Port = p.GetValue(port),
                        ApiKey = apiKey,
                        MaxBatch = p.GetValue(batch),
                        MaxQueue = p.GetValue(queue),
                        ChatTemplate = p.GetValue(template)!,
                        SafetyFile = p.GetValue(safety),
                        MaxBodyBytes = p.GetValue(body),
                        Precision = CliApp.ReadPrecision(p, precision) ?? Models.Layers.Precision.Fp32,
                        OnInternalError = e =>
                        {
                            lock (ctx.Err)
                                ctx.Err.WriteLine(
                                    Environment.GetEnvironmentVariable("SHARPLM_DEBUG") == "1"
                                        ? $"internal error: {e}"
                                        : $"internal error: {e.GetType().Name}: {e.Message.Split('\n')[0]} "
                                            + "(SHARPLM_DEBUG=1 prints the stack trace)"
                                );
                        },
                    };
                    if (apiKey is null && options.Host is not ("127.0.0.1" or "localhost"))
                        ctx.Err.WriteLine(
                            $"warning: serving on {options.Host} without an API key: anyone who can reach this port can use the models "
                                + "(give --api-key)."
                        );
                    await using var server = SharpLMServer.Create(options);
                    await server.StartAsync(ct);
                    ctx.Err.WriteLine($"loading {string.Join(", ", options.Models.Select(m => m.Id))}...");
                    await server.WaitUntilReadyAsync(ct);
                    ctx.Out.WriteLine(
                        $"serving {string.Join(", ", options.Models.Select(m => m.Id))} at {server.Address.ToString().TrimEnd('/')}/v1 "
                            + "(Ctrl+C stops)"
                    );
                    ctx.Out.Flush();
                    try
                    {
                        await Task.Delay(Timeout.Infinite, ct);
                    }
                    catch (OperationCanceledException)
                    {
                        ctx.Err.WriteLine("stopping: finishing requests in flight...");
                    }
                    await server.StopAsync();
                    return 0;
                }
            )
        );
        return cmd;
    }
}
