using System.Diagnostics;
using System.Text.Json.Nodes;
using SharpLM.IO;
using static TorchSharp.torch;

namespace SharpLM.Tests;

/// <summary>
/// Data-parallel training over real MPI processes (MPICH's mpiexec; .ci/run installs Debian's mpich): two ranks with
/// batch B must train as one process with batch 2B, keep identical replicas, reproduce bit for bit with
/// --deterministic-reduce, and survive a rank's death through --resume.
/// </summary>
[Collection(TorchCollection.Name)]
public class DistributedTests
{
    static string MpiExec =>
        new[] { "/usr/bin/mpiexec", "/usr/local/bin/mpiexec" }.FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException("mpiexec is missing: install MPICH (apt-get install mpich), as .ci/run does.");

    /// <summary>`mpiexec -n <paramref name="ranks"/> sharplm ...` (ranks 0: plain sharplm), with its exit code and output.</summary>
    static ProcessStartInfo Start(int ranks, IEnumerable<string> args)
    {
        var info = CliProcess.StartInfo(args);
        if (ranks == 0)
            return info;
        var mpi = new ProcessStartInfo(MpiExec)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = info.WorkingDirectory,
        };
        foreach (var a in new[] { "-n", ranks.ToString(), "dotnet" }.Concat(info.ArgumentList))
            mpi.ArgumentList.Add(a);
        foreach (var (k, v) in info.Environment)
            mpi.Environment[k] = v;
        return mpi;
    }

    static async Task<CliProcess.Result> Run(int ranks, params string[] args)
    {
        using var running = new CliProcess.Running(Start(ranks, args));
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await running.Process.WaitForExitAsync(timeout.Token);
        return new CliProcess.Result(running.Process.ExitCode, running.Out, running.Err);
    }

    static string[] Training(string data, string output, int batch, int steps, params string[] extra) =>
        [
            "train",
            "--data",
            data,
            "--output",
            output,
            "--preset",
            "tiny",
            "--batch-size",
            batch.ToString(),
            "--max-steps",
            steps.ToString(),
            "--eval-interval",
            "10",
            "--log-interval",
            "1",
            "--dropout",
            "0",
            "--warmup-steps",
            "0",
            "--json",
            .. extra,
        ];

    static Task<string> Data() => TrainingTests.PreparedData(string.Concat(Enumerable.Repeat(ServingModels.Text, 60)));

    static Dictionary<string, float[]> Weights(string run)
    {
        var file = Safetensors.File.Open(Path.Combine(run, "checkpoint", "model.safetensors"));
        using var scope = NewDisposeScope();
        return file.Entries.Keys.ToDictionary(k => k, k => file.Read(k).data<float>().ToArray());
    }

    static double[] TrainLosses(string run) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(run, "checkpoint", "state.json")))!["history"]!
            .AsArray()
            .Where(h => h!["train_loss"] is not null && h["val_loss"] is null)
            .Select(h => (double)h!["train_loss"]!)
            .ToArray();

    static string[] Digests(string err) =>
        err.Split('\n').Where(l => l.Contains("weights digest")).Select(l => l.Trim().Split(' ')[^1]).ToArray();

    [Fact]
    public async Task TwoRanksTrainAsOneProcessWithTheDoubledBatch()
    {
        string data = await Data();
        string dir = TestData.TempDir();
        string one = Path.Combine(dir, "one"),
            two = Path.Combine(dir, "two");
        // SGD: Adam divides each step by the gradient's own scale, which turns rounding-level differences of a gradient
        // that is zero in exact arithmetic (attention's key bias) into full-size steps; SGD keeps them rounding-sized.
        string[] sgd = ["--optimizer", "sgd", "--lr", "0.05"];
        var single = await Run(0, [.. Training(data, one, 8, 20, sgd), "--threads", "1"]);
        Assert.True(single.Code == 0, single.Err);
        var parallel = await Run(2, [.. Training(data, two, 4, 20, sgd), "--distributed", "mpi"]);
        Assert.True(parallel.Code == 0, parallel.Err);

        var (a, b) = (TrainLosses(one), TrainLosses(two));
        Assert.Equal(20, a.Length);
        Assert.All(a.Zip(b), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-5 * Math.Abs(p.First), $"{p.First} vs {p.Second}"));
        var (wa, wb) = (Weights(one), Weights(two));
        foreach (var (name, x) in wa)
            Assert.All(
                x.Zip(wb[name]),
                p =>
                    Assert.True(
                        Math.Abs(p.First - p.Second) <= 1e-5 * Math.Max(Math.Abs(p.First), 1e-2),
                        $"{name}: {p.First} vs {p.Second}"
                    )
            );
        // Both ranks hold the same replica (each prints its digest; the trainer also checks them against each other).
        var digests = Digests(parallel.Err);
        Assert.Equal(2, digests.Length);
        Assert.Equal(digests[0], digests[1]);
        // Rank 0 alone reported and wrote the run.
        Assert.Single(parallel.Out.Trim().Split('\n'));
        Assert.Equal(20, (int)JsonNode.Parse(parallel.Out)!["steps"]!);
        Assert.Equal(20L * 8 * 32, (long)JsonNode.Parse(parallel.Out)!["tokens"]!);
    }

    [Fact]
    public async Task DeterministicReduceIsBitReproducibleAndAKilledRankResumes()
    {
        string data = await Data();
        string dir = TestData.TempDir();
        string first = Path.Combine(dir, "first"),
            second = Path.Combine(dir, "second"),
            killed = Path.Combine(dir, "killed");
        string[] flags = ["--distributed", "mpi", "--deterministic-reduce"];
        const int Steps = 300;
        Assert.Equal(0, (await Run(2, [.. Training(data, first, 4, Steps, flags)])).Code);
        Assert.Equal(0, (await Run(2, [.. Training(data, second, 4, Steps, flags)])).Code);
        static byte[] Final(string run) => File.ReadAllBytes(Path.Combine(run, "checkpoint", "model.safetensors"));
        Assert.Equal(Final(first), Final(second));

        // The same run again; one rank dies with SIGKILL once a checkpoint is written.
        int reached;
        using (var running = new CliProcess.Running(Start(2, [.. Training(data, killed, 4, Steps, flags), "--collective-timeout", "20"])))
        {
            var clock = Stopwatch.StartNew();
            while (CheckpointStep(killed) < 10)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), "the run never reached step 10: " + running.Err);
                await Task.Delay(20);
            }
            Process.GetProcessById(RankProcesses(killed).Last()).Kill();
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await running.Process.WaitForExitAsync(limit.Token); // the other rank does not wait forever
            reached = CheckpointStep(killed);
            Assert.True(running.Process.ExitCode != 0 || reached == Steps, running.Err);
        }
        Assert.Empty(RankProcesses(killed));
        Assert.True(reached < Steps, $"the run finished ({reached} steps) before a rank could be killed");
        // Resumed on the same two ranks, it ends with the uninterrupted run's weights, bit for bit.
        var resumed = await Run(2, ["train", "--output", killed, "--resume", .. flags]);
        Assert.True(resumed.Code == 0, resumed.Err);
        Assert.Equal(Final(first), Final(killed));
        // Resuming on another number of processes is refused: it could not continue exactly.
        var single = await Run(0, "train", "--output", killed, "--resume", "--max-steps", "100000");
        Assert.Equal(1, single.Code);
        Assert.Contains("mpiexec -n 2", single.Err);
    }

    [Fact]
    public async Task AHungRankMakesTheOthersFailAfterTheCollectiveTimeout()
    {
        string data = await Data();
        string run = Path.Combine(TestData.TempDir(), "hung");
        using var running = new CliProcess.Running(
            Start(2, [.. Training(data, run, 4, 100_000, "--distributed", "mpi"), "--collective-timeout", "3"])
        );
        var clock = Stopwatch.StartNew();
        while (CheckpointStep(run) < 10)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), "the run never reached step 10: " + running.Err);
            await Task.Delay(20);
        }
        // SIGSTOP: the rank neither answers nor dies, so only the timeout can end the wait.
        int hung = RankProcesses(run).Last();
        try
        {
            using (var stop = Process.Start("kill", ["-STOP", hung.ToString()]))
                await stop.WaitForExitAsync();
            var waited = Stopwatch.StartNew();
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await running.Process.WaitForExitAsync(limit.Token);
            Assert.NotEqual(0, running.Process.ExitCode);
            Assert.Contains("waited 3 s for the other ranks", running.Err);
            Assert.Contains("--resume", running.Err);
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30), $"ended after {waited.Elapsed}");
            // mpiexec has signalled the stopped rank to end; once it runs again, it does.
            using (var resume = Process.Start("kill", ["-CONT", hung.ToString()]))
                await resume.WaitForExitAsync();
            var gone = Stopwatch.StartNew();
            while (RankProcesses(run).Count > 0 && gone.Elapsed < TimeSpan.FromSeconds(20))
                await Task.Delay(100);
            Assert.Empty(RankProcesses(run));
        }
        finally
        {
            foreach (int pid in RankProcesses(run)) // never leave a stopped rank behind
                Process.GetProcessById(pid).Kill();
        }
    }

    static int CheckpointStep(string run)
    {
        try
        {
            return (int)JsonNode.Parse(File.ReadAllText(Path.Combine(run, "checkpoint", "state.json")))!["step"]!;
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException or FileNotFoundException or DirectoryNotFoundException)
        {
            return -1;
        }
    }

    /// <summary>The sharplm processes training <paramref name="run"/>, in start order (rank 0 first, as mpiexec starts them).</summary>
    static List<int> RankProcesses(string run) =>
        Directory
            .EnumerateDirectories("/proc")
            .Select(d => (Dir: d, Pid: int.TryParse(Path.GetFileName(d), out int pid) ? pid : -1))
            .Where(p => p.Pid > 0)
            .Select(p =>
            {
                try
                {
                    return (p.Pid, Command: File.ReadAllText(Path.Combine(p.Dir, "cmdline")).Replace('\0', ' '));
                }
                catch (IOException)
                {
                    return (p.Pid, Command: "");
                }
            })
            .Where(p => p.Command.Contains("sharplm.dll") && p.Command.Contains(run) && !p.Command.Contains("mpiexec"))
            .OrderBy(p => p.Pid)
            .Select(p => p.Pid)
            .ToList();

    [Fact]
    public async Task DistributedFineTuningTrainsOnEveryRankAndReportsOnce()
    {
        var (dir, csv, tok) = await FineTuningCliTests.ToyCsvFiles();
        string output = Path.Combine(dir, "dp-classifier");
        var r = await Run(2, FineTuningCliTests.ToyFineTune(csv, output, "--tokenizer", tok, "--batch-size", "8", "--distributed", "mpi"));
        Assert.True(r.Code == 0, r.Err);
        var report = JsonNode.Parse(r.Out)!;
        Assert.True((double)report["test"]!["accuracy"]! > 0.9, r.Out);
        Assert.True(File.Exists(Path.Combine(output, "test_report.json")));
    }

    [Fact]
    public async Task DistributedMistakesAreOneLine()
    {
        string data = await Data();
        string dir = TestData.TempDir();
        var deterministic = await Run(0, [.. Training(data, Path.Combine(dir, "a"), 4, 2), "--deterministic-reduce"]);
        Assert.Equal(1, deterministic.Code);
        Assert.Contains("--deterministic-reduce applies to --distributed mpi", deterministic.Err);
        var lstm = await Run(2, [.. Training(data, Path.Combine(dir, "b"), 4, 2), "--model", "lstm", "--distributed", "mpi"]);
        Assert.Equal(1, lstm.Code);
        Assert.Contains("distributed training runs GPT language-model pretraining and classification fine-tuning", lstm.Err);
    }
}
