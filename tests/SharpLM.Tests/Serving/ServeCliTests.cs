using System.Net;
using System.Net.Http.Json;

namespace SharpLM.Tests;

/// <summary><c>sharplm serve</c> as a separate process: the ready line, SIGTERM draining, and its one-line refusals.</summary>
[Collection(TorchCollection.Name)]
public class ServeCliTests
{
    [Fact]
    public async Task SigtermLetsTheRequestInFlightFinishThenExitsZero()
    {
        string run = ServingModels.LongContextGpt();
        using var serve = CliProcess.Start([
            "serve",
            "--model",
            run,
            "--served-model-name",
            "long",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--threads",
            "2",
        ]);
        string ready = await serve.WaitForLineAsync("serving long at ", TimeSpan.FromMinutes(1));
        var url = new Uri(ready["serving long at ".Length..].Split(' ')[0].Replace("/v1", "/"));
        Assert.Contains("without an API key", serve.Err); // 0.0.0.0 without --api-key warns

        using var http = new HttpClient { BaseAddress = url };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health")).StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = JsonContent.Create(
                new
                {
                    model = "long",
                    prompt = "x",
                    max_tokens = 1500,
                    stream = true,
                }
            ),
        };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var events = new List<string>();
        while (await reader.ReadLineAsync() is string line)
        {
            if (!line.StartsWith("data: "))
                continue;
            events.Add(line);
            if (events.Count == 3)
                serve.Terminate(); // mid-stream
        }
        Assert.Equal("data: [DONE]", events[^1]);
        Assert.Contains("\"finish_reason\":\"length\"", events[^2]);
        var exit = await serve.WaitAsync(TimeSpan.FromMinutes(1));
        Assert.True(exit.Code == 0, exit.Err);
        Assert.Contains("stopping: finishing requests in flight", exit.Err);
        Assert.DoesNotContain("   at ", exit.Err);
    }

    [Theory]
    [InlineData("run folder", "does not exist")]
    [InlineData("two keys", "--api-key or --api-key-file")]
    [InlineData("names", "--served-model-name per --model")]
    [InlineData("safety", "does not exist")]
    [InlineData("not a run", "has no config.json")]
    public async Task BadArgumentsGetOneLineAndExitOne(string what, string message)
    {
        string run = ServingModels.LongContextGpt();
        string empty = TestData.TempDir();
        string[] args = what switch
        {
            "run folder" => ["serve", "--model", Path.Combine(empty, "missing")],
            "two keys" => ["serve", "--model", run, "--api-key", "a", "--api-key-file", "k.txt"],
            "names" => ["serve", "--model", run, "--served-model-name", "a", "--served-model-name", "b"],
            "safety" => ["serve", "--model", run, "--safety", Path.Combine(empty, "nope.txt")],
            _ => ["serve", "--model", empty, "--port", "0"],
        };
        var r = await CliProcess.RunAsync(args, timeout: TimeSpan.FromMinutes(1));
        Assert.Equal(1, r.Code);
        // At most a "loading" line before it (a folder is read only once the server listens), then one line.
        var lines = r.Err.Trim().Split('\n').Where(l => !l.StartsWith("loading ")).ToList();
        string error = Assert.Single(lines);
        Assert.StartsWith("error: ", error);
        Assert.Contains(message, error);
    }

    [Fact]
    public async Task TheServingBenchmarkMeasuresEveryLevelOverHttp()
    {
        var r = await Cli.RunBench(
            "serve",
            "--clients",
            "1",
            "3",
            "--requests-per-client",
            "2",
            "--prompt-tokens",
            "8",
            "--max-tokens",
            "5",
            "--json"
        );
        Assert.True(r.Code == 0, r.Err);
        var result = System.Text.Json.JsonDocument.Parse(r.Out).RootElement;
        var levels = result.GetProperty("levels").EnumerateArray().ToList();
        Assert.Equal([1, 3], levels.Select(l => l.GetProperty("clients").GetInt32()));
        Assert.Equal([2, 6], levels.Select(l => l.GetProperty("requests").GetInt32()));
        foreach (var l in levels)
        {
            // Every request generated its 5 tokens (greedy, no end-of-text in a char vocabulary): tokens/s = 5 × requests/s.
            Assert.Equal(5 * l.GetProperty("requestsPerSecond").GetDouble(), l.GetProperty("tokensPerSecond").GetDouble(), 6);
            Assert.InRange(l.GetProperty("timeToFirstTokenP50").GetDouble(), 1e-6, l.GetProperty("latencyP50").GetDouble());
        }
        Assert.Equal(
            levels[1].GetProperty("tokensPerSecond").GetDouble() / levels[0].GetProperty("tokensPerSecond").GetDouble(),
            result.GetProperty("throughputRatio").GetDouble(),
            6
        );
        var bad = await Cli.RunBench("serve", "--prompt-tokens", "200", "--max-tokens", "100");
        Assert.Equal(1, bad.Code);
        Assert.Contains("at most 256", bad.Err);
    }
}
