using System.Text.Json.Nodes;
using SharpLM.Runtime;

namespace SharpLM.Tests;

/// <summary>
/// Training survives SIGKILL at any moment: a real `sharplm train` is killed again and again — at every step of a
/// checkpoint write (fail points) and at seeded random times — and resumed each time; the final checkpoint is byte for
/// byte the one an uninterrupted run writes.
/// </summary>
[Collection(TorchCollection.Name)]
public class CrashSafetyTests
{
    static readonly string[] CheckpointFailPoints =
    [
        "checkpoint.weights-written",
        "checkpoint.optimizer-written",
        "checkpoint.state-written",
        "checkpoint.moved-aside",
        "checkpoint.swapped",
        "atomic-write.before-rename",
    ];

    [Fact]
    public async Task KilledRunsResumeToTheSameBytesAsAnUninterruptedOne()
    {
        string data = await TrainingTests.PreparedData(string.Concat(Enumerable.Repeat("the cat sat on the mat. ", 400)));
        // Dropout and accumulation exercise every random draw; one thread keeps the arithmetic identical across processes.
        string[] settings =
        [
            "--data",
            data,
            "--preset",
            "tiny",
            "--max-steps",
            "60",
            "--eval-interval",
            "10",
            "--dropout",
            "0.1",
            "--grad-accumulation",
            "2",
            "--threads",
            "1",
        ];
        string straight = Path.Combine(TestData.TempDir(), "run");
        var reference = await CliProcess.RunAsync(["train", .. settings, "--output", straight]);
        Assert.True(reference.Code == 0, reference.Err);

        string run = Path.Combine(TestData.TempDir(), "run");
        var rng = new Random(20261130);
        var plan = CheckpointFailPoints
            .Select(p => (Point: p, At: rng.Next(1, 4), Delay: 0.0))
            .Concat(Enumerable.Range(0, 3).Select(_ => (Point: "", At: 0, Delay: 1.0 + 2.5 * rng.NextDouble())))
            .ToList();
        int kills = 0,
            saved = 0;
        foreach (var (point, at, delay) in plan)
        {
            var env = point.Length > 0 ? new Dictionary<string, string> { [FailPoint.EnvironmentVariable] = $"{point}@{at}" } : null;
            using var child = CliProcess.Start(Next(run, settings), environment: env);
            AssertResumesFrom(child, saved);
            if (delay > 0)
            {
                await Task.WhenAny(child.Process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(delay)));
                child.Kill();
            }
            var r = await child.WaitAsync(TimeSpan.FromMinutes(3));
            if (r.Code == 0)
                break; // the run finished before this kill
            Assert.True(r.Code == 137, $"{point}@{at}: exit {r.Code}, expected SIGKILL (137): {r.Err}");
            kills++;
            saved = Math.Max(SavedStep(run, "checkpoint"), SavedStep(run, "checkpoint.old")); // the last complete checkpoint
        }
        Assert.True(kills >= CheckpointFailPoints.Length, $"only {kills} kills landed");
        for (int attempt = 0; attempt < 3 && !Finished(run); attempt++)
        {
            var r = await CliProcess.RunAsync(Next(run, settings));
            Assert.True(r.Code == 0, r.Err);
        }

        foreach (var file in new[] { "checkpoint/model.safetensors", "checkpoint/optimizer.safetensors", "model.safetensors" })
            Assert.True(
                File.ReadAllBytes(Path.Combine(straight, file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(run, file))),
                $"{file} differs after {kills} kills"
            );
        Assert.Equal(State(straight), State(run));
        Assert.False(Directory.Exists(Path.Combine(run, "checkpoint.tmp")) && Directory.Exists(Path.Combine(run, "checkpoint.old")));
        Assert.Empty(Directory.GetFiles(run, "*.tmp-*"));
    }

    /// <summary>The step of a complete checkpoint in <paramref name="folder"/> (state.json is written last), or 0.</summary>
    static int SavedStep(string run, string folder)
    {
        string state = Path.Combine(run, folder, "state.json");
        return File.Exists(state) ? Training.CheckpointState.Load(state).Step : 0;
    }

    /// <summary>A resumed process starts from the last complete checkpoint: no more work is lost than since then.</summary>
    static void AssertResumesFrom(CliProcess.Running child, int saved)
    {
        if (saved == 0)
            return;
        var deadline = DateTime.UtcNow.AddMinutes(1);
        System.Text.RegularExpressions.Match m;
        while (!(m = System.Text.RegularExpressions.Regex.Match(child.Err, @"resuming from step (\d+)")).Success)
        {
            if (child.Process.HasExited)
                child.Process.WaitForExit(); // let the output readers catch up, then look once more
            Assert.True(
                DateTime.UtcNow < deadline && !(child.Process.HasExited && !child.Err.Contains("resuming from step")),
                $"no 'resuming from step' line: {child.Err}"
            );
            Thread.Sleep(20);
        }
        Assert.True(int.Parse(m.Groups[1].Value) >= saved, $"resumed from step {m.Groups[1].Value}, but step {saved} had been saved");
    }

    /// <summary>Resume when the run has recorded its settings, else start it (it was killed before writing them).</summary>
    static string[] Next(string run, string[] settings) =>
        File.Exists(Path.Combine(run, "training.json"))
            ? ["train", "--output", run, "--resume", "--threads", "1"]
            : ["train", .. settings, "--output", run];

    static bool Finished(string run) =>
        File.Exists(Path.Combine(run, "checkpoint", "state.json"))
        && Training.CheckpointState.Load(Path.Combine(run, "checkpoint", "state.json")).Step == 60
        && File.Exists(Path.Combine(run, "metrics.json"));

    /// <summary>state.json without the wall-clock seconds, the one field that legitimately differs.</summary>
    static string State(string run)
    {
        var state = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "checkpoint", "state.json")))!.AsObject();
        state.Remove("seconds");
        return state.ToJsonString();
    }
}
