using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace SharpLM.Tests;

/// <summary>
/// Runs the real `sharplm` executable (built next to the tests) as a child process: for what only a separate process
/// shows — a working directory of its own, file locks between processes, and SIGKILL at any moment.
/// </summary>
public static class CliProcess
{
    public sealed record Result(int Code, string Out, string Err);

    /// <summary>The benchmarks' executable, built next to the tests too; pass as <c>program</c>.</summary>
    public const string Bench = "sharplm-bench";

    public static ProcessStartInfo StartInfo(
        IEnumerable<string> args,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null,
        string program = "sharplm"
    )
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Directory.GetCurrentDirectory(),
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, program + ".dll"));
        foreach (var a in args)
            info.ArgumentList.Add(a);
        info.Environment["SHARPLM_DATA_DIR"] = TestData.Catalog.CacheDir; // the suite's own cache
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
            info.Environment[k] = v;
        return info;
    }

    /// <summary>A started process whose output is collected in the background.</summary>
    public sealed class Running : IDisposable
    {
        readonly StringBuilder _out = new(),
            _err = new();
        public Process Process { get; }

        public Running(ProcessStartInfo info)
        {
            Process = new Process { StartInfo = info };
            Process.OutputDataReceived += (_, e) =>
            {
                if (e.Data != null)
                    lock (_out)
                        _out.AppendLine(e.Data);
            };
            Process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data != null)
                    lock (_err)
                        _err.AppendLine(e.Data);
            };
            Process.Start();
            Process.BeginOutputReadLine();
            Process.BeginErrorReadLine();
        }

        public string Out
        {
            get
            {
                lock (_out)
                    return _out.ToString();
            }
        }

        /// <summary>Waits until standard output has a line starting with <paramref name="prefix"/>, and returns it.</summary>
        public async Task<string> WaitForLineAsync(string prefix, TimeSpan timeout)
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < timeout)
            {
                if (Out.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal)) is string line)
                    return line.TrimEnd('\r');
                if (Process.HasExited)
                    break;
                await Task.Delay(50);
            }
            throw new TimeoutException($"no line starting with '{prefix}' within {timeout}; stdout: {Out}; stderr: {Err}");
        }

        /// <summary>SIGTERM, as systemd or docker stop send it.</summary>
        public void Terminate() => Process.Start("kill", ["-TERM", Process.Id.ToString()])!.WaitForExit();

        public string Err
        {
            get
            {
                lock (_err)
                    return _err.ToString();
            }
        }

        public async Task<Result> WaitAsync(TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                await Process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                Process.Kill(entireProcessTree: true);
                throw new TimeoutException($"sharplm did not finish within {timeout}: {Err}");
            }
            Process.WaitForExit(); // flushes the asynchronous output readers
            lock (_out)
                lock (_err)
                    return new Result(Process.ExitCode, _out.ToString(), _err.ToString());
        }

        /// <summary>SIGKILL: no handler runs, nothing is flushed.</summary>
        public void Kill()
        {
            try
            {
                Process.Kill();
            }
            catch (InvalidOperationException) { }
        }

        public void Dispose()
        {
            Kill();
            Process.Dispose();
        }
    }

    public static Running Start(
        IEnumerable<string> args,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null,
        string program = "sharplm"
    ) => new(StartInfo(args, workingDirectory, environment, program));

    public static async Task<Result> RunAsync(
        IEnumerable<string> args,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null,
        TimeSpan? timeout = null,
        string program = "sharplm"
    )
    {
        using var p = Start(args, workingDirectory, environment, program);
        return await p.WaitAsync(timeout ?? TimeSpan.FromMinutes(5));
    }

    /// <summary>
    /// Every file and folder under <paramref name="root"/> (links not followed) with a digest of each file, to prove nothing changed.
    /// </summary>
    public static SortedDictionary<string, string> Snapshot(string root)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var info = new DirectoryInfo(root);
        if (!info.Exists)
        {
            result[""] = File.Exists(root) ? Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(root))) : "(absent)";
            return result;
        }
        void Walk(DirectoryInfo dir)
        {
            foreach (var e in dir.EnumerateFileSystemInfos())
            {
                string rel = Path.GetRelativePath(root, e.FullName);
                if (e.LinkTarget is not null)
                    result[rel] = "link → " + e.LinkTarget;
                else if (e is DirectoryInfo d)
                {
                    result[rel] = "dir";
                    Walk(d);
                }
                else
                    result[rel] = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(e.FullName)));
            }
        }
        Walk(info);
        return result;
    }
}
