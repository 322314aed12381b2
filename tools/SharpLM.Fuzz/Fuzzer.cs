using System.Diagnostics;

namespace SharpLM.Fuzz;

/// <summary>What one parser did with its inputs.</summary>
public sealed record ParserReport(
    string Parser,
    int Inputs,
    int Loaded,
    int Rejected,
    int Crashes,
    int Hangs,
    double SlowestSeconds,
    double InputsPerSecond,
    long PeakWorkingSetMb,
    IReadOnlyList<string> Failures
);

/// <summary>
/// Runs mutated inputs through a target and sorts the outcomes: loaded, rejected with a <see cref="SharpLMException"/>
/// (the one-line error the CLI prints), crashed (any other exception), or hung (slower than the hang limit). Failing
/// inputs are written to the work folder so that they can be replayed.
/// </summary>
public static class Fuzzer
{
    public static ParserReport Run(
        FuzzTarget target,
        int inputs,
        int seed,
        string workDir,
        TimeSpan hangLimit,
        IProgress<string>? progress = null
    )
    {
        var mutator = new Mutator(seed);
        string inputDir = Path.Combine(workDir, $"input-{Sanitize(target.Name)}");
        Directory.CreateDirectory(inputDir);
        string path = Path.Combine(inputDir, target.FileName);
        int loaded = 0,
            rejected = 0,
            crashes = 0,
            hangs = 0;
        double slowest = 0;
        long peak = 0;
        var failures = new List<string>();
        var clock = Stopwatch.StartNew();
        // A watchdog for a true infinite loop, which a time measurement after the fact would never see end.
        var current = Stopwatch.StartNew();
        int running = 0;
        using var watchdog = new Timer(
            _ =>
            {
                if (Volatile.Read(ref running) == 1 && current.Elapsed > TimeSpan.FromSeconds(60))
                {
                    File.Copy(path, Path.Combine(workDir, $"hang-{Sanitize(target.Name)}.bin"), overwrite: true);
                    Environment.FailFast(
                        $"fuzz: {target.Name} ran an input for over 60 s (saved as hang-{Sanitize(target.Name)}.bin in {workDir})"
                    );
                }
            },
            null,
            1000,
            1000
        );

        for (int i = 0; i < inputs; i++)
        {
            byte[] input = i < target.Seeds.Count ? target.Seeds[i] : FuzzTargets.Mutate(target, mutator);
            File.WriteAllBytes(path, input);
            current.Restart();
            Volatile.Write(ref running, 1);
            string? failure = null;
            try
            {
                target.Run(path);
                loaded++;
            }
            catch (SharpLMException)
            {
                rejected++;
            }
            catch (Exception e)
            {
                crashes++;
                failure = $"crash: {e.GetType().Name}: {e.Message.Split('\n')[0]} at {e.StackTrace?.Split('\n').FirstOrDefault()?.Trim()}";
            }
            Volatile.Write(ref running, 0);
            double seconds = current.Elapsed.TotalSeconds;
            slowest = Math.Max(slowest, seconds);
            if (seconds > hangLimit.TotalSeconds)
            {
                hangs++;
                failure ??= $"hang: {seconds:F1} s";
            }
            if (failure is not null)
            {
                string saved = Path.Combine(workDir, $"failure-{Sanitize(target.Name)}-{failures.Count}.bin");
                File.WriteAllBytes(saved, input);
                if (failures.Count < 20)
                    failures.Add($"{failure} (input {i}, saved as {saved})");
            }
            if (i % 256 == 0)
            {
                peak = Math.Max(peak, Environment.WorkingSet);
                progress?.Report($"{target.Name}: {i}/{inputs}, {crashes} crashes, {hangs} hangs");
            }
        }
        peak = Math.Max(peak, Environment.WorkingSet);
        return new ParserReport(
            target.Name,
            inputs,
            loaded,
            rejected,
            crashes,
            hangs,
            slowest,
            inputs / Math.Max(1e-9, clock.Elapsed.TotalSeconds),
            peak >> 20,
            failures
        );
    }

    static string Sanitize(string name) => new(name.Select(c => char.IsLetterOrDigit(c) ? c : '-').ToArray());
}
