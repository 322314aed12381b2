using System.CommandLine;
using System.Text.Json;
using System.Text.RegularExpressions;
using SharpLM.Catalogue;
using SharpLM.Cli.Commands;
using SharpLM.IO;
using Spectre.Console;

namespace SharpLM.Cli;

/// <summary>Where a command writes: results to Out (one JSON object with --json), progress and errors to Err.</summary>
public sealed class CliContext(TextWriter output, TextWriter error)
{
    public TextWriter Out { get; } = output;
    public TextWriter Err { get; } = error;

    /// <summary>Whether stderr is a terminal (live progress display) rather than a file, a pipe or a test's writer.</summary>
    public bool Interactive { get; } = ReferenceEquals(error, System.Console.Error) && !System.Console.IsErrorRedirected;

    /// <summary>Progress bars and tables on stderr; plain text when stderr is not a terminal.</summary>
    public IAnsiConsole Console =>
        _console ??= AnsiConsole.Create(
            new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(Err),
                Interactive = Interactive ? InteractionSupport.Yes : InteractionSupport.No,
                Ansi = Interactive ? AnsiSupport.Detect : AnsiSupport.No,
            }
        );
    IAnsiConsole? _console;

    public void WriteJson<T>(T value) => Out.WriteLine(JsonSerializer.Serialize(value, Json.Compact));

    /// <summary>A renderable (table) written to stdout for people.</summary>
    public void WriteTable(Spectre.Console.Rendering.IRenderable table)
    {
        var console = AnsiConsole.Create(
            new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(Out),
                Ansi = AnsiSupport.No,
                Interactive = InteractionSupport.No,
            }
        );
        console.Profile.Width = 120;
        console.Write(table);
    }

    /// <summary>A library report table on stdout.</summary>
    public void WriteTable(Evaluation.ReportTable table)
    {
        var t = new Table().AddColumns(table.Columns.Select(Markup.Escape).ToArray());
        foreach (var row in table.Rows)
            t.AddRow(row.Select(Markup.Escape).ToArray());
        WriteTable(t);
    }
}

/// <summary>
/// Exit codes: 0 success, 1 user error (bad input), 2 usage error (bad command line), 70 internal error (a bug),
/// 130 cancelled (Ctrl+C).
/// </summary>
public static class ExitCodes
{
    public const int UserError = 1,
        UsageError = 2,
        InternalError = 70,
        Cancelled = 130;
}

public static class CliApp
{
    public static readonly Option<bool> JsonOption = new("--json")
    {
        Description = "Print the result as one JSON object on stdout (progress goes to stderr).",
    };

    /// <summary>--precision fp32|bf16 (one definition for train, eval, generate and serve).</summary>
    public static Option<string?> PrecisionOption(string description)
    {
        var o = new Option<string?>("--precision") { Description = description };
        o.AcceptOnlyFromAmong("fp32", "bf16");
        return o;
    }

    public static Models.Layers.Precision? ReadPrecision(ParseResult p, Option<string?> option) =>
        p.GetValue(option) is string name ? Models.Layers.MixedPrecision.Parse(name, "--precision") : null;

    /// <summary>--distributed none|mpi, --deterministic-reduce and --collective-timeout (train and finetune).</summary>
    public sealed class DistributedOptions
    {
        public readonly Option<string> Mode = new("--distributed")
        {
            Description =
                "mpi: data-parallel over the processes mpiexec starts (mpiexec -n N sharplm ...); each takes --batch-size rows of "
                + "every global batch of N × --batch-size, gradients are averaged. Needs MPICH.",
            DefaultValueFactory = _ => "none",
        };
        public readonly Option<bool> Deterministic = new("--deterministic-reduce")
        {
            Description = "Sum gradients in rank order on every rank: bit-reproducible runs at a given number of processes.",
        };
        public readonly Option<double> Timeout = new("--collective-timeout")
        {
            Description = "Seconds a rank waits for the others in a collective before failing (a rank died or hung).",
            DefaultValueFactory = _ => 300,
        };

        public DistributedOptions() => Mode.AcceptOnlyFromAmong("none", "mpi");

        public IEnumerable<Option> All => [Mode, Deterministic, Timeout];

        /// <summary>
        /// Joins the MPI world for --distributed mpi (null for none). Unless --threads or SHARPLM_THREADS says otherwise,
        /// each rank takes its share of this machine's cores (MPICH's MPI_LOCALNRANKS), so ranks do not oversubscribe them.
        /// </summary>
        public Distributed.DataParallel? Read(ParseResult p)
        {
            if (p.GetValue(Mode) != "mpi")
            {
                if (p.GetValue(Deterministic))
                    throw new SharpLMException("--deterministic-reduce applies to --distributed mpi.");
                return null;
            }
            if (!(p.GetValue(Timeout) > 0))
                throw new SharpLMException("--collective-timeout must be a positive number of seconds.");
            var world = Distributed.MpiCommunicator.World;
            world.Timeout = TimeSpan.FromSeconds(p.GetValue(Timeout));
            bool threadsGiven =
                p.GetValue(ThreadsOption) is not null
                || Environment.GetEnvironmentVariable(Runtime.TorchRuntime.ThreadsVariable) is not null;
            if (!threadsGiven && int.TryParse(Environment.GetEnvironmentVariable("MPI_LOCALNRANKS"), out int local) && local > 1)
                Runtime.TorchRuntime.ConfigureThreads(Math.Max(1, Environment.ProcessorCount / local));
            return new Distributed.DataParallel(world, p.GetValue(Deterministic));
        }
    }

    public static readonly Option<string?> DataDirOption = new("--data-dir")
    {
        Description = $"Data catalogue cache folder (default ${DataCatalogClient.CacheEnvironmentVariable} or ~/.cache/sharplm/data).",
        Recursive = true,
    };
    public static readonly Option<string?> RegistryOption = new("--registry")
    {
        Description =
            $"npm registry base URL for data sets (default ${DataCatalogClient.RegistryEnvironmentVariable} or "
            + $"{DataCatalogClient.DefaultRegistry}).",
        Recursive = true,
    };
    public static readonly Option<int?> ThreadsOption = new("--threads")
    {
        Description = "CPU threads for libtorch (default: all cores, or $SHARPLM_THREADS).",
        Recursive = true,
    };

    public static RootCommand BuildRoot(CliContext ctx)
    {
        var root = new RootCommand("SharpLM: corpus preparation, tokenizers and language models on TorchSharp.");
        root.Options.Add(DataDirOption);
        root.Options.Add(RegistryOption);
        root.Options.Add(ThreadsOption);
        root.Subcommands.Add(DataCommands.Build(ctx));
        root.Subcommands.Add(TokenizerCommands.Build(ctx));
        root.Subcommands.Add(PrepareCommand.Build(ctx));
        root.Subcommands.Add(TrainCommand.Build(ctx));
        root.Subcommands.Add(EvalCommand.Build(ctx));
        root.Subcommands.Add(GenerateCommand.Build(ctx));
        root.Subcommands.Add(FillMaskCommand.Build(ctx));
        root.Subcommands.Add(FineTuneCommand.Build(ctx));
        root.Subcommands.Add(ClassifyCommand.Build(ctx));
        root.Subcommands.Add(TaskHeadCommands.Ner(ctx));
        root.Subcommands.Add(TaskHeadCommands.Qa(ctx));
        root.Subcommands.Add(TuneCommand.Build(ctx));
        root.Subcommands.Add(ScoreCommand.Build(ctx));
        root.Subcommands.Add(Seq2SeqCommands.Translate(ctx));
        root.Subcommands.Add(CompressionCommands.Quantize(ctx));
        root.Subcommands.Add(CompressionCommands.Prune(ctx));
        root.Subcommands.Add(ExportCommand.Create(ctx));
        root.Subcommands.Add(SearchCommands.Index(ctx));
        root.Subcommands.Add(SearchCommands.Search(ctx));
        root.Subcommands.Add(EmbeddingsCommands.Build(ctx));
        root.Subcommands.Add(ServeCommand.Build(ctx));
        root.Subcommands.Add(QuickstartCommand.Build(ctx));
        return root;
    }

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error) =>
        await RunAsync(args, output, error, BuildRoot);

    /// <summary>Parses and runs with a root built by <paramref name="build"/> (the bench executable brings its own).</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, Func<CliContext, RootCommand> build)
    {
        var ctx = new CliContext(output, error);
        var root = build(ctx);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors)
                error.WriteLine($"error: {e.Message}");
            error.WriteLine($"Run '{CommandPath(parse)} --help' for usage.");
            return ExitCodes.UsageError;
        }
        return await parse.InvokeAsync(
            new InvocationConfiguration
            {
                Output = output,
                Error = error,
                EnableDefaultExceptionHandler = false,
                // Ctrl+C cancels the command's token; give training time to write its checkpoint before the process ends.
                ProcessTerminationTimeout = TimeSpan.FromSeconds(120),
            }
        );
    }

    static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var r = parse.CommandResult; r != null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, r.Command is RootCommand ? parse.RootCommandResult.Command.Name : r.Command.Name);
        return string.Join(' ', names);
    }

    public static DataCatalogClient Catalog(ParseResult p) => new(p.GetValue(DataDirOption), p.GetValue(RegistryOption));

    /// <summary>
    /// Runs a command body: applies --threads, and turns a user error into one line on stderr and exit code 1, never a
    /// stack trace. The library names its own parameters (max_steps, block_size…); where the command has a flag for one,
    /// the message names the flag instead (--max-steps).
    /// </summary>
    public static Func<ParseResult, CancellationToken, Task<int>> Guard(
        CliContext ctx,
        Func<ParseResult, CancellationToken, Task<int>> body
    ) =>
        async (parse, ct) =>
        {
            try
            {
                Runtime.TorchRuntime.ConfigureThreads(parse.GetValue(ThreadsOption));
                return await body(parse, ct);
            }
            catch (SharpLMException e)
            {
                ctx.Err.WriteLine($"error: {InFlags(e.Message, parse)}");
                return EndWorld(ctx, ExitCodes.UserError);
            }
            catch (OperationCanceledException)
            {
                ctx.Err.WriteLine("cancelled.");
                return ExitCodes.Cancelled;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                ctx.Err.WriteLine($"error: {e.Message}");
                return ExitCodes.UserError;
            }
            catch (Exception e) when (e is TypeInitializationException or DllNotFoundException && LibTorchError() is string message)
            {
                ctx.Err.WriteLine($"error: {message}");
                return ExitCodes.UserError;
            }
            catch (Exception e) when (Environment.GetEnvironmentVariable("SHARPLM_DEBUG") != "1")
            {
                ctx.Err.WriteLine(
                    $"internal error ({e.GetType().Name}): {e.Message.Split('\n')[0]}. This is a bug in SharpLM; set SHARPLM_DEBUG=1 "
                        + "for the stack trace and report it."
                );
                return EndWorld(ctx, ExitCodes.InternalError);
            }
        };

    /// <summary>
    /// A rank that fails in a data-parallel run ends the others too (they would wait for it in the next collective),
    /// after its own message is out.
    /// </summary>
    static int EndWorld(CliContext ctx, int code)
    {
        if (Distributed.MpiCommunicator.IsDistributed)
        {
            // MPI_Abort ends this process at once, and mpiexec tears down the output forwarding with it: the message must
            // be out of every buffer and given a moment to reach mpiexec (ranks that fail alike exit by themselves meanwhile).
            ctx.Err.Flush();
            ctx.Out.Flush();
            Console.Error.Flush();
            Thread.Sleep(TimeSpan.FromSeconds(1));
            Distributed.MpiCommunicator.World.Abort(code);
        }
        return code;
    }

    static string? LibTorchError()
    {
        try
        {
            Runtime.TorchRuntime.EnsureLoaded();
            return null;
        }
        catch (SharpLMException e)
        {
            return e.Message;
        }
    }

    /// <summary>Library names for which the flag is not simply the name with dashes.</summary>
    static readonly Dictionary<string, string> FlagNames = new(StringComparer.Ordinal)
    {
        ["learning_rate"] = "--lr",
        ["min_learning_rate"] = "--min-lr",
        ["early_stopping_patience"] = "--patience",
        ["early_stopping_min_delta"] = "--min-delta",
        ["output_dir"] = "--output",
        ["overwrite_output"] = "--overwrite",
        ["finetune_steps"] = "--finetune-steps",
        ["gguf_type"] = "--type",
        ["max_input_tokens"] = "--block-size",
        ["stop_sequences"] = "--stop",
    };

    /// <summary>Replaces the library's parameter names (snake_case) by the command's flags for them, where it has one.</summary>
    public static string InFlags(string message, ParseResult parse)
    {
        var flags = new HashSet<string>(StringComparer.Ordinal);
        for (var r = parse.CommandResult; r != null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            foreach (var o in r.Command.Options)
                flags.Add(o.Name);
        return Regex.Replace(
            message,
            @"(?<![\w./-])([a-z][a-z0-9]*(?:_[a-z0-9]+)+|threads|dropout|top|temperature)(?![\w/])",
            m =>
            {
                string flag = FlagNames.TryGetValue(m.Value, out var f) ? f : "--" + m.Value.Replace('_', '-');
                return flags.Contains(flag) ? flag : m.Value;
            }
        );
    }

    /// <summary>Runs <paramref name="work"/> under a progress bar on stderr (or silently when not interactive).</summary>
    public static async Task<T> WithProgress<T>(CliContext ctx, string title, Func<ProgressTask, Task<T>> work)
    {
        if (!ctx.Interactive)
            return await work(new ProgressTask(0, title, 100, autoStart: false)); // detached: updates are ignored
        return await ctx
            .Console.Progress()
            .AutoClear(true)
            .Columns(
                new TaskDescriptionColumn(),
                new ProgressBarColumn(),
                new PercentageColumn(),
                new RemainingTimeColumn(),
                new SpinnerColumn()
            )
            .StartAsync(async p => await work(p.AddTask(title)));
    }

    public static IProgress<DownloadProgress> DownloadReporter(ProgressTask task) =>
        new SyncProgress<DownloadProgress>(p =>
        {
            if (p.Total is long total)
            {
                task.MaxValue = total;
                task.Value = p.Bytes;
            }
            else
                task.IsIndeterminate = true;
        });

    /// <summary>IProgress that reports on the caller's thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    public sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    /// <summary>
    /// The texts of --text (each) and --input (one per non-blank line), or a one-line error naming what they are for
    /// (<paramref name="what"/>: "translate", "tag").
    /// </summary>
    public static List<string> Texts(ParseResult p, Option<string[]> text, Option<string?> input, string what, string unit)
    {
        var texts = p.GetValue(text)!.ToList();
        if (p.GetValue(input) is string file)
        {
            if (!File.Exists(file))
                throw new SharpLMException($"--input '{file}' does not exist; give a text file with one {unit} per line.");
            texts.AddRange(File.ReadAllLines(file).Where(l => l.Trim().Length > 0));
        }
        if (texts.Count == 0)
            throw new SharpLMException($"Nothing to {what}; give --text or an --input file with at least one line.");
        return texts;
    }
}
