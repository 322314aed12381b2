using System.Text.RegularExpressions;
using SharpLM.Cli;

namespace SharpLM.Tests;

/// <summary>
/// deploy/: CI does not build the image or start the unit, so this checks what can rot — their commands are the
/// README's, and the `sharplm serve` command lines they run parse with today's flags.
/// </summary>
public class DeploymentTests
{
    static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SharpLM.sln")))
                return dir.FullName;
        throw new InvalidOperationException("SharpLM.sln not found above the test binaries.");
    }

    static void AssertServeParses(IEnumerable<string> args)
    {
        var parse = CliApp.BuildRoot(new CliContext(TextWriter.Null, TextWriter.Null)).Parse(args.ToArray());
        Assert.True(parse.Errors.Count == 0, string.Join("; ", parse.Errors.Select(e => e.Message)));
        Assert.Equal("serve", parse.CommandResult.Command.Name);
    }

    [Fact]
    public void TheDockerfileRunsTheReadmesCommands()
    {
        string readme = File.ReadAllText(Path.Combine(Root(), "README.md"));
        string dockerfile = File.ReadAllText(Path.Combine(Root(), "deploy", "Dockerfile"));
        var runs = Regex.Matches(dockerfile, @"^RUN (.+)$", RegexOptions.Multiline).Select(m => m.Groups[1].Value.Trim()).ToList();
        Assert.Equal(2, runs.Count);
        foreach (var run in runs)
            Assert.Contains(run, readme);
        Assert.Contains("docker build -f deploy/Dockerfile -t sharplm .", readme);

        var entry = Regex.Match(dockerfile, @"^ENTRYPOINT (\[.*\])$", RegexOptions.Multiline);
        var argv = System.Text.Json.JsonSerializer.Deserialize<string[]>(entry.Groups[1].Value)!;
        Assert.Equal("/opt/sharplm/sharplm", argv[0]);
        // docker run appends the README's arguments to the entry point.
        string docker = Regex.Match(readme, @"docker run .* sharplm (--model \S+)").Groups[1].Value;
        AssertServeParses([.. argv[1..], .. docker.Split(' ')]);
    }

    [Fact]
    public void TheSystemdUnitRunsTheReadmesServeCommand()
    {
        string readme = File.ReadAllText(Path.Combine(Root(), "README.md"));
        string unit = File.ReadAllText(Path.Combine(Root(), "deploy", "sharplm.service"));
        string exec = Regex.Match(unit, @"^ExecStart=(.+)$", RegexOptions.Multiline).Groups[1].Value.Trim();
        Assert.Contains(exec, readme);
        var argv = exec.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("/opt/sharplm/sharplm", argv[0]);
        AssertServeParses(argv[1..]);
        Assert.Contains("KillSignal=SIGTERM", unit);
        // Longer than the server's 30 s drain, so that systemd does not SIGKILL requests that are finishing.
        Assert.True(int.Parse(Regex.Match(unit, @"TimeoutStopSec=(\d+)").Groups[1].Value) > 30);
    }
}
