using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using SharpLM.Models;
using SharpLM.Server;
using SharpLM.Tokenization;
using TorchSharp;

namespace SharpLM.Bench;

public sealed record ServeLevel(
    int Clients,
    int Requests,
    double Seconds,
    double RequestsPerSecond,
    double TokensPerSecond,
    double TimeToFirstTokenP50,
    double TimeToFirstTokenP99,
    double LatencyP50,
    double LatencyP99
);

public sealed record ServeBenchmarkResult(
    string Model,
    long Parameters,
    int Threads,
    int MaxBatch,
    int PromptTokens,
    int MaxTokens,
    IReadOnlyList<ServeLevel> Levels,
    double ThroughputRatio
);

/// <summary>
/// `sharplm-bench serve`: the real server on loopback and real HTTP clients streaming completions, 1 then 4 then 16 at
/// a time. The baseline is the same server with one client at a time (the same model, threads and request mix).
/// </summary>
public static class ServeBenchmark
{
    public static async Task<ServeBenchmarkResult> RunAsync(
        IReadOnlyList<int> clientCounts,
        int requestsPerClient,
        int promptTokens,
        int maxTokens,
        int maxBatch,
        IProgress<string>? status = null
    )
    {
        string run = Path.Combine(Path.GetTempPath(), $"sharplm-bench-serve-{Environment.ProcessId}");
        Directory.CreateDirectory(run);
        try
        {
            long parameters = WriteRandomSmallModel(run);
            await using var server = SharpLMServer.Create(
                new ServerOptions
                {
                    Models = [new ServedModelSpec(run, "small")],
                    Port = 0,
                    MaxBatch = maxBatch,
                    MaxQueue = clientCounts.Max() * 2,
                }
            );
            await server.StartAsync();
            await server.WaitUntilReadyAsync();
            using var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(10) };
            status?.Report("warm-up");
            await Task.WhenAll(Enumerable.Range(0, Math.Min(4, maxBatch)).Select(i => OneRequest(http, Prompt(-1 - i, promptTokens), 8)));

            var levels = new List<ServeLevel>();
            foreach (int clients in clientCounts)
            {
                status?.Report($"{clients} concurrent client(s), {clients * requestsPerClient} requests");
                int next = 0;
                var timings = new List<(double Ttft, double Latency, int Tokens)>();
                var clock = Stopwatch.StartNew();
                await Task.WhenAll(
                    Enumerable
                        .Range(0, clients)
                        .Select(async _ =>
                        {
                            for (int r = 0; r < requestsPerClient; r++)
                            {
                                var t = await OneRequest(http, Prompt(Interlocked.Increment(ref next), promptTokens), maxTokens);
                                lock (timings)
                                    timings.Add(t);
                            }
                        })
                );
                double seconds = clock.Elapsed.TotalSeconds;
                var ttft = timings.Select(t => t.Ttft).Order().ToArray();
                var latency = timings.Select(t => t.Latency).Order().ToArray();
                levels.Add(
                    new ServeLevel(
                        clients,
                        timings.Count,
                        seconds,
                        timings.Count / seconds,
                        timings.Sum(t => t.Tokens) / seconds,
                        Percentile(ttft, 0.50),
                        Percentile(ttft, 0.99),
                        Percentile(latency, 0.50),
                        Percentile(latency, 0.99)
                    )
                );
            }
            var shape = Training.TrainingPreset.Get("small").Shape;
            var baseline = levels.First();
            return new ServeBenchmarkResult(
                $"small preset shape ({shape.Layers} layers, {shape.Width} wide, context {shape.Context}), random weights",
                parameters,
                torch.get_num_threads(),
                maxBatch,
                promptTokens,
                maxTokens,
                levels,
                levels.Last().TokensPerSecond / baseline.TokensPerSecond
            );
        }
        finally
        {
            Directory.Delete(run, recursive: true); // the benchmark's own temporary folder
        }
    }

    /// <summary>The `small` preset's shape with random weights: serving speed does not depend on what the weights say.</summary>
    static long WriteRandomSmallModel(string run)
    {
        var shape = Training.TrainingPreset.Get("small").Shape;
        var tokenizer = CharTokenizer.FromTexts([
            string.Concat(Enumerable.Range(0, TrainBenchmark.CharVocabulary).Select(i => (char)('!' + i))),
        ]);
        var config = new GptConfig
        {
            VocabSize = tokenizer.VocabSize,
            NPositions = shape.Context,
            NEmbd = shape.Width,
            NLayer = shape.Layers,
            NHead = shape.Heads,
        };
        torch.manual_seed(1);
        using var model = new Gpt(config);
        config.Save(Path.Combine(run, "config.json"));
        model.SaveWeights(Path.Combine(run, "model.safetensors"));
        tokenizer.Save(Path.Combine(run, "tokenizer.json"));
        return model.ParameterCount;
    }

    /// <summary>A seeded random prompt of exactly <paramref name="length"/> characters (= tokens for the char tokenizer).</summary>
    static string Prompt(int seed, int length)
    {
        var rng = new Random(seed);
        return new string(Enumerable.Range(0, length).Select(_ => (char)('!' + rng.Next(TrainBenchmark.CharVocabulary))).ToArray());
    }

    /// <summary>One streamed completion: seconds to the first token, seconds to the end, tokens generated.</summary>
    static async Task<(double Ttft, double Latency, int Tokens)> OneRequest(HttpClient http, string prompt, int maxTokens)
    {
        var clock = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = JsonContent.Create(
                new
                {
                    model = "small",
                    prompt,
                    max_tokens = maxTokens,
                    temperature = 0,
                    stream = true,
                    stream_options = new { include_usage = true },
                }
            ),
        };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (!response.IsSuccessStatusCode)
            throw new SharpLMException($"The server answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        double ttft = double.NaN;
        int tokens = 0;
        while (await reader.ReadLineAsync() is string line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal) || line == "data: [DONE]")
                continue;
            using var chunk = JsonDocument.Parse(line.AsMemory(6));
            var root = chunk.RootElement;
            if (double.IsNaN(ttft) && root.GetProperty("choices").GetArrayLength() > 0)
                ttft = clock.Elapsed.TotalSeconds;
            if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
                tokens = usage.GetProperty("completion_tokens").GetInt32();
        }
        return (ttft, clock.Elapsed.TotalSeconds, tokens);
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    static double Percentile(double[] sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}
