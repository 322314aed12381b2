using SharpLM.Cli;
using SharpLM.IO;

namespace SharpLM.Tests;

/// <summary>
/// The data-safety rule: a command replaces only a folder it wrote itself (or an empty one); a folder with a user's
/// files, the working directory, a file and a symbolic link are refused with one line, and every byte of the user's
/// stays where it was.
/// </summary>
[Collection(TorchCollection.Name)]
public class DataSafetyTests
{
    /// <summary>A labelled CSV small enough that refusals come back in a moment.</summary>
    static string LabelledCsv()
    {
        string path = Path.Combine(TestData.TempDir(), "labelled.csv");
        File.WriteAllLines(
            path,
            [
                "text,label",
                .. Enumerable.Range(0, 40).Select(i => $"text number {i} {(i % 2 == 0 ? "good" : "bad")},{(i % 2 == 0 ? "pos" : "neg")}"),
            ]
        );
        return path;
    }

    static string Corpus()
    {
        string path = Path.Combine(TestData.TempDir(), "corpus.txt");
        File.WriteAllText(path, string.Concat(Enumerable.Repeat("the cat sat on the mat. ", 200)));
        return path;
    }

    /// <summary>Every command that writes a folder: its arguments for an output path, and where inside that path it writes.</summary>
    public static TheoryData<string> Commands =>
        new() { "prepare", "quickstart", "bench-classify", "tune", "train", "finetune", "data-split", "tokenizer-train" };

    static async Task<string[]> Arguments(string command, string output) =>
        command switch
        {
            "prepare" => ["prepare", "--input", Corpus(), "--tokenizer", "char", "--output", output],
            "quickstart" => ["quickstart", "--output", output, "--max-steps", "1"],
            "bench-classify" =>
            [
                "classify",
                "--data",
                LabelledCsv(),
                "--tokenizer",
                "gpt2",
                "--architecture",
                "gpt2",
                "--max-steps",
                "1",
                "--output",
                output,
            ],
            "tune" =>
            [
                "tune",
                "--data",
                LabelledCsv(),
                "--tokenizer",
                "gpt2",
                "--architecture",
                "gpt2",
                "--folds",
                "2",
                "--output",
                output,
            ],
            "train" =>
            [
                "train",
                "--data",
                await TrainingTests.PreparedData(string.Concat(Enumerable.Repeat("abc abd. ", 200))),
                "--preset",
                "tiny",
                "--max-steps",
                "2",
                "--output",
                output,
            ],
            "finetune" =>
            [
                "finetune",
                "--data",
                LabelledCsv(),
                "--tokenizer",
                "gpt2",
                "--architecture",
                "gpt2",
                "--max-steps",
                "1",
                "--output",
                output,
            ],
            "data-split" => ["data", "split", "--data", LabelledCsv(), "--output", output],
            "tokenizer-train" => ["tokenizer", "train", "--input", Corpus(), "--vocab-size", "300", "--output", output],
            _ => throw new ArgumentException(command),
        };

    /// <summary>quickstart writes data/ and run/ inside its --output; the others write --output itself.</summary>
    static string WrittenFolder(string command, string output) => command == "quickstart" ? Path.Combine(output, "data") : output;

    /// <summary>A user's folder: a text file and a nested binary file.</summary>
    static string UserFolder(string? at = null)
    {
        string dir = at ?? TestData.TempDir();
        Directory.CreateDirectory(Path.Combine(dir, "nested"));
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "my notes\n");
        File.WriteAllBytes(Path.Combine(dir, "nested", "photo.bin"), Enumerable.Range(0, 4096).Select(i => (byte)(i * 7)).ToArray());
        return dir;
    }

    static Task<(int Code, string Out, string Err)> Run(params string[] args) => Cli.Run(args);

    /// <summary>Runs a command in-process: the benchmarks' through their own executable's commands, the rest through sharplm's.</summary>
    static Task<(int Code, string Out, string Err)> Run(string command, string[] args) =>
        command.StartsWith("bench-") ? Cli.RunBench(args) : Cli.Run(args);

    static string Program(string command) => command.StartsWith("bench-") ? CliProcess.Bench : "sharplm";

    static void AssertRefused(int code, string err, string expected)
    {
        Assert.True(code == 1, $"exit {code}: {err}");
        Assert.Contains(expected, err);
        Assert.Single(err.TrimEnd().Split('\n')); // one line
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task AFolderWithTheUsersFilesIsRefused(string command)
    {
        string output = TestData.TempDir();
        UserFolder(WrittenFolder(command, output));
        var before = CliProcess.Snapshot(output);
        var r = await Run(command, await Arguments(command, output));
        AssertRefused(r.Code, r.Err, "holds files that SharpLM did not write (e.g. 'nested')");
        Assert.Equal(before, CliProcess.Snapshot(output));
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task TheWorkingDirectoryIsRefused(string command)
    {
        string cwd = TestData.TempDir();
        UserFolder(WrittenFolder(command, cwd));
        var before = CliProcess.Snapshot(cwd);
        var r = await CliProcess.RunAsync(await Arguments(command, "."), workingDirectory: cwd, program: Program(command));
        AssertRefused(r.Code, r.Err, "holds files that SharpLM did not write");
        Assert.Equal(before, CliProcess.Snapshot(cwd));
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task AFileIsRefused(string command)
    {
        string file = Path.Combine(TestData.TempDir(), "precious.txt");
        File.WriteAllText(file, "do not touch\n");
        var r = await Run(command, await Arguments(command, file));
        AssertRefused(r.Code, r.Err, "is a file, not a folder");
        Assert.Equal("do not touch\n", File.ReadAllText(file));
        Assert.Single(Directory.GetFileSystemEntries(Path.GetDirectoryName(file)!));
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task ASymbolicLinkToAFolderIsRefused(string command)
    {
        string target = TestData.TempDir();
        UserFolder(WrittenFolder(command, target));
        string link = Path.Combine(TestData.TempDir(), "link");
        Directory.CreateSymbolicLink(link, target);
        var before = CliProcess.Snapshot(target);
        var r = await Run(command, await Arguments(command, link));
        Assert.Equal(1, r.Code);
        Assert.Single(r.Err.TrimEnd().Split('\n'));
        Assert.Equal(before, CliProcess.Snapshot(target));
        Assert.Equal(target, new DirectoryInfo(link).LinkTarget);
    }

    [Fact]
    public async Task PrepareReplacesItsOwnFolderAndFillsAnEmptyOne()
    {
        string corpus = Corpus();
        string empty = Directory.CreateDirectory(Path.Combine(TestData.TempDir(), "data")).FullName;
        Assert.Equal(0, (await Run("prepare", "--input", corpus, "--tokenizer", "char", "--output", empty)).Code);
        Assert.Equal("prepared-data", OutputFolder.MarkerKind(empty));
        var first = File.ReadAllBytes(Path.Combine(empty, "train_000000.bin"));
        // Its own folder is replaced (here with another split), and nothing is left beside it.
        Assert.Equal(0, (await Run("prepare", "--input", corpus, "--tokenizer", "char", "--output", empty, "--val-fraction", "0.5")).Code);
        Assert.NotEqual(first.Length, File.ReadAllBytes(Path.Combine(empty, "train_000000.bin")).Length);
        Assert.Single(Directory.GetFileSystemEntries(Path.GetDirectoryName(empty)!));

        // A file the user put into SharpLM's folder makes it the user's: refused, and kept.
        File.WriteAllText(Path.Combine(empty, "mine.txt"), "mine");
        var r = await Run("prepare", "--input", corpus, "--tokenizer", "char", "--output", empty);
        AssertRefused(r.Code, r.Err, "'mine.txt'");
        Assert.Equal("mine", File.ReadAllText(Path.Combine(empty, "mine.txt")));

        // Another kind of SharpLM folder is not taken for this one.
        File.Delete(Path.Combine(empty, "mine.txt"));
        var wrongKind = await Run("data", "split", "--data", LabelledCsv(), "--output", empty);
        AssertRefused(wrongKind.Code, wrongKind.Err, "is a SharpLM prepared-data folder, not a labelled-data split folder");
    }

    [Fact]
    public void FoldersWrittenBeforeMarkersExistedAreStillRecognised()
    {
        string legacy = TestData.TempDir();
        File.WriteAllText(Path.Combine(legacy, "summary.json"), "{}");
        File.WriteAllText(Path.Combine(legacy, "train_000000.bin"), "");
        Assert.Equal(FolderState.Owned, OutputFolder.Inspect(legacy, FolderKind.PreparedData));
        File.WriteAllText(Path.Combine(legacy, "README"), "");
        Assert.Throws<SharpLMException>(() => OutputFolder.Inspect(legacy, FolderKind.PreparedData));
    }

    [Fact]
    public async Task TrainingWithOverwriteStartsOverOnlyInItsOwnRunFolder()
    {
        string data = await TrainingTests.PreparedData(string.Concat(Enumerable.Repeat("abc abd. ", 200)));
        string run = Path.Combine(TestData.TempDir(), "run");
        string[] args =
        [
            "train",
            "--data",
            data,
            "--preset",
            "tiny",
            "--max-steps",
            "4",
            "--eval-interval",
            "2",
            "--output",
            run,
            "--json",
        ];
        Assert.Equal(0, (await Run(args)).Code);
        var again = await Run(args);
        AssertRefused(again.Code, again.Err, "already holds a run");
        Assert.Equal(0, (await Run([.. args, "--overwrite"])).Code);
        File.WriteAllText(Path.Combine(run, "notes.txt"), "mine");
        var r = await Run([.. args, "--overwrite"]);
        AssertRefused(r.Code, r.Err, "'notes.txt'");
        Assert.True(File.Exists(Path.Combine(run, "checkpoint", "state.json")));
    }

    [Fact]
    public async Task ASecondTrainingProcessOnTheSameRunIsRefusedAndAKilledOneLeavesNoStaleLock()
    {
        string data = await TrainingTests.PreparedData(string.Concat(Enumerable.Repeat("abc abd. ", 200)));
        string run = Path.Combine(TestData.TempDir(), "run");
        using var first = CliProcess.Start([
            "train",
            "--data",
            data,
            "--preset",
            "tiny",
            "--max-steps",
            "1000000",
            "--eval-interval",
            "5",
            "--output",
            run,
            "--threads",
            "1",
        ]);
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (!File.Exists(Path.Combine(run, "checkpoint", "state.json")))
        {
            Assert.True(DateTime.UtcNow < deadline && !first.Process.HasExited, first.Err);
            await Task.Delay(100);
        }
        var second = await CliProcess.RunAsync(["train", "--output", run, "--resume", "--max-steps", "10"]);
        AssertRefused(second.Code, second.Err, "is in use by another SharpLM process (training)");
        var inProcess = await Run("train", "--data", data, "--preset", "tiny", "--output", run, "--overwrite");
        AssertRefused(inProcess.Code, inProcess.Err, "is in use by another SharpLM process");

        first.Kill();
        await first.Process.WaitForExitAsync();
        // The OS dropped the lock with the process: a resume goes ahead at once.
        int step = Training.CheckpointState.Load(Path.Combine(run, "checkpoint", "state.json")).Step;
        var resumed = await CliProcess.RunAsync(["train", "--output", run, "--resume", "--max-steps", (step + 3).ToString(), "--json"]);
        Assert.True(resumed.Code == 0, resumed.Err);
    }
}
