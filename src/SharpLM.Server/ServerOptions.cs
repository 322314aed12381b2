namespace SharpLM.Server;

/// <summary>A run folder to serve, and the model id clients use for it (default: the folder's name).</summary>
public sealed record ServedModelSpec(string Path, string? Name = null)
{
    public string Id => Name ?? System.IO.Path.GetFileName(System.IO.Path.GetFullPath(Path).TrimEnd(System.IO.Path.DirectorySeparatorChar));
}

/// <summary>Everything `sharplm serve` takes.</summary>
public sealed record ServerOptions
{
    public required IReadOnlyList<ServedModelSpec> Models { get; init; }
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>0 picks a free port (the address is known once started).</summary>
    public int Port { get; init; } = 8000;

    /// <summary>When set, every API request needs "Authorization: Bearer KEY" (health, metrics and the page do not).</summary>
    public string? ApiKey { get; init; }

    /// <summary>Sequences of one model decoded together.</summary>
    public int MaxBatch { get; init; } = 16;

    /// <summary>Requests of one model waiting beyond the running ones; more get 429.</summary>
    public int MaxQueue { get; init; } = 64;

    /// <summary>auto, chatml, plain, none or a template file (see <see cref="Serving.ChatTemplate"/>).</summary>
    public string ChatTemplate { get; init; } = "auto";

    /// <summary>A safety filter file: blocked prompts get 400, blocked output is cut (finish_reason content_filter).</summary>
    public string? SafetyFile { get; init; }

    /// <summary>
    /// Matrix-product precision of the GPT language models served (bf16: mixed precision and a bf16 KV cache); other models
    /// compute in fp32.
    /// </summary>
    public SharpLM.Models.Layers.Precision Precision { get; init; } = SharpLM.Models.Layers.Precision.Fp32;

    /// <summary>Largest request body; larger ones get 413.</summary>
    public long MaxBodyBytes { get; init; } = 1 << 20;

    /// <summary>Called with an exception no request should cause (the client gets a 500 in OpenAI's shape).</summary>
    public Action<Exception>? OnInternalError { get; init; }
}
