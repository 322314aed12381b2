using System.Diagnostics;
using System.Net.Http.Json;
using PuppeteerSharp;
using SharpLM.Server;

namespace SharpLM.Tests;

/// <summary>A served GPT, a long-context GPT, a classifier and a masked-LM encoder, plus a headless Chromium.</summary>
public sealed class PlaygroundFixture : IAsyncLifetime
{
    public SharpLMServer Server { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Debian's chromium (what .ci/run installs), or $SHARPLM_CHROMIUM.</summary>
    public static string Chromium() =>
        new[]
        {
            Environment.GetEnvironmentVariable("SHARPLM_CHROMIUM"),
            "/usr/bin/chromium",
            "/usr/bin/chromium-browser",
            "/usr/bin/google-chrome",
        }.FirstOrDefault(p => p is not null && File.Exists(p))
        ?? throw new InvalidOperationException(
            "The playground tests need Chromium: apt-get install chromium (.ci/run does), or set SHARPLM_CHROMIUM to a Chrome binary."
        );

    public static Task<IBrowser> Launch() =>
        Puppeteer.LaunchAsync(
            new LaunchOptions
            {
                ExecutablePath = Chromium(),
                Headless = true,
                // CI runs as root in a container: no sandbox, and /dev/shm may be small.
                Args = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run"],
            }
        );

    public async Task InitializeAsync()
    {
        Server = await ServerTests.Start(
            new ServerOptions
            {
                Models =
                [
                    new ServedModelSpec(await ServingModels.TrainedGpt(), "gpt"),
                    new ServedModelSpec(ServingModels.LongContextGpt(), "long"),
                    new ServedModelSpec(await ServingModels.TrainedClassifier(), "reviews"),
                    new ServedModelSpec(await ServingModels.TrainedMlm(), "mlm"),
                ],
                Port = 0,
            }
        );
        Browser = await Launch();
    }

    public async Task DisposeAsync()
    {
        await Browser.DisposeAsync();
        await Server.DisposeAsync();
    }
}

/// <summary>
/// The playground in a real headless Chromium: it loads with a strict Content-Security-Policy and no request leaves
/// the server, chats with streaming, stops a long generation (and the server frees the slot), classifies, fills masks,
/// shows the model card, asks for an API key, survives a server restart, and fits a 200% zoom.
/// </summary>
[Collection(TorchCollection.Name)]
public class PlaygroundTests(PlaygroundFixture f) : IClassFixture<PlaygroundFixture>
{
    /// <summary>Where the screenshots go: TestResults/ at the repository root, which CI keeps.</summary>
    static string Artefact(string name)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(dir.FullName, "SharpLM.sln")))
            dir = dir.Parent!;
        string results = Path.Combine(dir.FullName, "TestResults");
        Directory.CreateDirectory(results);
        return Path.Combine(results, name);
    }

    /// <summary>A page on the server that records every request it makes and every console error.</summary>
    async Task<(IPage Page, List<string> Requests, List<string> Errors)> Open(
        Uri server,
        int width = 1280,
        int height = 900,
        double scale = 1
    )
    {
        var page = await f.Browser.NewPageAsync();
        await page.SetViewportAsync(
            new ViewPortOptions
            {
                Width = width,
                Height = height,
                DeviceScaleFactor = scale,
            }
        );
        var requests = new List<string>();
        var errors = new List<string>();
        page.Request += (_, e) =>
        {
            lock (requests)
                requests.Add(e.Request.Url);
        };
        page.Console += (_, e) =>
        {
            if (e.Message.Type == ConsoleType.Error)
                lock (errors)
                    errors.Add(e.Message.Text);
        };
        page.PageError += (_, e) =>
        {
            lock (errors)
                errors.Add(e.Message);
        };
        var response = await page.GoToAsync(server.ToString(), WaitUntilNavigation.Networkidle0);
        Assert.Contains(response.Status, new[] { System.Net.HttpStatusCode.OK, System.Net.HttpStatusCode.NotModified }); // cached
        Assert.Contains("default-src 'none'", response.Headers["content-security-policy"]);
        await page.WaitForSelectorAsync("#status[data-state='ready']");
        return (page, requests, errors);
    }

    static async Task Choose(IPage page, string model)
    {
        await page.SelectAsync("#model", model);
        await page.WaitForFunctionAsync($"() => document.getElementById('card-fields').textContent.includes('{model}')");
    }

    static Task SetField(IPage page, string id, string value) =>
        page.EvaluateFunctionAsync("(id, v) => { document.getElementById(id).value = v; }", id, value);

    static Task<string> Text(IPage page, string selector) =>
        page.EvaluateFunctionAsync<string>("s => document.querySelector(s)?.textContent ?? ''", selector);

    [Fact]
    public async Task ChatStreamsARepliesWithItsFiguresAndTheModelCard()
    {
        var (page, requests, errors) = await Open(f.Server.Address);
        await using var _ = page;
        await Choose(page, "gpt");
        Assert.Contains("Parameters", await Text(page, "#card-fields"));
        Assert.Contains("Best validation loss", await Text(page, "#card-fields"));
        await page.WaitForFunctionAsync(
            "() => { const i = document.getElementById('card-plot-image'); return i.complete && i.naturalWidth > 0; }"
        );

        await SetField(page, "temperature", "0");
        // Keyboard only: focus the message box, type, Enter sends.
        await page.FocusAsync("#chat-input");
        await page.Keyboard.TypeAsync("Call me Ishmael.");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForFunctionAsync("() => document.querySelector('#messages li.assistant .meta') !== null");
        Assert.Equal(" Some years ago, never mind how long precisely.", await Text(page, "#messages li.assistant .content"));
        string meta = await Text(page, "#messages li.assistant .meta");
        Assert.Matches(@"^53 tokens · [0-9.]+ tokens/s · prompt 33 tokens · finish: stop$", meta);
        await page.ScreenshotAsync(Artefact("playground-chat.png"));

        // Nothing but the server itself was asked for anything.
        string origin = f.Server.Address.GetLeftPart(UriPartial.Authority);
        Assert.All(requests, r => Assert.StartsWith(origin, r.StartsWith("blob:", StringComparison.Ordinal) ? r[5..] : r));
        Assert.Empty(errors);
    }

    [Fact]
    public async Task StopEndsALongGenerationAndTheServerFreesTheSlot()
    {
        var (page, _, errors) = await Open(f.Server.Address);
        await using var __ = page;
        await Choose(page, "long");
        await SetField(page, "max_tokens", "1900");
        await page.TypeAsync("#chat-input", "x");
        await page.ClickAsync("#chat-send");
        // Streamed text appears while the request is still running.
        await page.WaitForFunctionAsync(
            """
            () => document.querySelector('#messages li.assistant .content').textContent.length > 20
                && !document.getElementById('chat-stop').disabled
            """
        );
        int before = (await Text(page, "#messages li.assistant .content")).Length;
        await page.WaitForFunctionAsync($"() => document.querySelector('#messages li.assistant .content').textContent.length > {before}");
        Assert.Equal(1, f.Server.Models["long"].Engine!.Running);
        await page.Keyboard.PressAsync("Escape"); // the same as the Stop button
        await page.WaitForFunctionAsync("() => document.querySelector('#messages li.assistant .meta')?.textContent.includes('stopped')");

        using var http = new HttpClient { BaseAddress = f.Server.Address };
        var clock = Stopwatch.StartNew();
        string metrics = "";
        while (clock.Elapsed < TimeSpan.FromSeconds(10) && !metrics.Contains("finished_reason=\"cancelled\"} 1"))
        {
            metrics = await http.GetStringAsync("/metrics");
            await Task.Delay(20);
        }
        Assert.Contains("sharplm:request_success_total{model_name=\"long\",finished_reason=\"cancelled\"} 1", metrics);
        Assert.Contains("sharplm:num_requests_running{model_name=\"long\"} 0", metrics);
        Assert.True((await Text(page, "#messages li.assistant .content")).Length < 1900);
        Assert.False(await page.EvaluateExpressionAsync<bool>("document.getElementById('chat-send').disabled"));
        Assert.DoesNotContain(errors, e => !e.Contains("aborted", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task ClassifyDrawsTheProbabilitiesAndFillMaskListsCandidates()
    {
        var (page, _, errors) = await Open(f.Server.Address);
        await using var __ = page;
        await Choose(page, "reviews");
        Assert.Contains("neg, pos", await Text(page, "#card-fields"));
        await page.TypeAsync("#classify-input", "the food was superb and the staff were friendly");
        await page.ClickAsync("#classify-form button[type=submit]");
        await page.WaitForSelectorAsync("#classify-result li");
        var bars = await page.EvaluateExpressionAsync<string[]>(
            """
            [...document.querySelectorAll('#classify-result li')]
                .map(li => li.querySelector('.label').textContent + ' ' + li.querySelector('meter').value.toFixed(3))
            """
        );
        Assert.Equal(2, bars.Length);
        Assert.StartsWith("pos ", bars[0]); // most likely first
        double sum = bars.Sum(b => double.Parse(b.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(1.0, sum, 2);
        await page.ScreenshotAsync(Artefact("playground-classify.png"));

        await Choose(page, "mlm");
        await page.ClickAsync("#fillmask-form button[type=submit]");
        await page.WaitForSelectorAsync("#fillmask-result li");
        Assert.Equal(5, await page.EvaluateExpressionAsync<int>("document.querySelectorAll('#fillmask-result li').length"));
        // An input without [MASK] shows the API's one-line message.
        await SetField(page, "fillmask-input", "no mask here");
        await page.ClickAsync("#fillmask-form button[type=submit]");
        await page.WaitForFunctionAsync("() => !document.getElementById('error').hidden");
        Assert.Contains("[MASK]", await Text(page, "#error"));
        Assert.DoesNotContain(errors, e => !e.Contains("400"));
    }

    [Fact]
    public async Task AKeyIsAskedForOnceAndARestartedServerIsFoundAgain()
    {
        var options = new ServerOptions
        {
            Models = [new ServedModelSpec(await ServingModels.TrainedGpt(), "gpt")],
            Port = 0,
            ApiKey = "sesame",
        };
        var server = await ServerTests.Start(options);
        var address = server.Address;
        var page = await f.Browser.NewPageAsync();
        await using var __ = page;
        await page.GoToAsync(address.ToString());
        await page.WaitForSelectorAsync("#key-dialog[open]");
        await page.TypeAsync("#key-input", "sesame");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForSelectorAsync("#status[data-state='ready']");
        Assert.Equal("sesame", await page.EvaluateExpressionAsync<string>("sessionStorage.getItem('sharplm-api-key')"));
        Assert.False(await page.EvaluateExpressionAsync<bool>("document.getElementById('key-dialog').open"));

        // The server goes away: the page says so, then finds the new one on the same port by itself.
        await server.DisposeAsync();
        await SetField(page, "temperature", "0");
        await page.TypeAsync("#chat-input", "Call me Ishmael.");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForFunctionAsync("() => document.getElementById('status').dataset.state === 'down'");
        Assert.Contains("cannot be reached", await Text(page, "#error"));
        await using var restarted = await ServerTests.Start(options with { Port = address.Port });
        await page.WaitForSelectorAsync("#status[data-state='ready']", new WaitForSelectorOptions { Timeout = 15_000 });
        // The failed turn was taken back and its text returned to the box: Enter asks again.
        Assert.Equal("Call me Ishmael.", await page.EvaluateExpressionAsync<string>("document.getElementById('chat-input').value"));
        Assert.Equal(0, await page.EvaluateExpressionAsync<int>("document.querySelectorAll('#messages li').length"));
        await page.FocusAsync("#chat-input");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForFunctionAsync("() => document.querySelector('#messages li.assistant:last-child .meta') !== null");
        Assert.Equal(" Some years ago, never mind how long precisely.", await Text(page, "#messages li.assistant:last-child .content"));
    }

    [Fact]
    public async Task ABusyServerIsReportedWithWhenToTryAgain()
    {
        await using var server = await ServerTests.Start(
            new ServerOptions
            {
                Models = [new ServedModelSpec(ServingModels.LongContextGpt(), "long")],
                Port = 0,
                MaxBatch = 1,
                MaxQueue = 0,
            }
        );
        var page = await f.Browser.NewPageAsync();
        await using var __ = page;
        await page.GoToAsync(server.Address.ToString());
        await page.WaitForSelectorAsync("#status[data-state='ready']");
        await page.TypeAsync("#chat-input", "x");
        // The one slot is taken (2,000 tokens: over a second), and nobody may wait: the page's message gets a 429.
        using var http = new HttpClient { BaseAddress = server.Address };
        using var cts = new CancellationTokenSource();
        var occupying = http.PostAsJsonAsync(
            "/v1/completions",
            new
            {
                model = "long",
                prompt = "x",
                max_tokens = 2000,
            },
            cts.Token
        );
        while (server.Models["long"].Engine!.Running == 0)
            await Task.Delay(5);
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForFunctionAsync("() => !document.getElementById('error').hidden");
        Assert.StartsWith("The server is busy; try again in 1 s.", await Text(page, "#error"));
        Assert.Equal("x", await page.EvaluateExpressionAsync<string>("document.getElementById('chat-input').value"));
        cts.Cancel();
        try
        {
            await occupying;
        }
        catch (OperationCanceledException) { } // it may also have finished first
    }

    [Fact]
    public async Task At200PercentZoomThePageFitsWithoutSidewaysScrolling()
    {
        // 200% zoom of a 1280-pixel window: 640 CSS pixels wide at a device scale of 2.
        var (page, _, _) = await Open(f.Server.Address, width: 640, height: 900, scale: 2);
        await using var __ = page;
        await Choose(page, "gpt");
        Assert.True(await page.EvaluateExpressionAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth"));
        // One column: the card goes below the workspace.
        Assert.True(
            await page.EvaluateExpressionAsync<bool>(
                """
                document.getElementById('card').getBoundingClientRect().top
                    >= document.getElementById('workspace').getBoundingClientRect().bottom
                """
            )
        );
        // Every control has a label (or is a button with text).
        Assert.Equal(
            0,
            await page.EvaluateExpressionAsync<int>(
                """
                [...document.querySelectorAll('input, select, textarea')]
                    .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')).length
                """
            )
        );
        await page.ScreenshotAsync(Artefact("playground-zoom200.png"));
    }
}
