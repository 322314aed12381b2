using System.Diagnostics;
using System.IO.Compression;

namespace SharpLM.Tests;

/// <summary>
/// What a .NET user installs: `dotnet pack` makes the SharpLM library package and the sharplm command as a .NET tool,
/// and the tool, installed into a temp tool path, trains a model (so libtorch loads from the installed files) — without
/// carrying ML.NET, whose baseline lives in the separate benchmarks executable.
/// </summary>
[Collection(TorchCollection.Name)]
public class PackagingTests
{
    static async Task<(int Code, string Output)> Dotnet(string workingDirectory, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet", args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory,
        };
        info.Environment["SHARPLM_DATA_DIR"] = TestData.Catalog.CacheDir;
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout + await stderr);
    }

    static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SharpLM.sln")))
                return dir.FullName;
        throw new InvalidOperationException("SharpLM.sln not found above the test binaries.");
    }

    [Fact]
    public async Task PackInstallAndRunTheTool()
    {
        string root = Root(),
            artifacts = TestData.TempDir(),
            tools = TestData.TempDir();
        // --no-build: the test run has just built the Debug configuration; packing publishes it as a tool.
        foreach (var project in new[] { "src/SharpLM", "src/SharpLM.Server", "src/SharpLM.Cli" })
        {
            var pack = await Dotnet(root, "pack", project, "-c", "Debug", "--no-build", "-o", artifacts);
            Assert.True(pack.Code == 0, pack.Output);
        }
        var packages = Directory.GetFiles(artifacts, "*.nupkg").Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(3, packages.Length);
        Assert.StartsWith("SharpLM.0.", packages[0]);
        Assert.StartsWith("SharpLM.Server.0.", packages[1]);
        Assert.StartsWith("SharpLM.Tool.0.", packages[2]);
        using (var tool = ZipFile.OpenRead(Path.Combine(artifacts, packages[2]!)))
        {
            Assert.Contains(tool.Entries, e => e.FullName.EndsWith("/sharplm.dll"));
            Assert.Contains(tool.Entries, e => e.FullName.EndsWith("DotnetToolSettings.xml"));
            Assert.DoesNotContain(tool.Entries, e => e.Name.StartsWith("Microsoft.ML.") && !e.Name.StartsWith("Microsoft.ML.Tokenizers"));
        }

        var install = await Dotnet(
            root,
            "tool",
            "install",
            "--tool-path",
            tools,
            "--add-source",
            artifacts,
            "SharpLM.Tool",
            "--version",
            packages[2]![13..^6]
        );
        Assert.True(install.Code == 0, install.Output);
        string sharplm = Path.Combine(tools, "sharplm");
        string data = await TrainingTests.PreparedData(string.Concat(Enumerable.Repeat("to be or not to be. ", 100)));
        string runFolder = Path.Combine(TestData.TempDir(), "run");
        var info = new ProcessStartInfo(
            sharplm,
            ["train", "--data", data, "--output", runFolder, "--preset", "tiny", "--max-steps", "4", "--eval-interval", "2", "--json"]
        )
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.Environment["SHARPLM_DATA_DIR"] = TestData.Catalog.CacheDir;
        using var run = Process.Start(info)!;
        string output = await run.StandardOutput.ReadToEndAsync(),
            error = await run.StandardError.ReadToEndAsync();
        await run.WaitForExitAsync();
        Assert.True(run.ExitCode == 0, error);
        Assert.Contains("\"steps\":4", output);

        // The installed tool serves the run: ASP.NET Core loads from the shared framework next to the tool's files.
        var serveInfo = new ProcessStartInfo(sharplm, ["serve", "--model", runFolder, "--port", "0"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var serve = Process.Start(serveInfo)!;
        try
        {
            var ready = serve.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(1));
            string line = (await ready) ?? throw new InvalidOperationException(await serve.StandardError.ReadToEndAsync());
            Assert.StartsWith("serving run at http://127.0.0.1:", line);
            using var http = new HttpClient();
            var completion = await http.PostAsync(
                line.Split(' ')[3] + "/completions",
                new StringContent(
                    "{\"model\":\"run\",\"prompt\":\"to be\",\"max_tokens\":3}",
                    System.Text.Encoding.UTF8,
                    "application/json"
                )
            );
            Assert.Equal(System.Net.HttpStatusCode.OK, completion.StatusCode);
            Assert.Contains("\"completion_tokens\":3", await completion.Content.ReadAsStringAsync());
        }
        finally
        {
            serve.Kill();
        }
    }
}
