using SharpLM.Cli;

namespace SharpLM.Tests;

/// <summary>Runs `sharplm` (or `sharplm-bench`) in-process with captured output.</summary>
public static class Cli
{
    public static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await CliApp.RunAsync(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    public static async Task<(int Code, string Out, string Err)> RunBench(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await CliApp.RunAsync(args, output, error, Bench.BenchCommands.BuildRoot);
        return (code, output.ToString(), error.ToString());
    }
}
