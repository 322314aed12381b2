namespace SharpLM.Training;

/// <summary>
/// The files of a training run. The root is a Hugging Face-style model folder (config.json,
/// model.safetensors = best weights by validation loss, tokenizer.json); checkpoint/ holds the latest
/// state for resuming; logs/ holds TensorBoard events; loss.png the curves.
/// </summary>
public sealed class RunFolder(string path)
{
    public string Path { get; } = System.IO.Path.GetFullPath(path);
    public string Config => System.IO.Path.Combine(Path, "config.json");
    public string Weights => System.IO.Path.Combine(Path, "model.safetensors");
    public string Tokenizer => System.IO.Path.Combine(Path, "tokenizer.json");
    public string Training => System.IO.Path.Combine(Path, "training.json");
    public string Data => System.IO.Path.Combine(Path, "data.txt");
    public string Checkpoint => System.IO.Path.Combine(Path, "checkpoint");
    public string Logs => System.IO.Path.Combine(Path, "logs");
    public string Plot => System.IO.Path.Combine(Path, "loss.png");
    public string Metrics => System.IO.Path.Combine(Path, "metrics.json");

    /// <summary>
    /// Throws a one-line error unless the folder has model.safetensors or Hugging Face's sharded index of it. Pickled
    /// PyTorch weights are refused by name: unpickling can run code the file carries.
    /// </summary>
    public void RequireWeights()
    {
        if (IO.Safetensors.File.Exists(Weights))
            return;
        string[] pickled = ["pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt", "model.pth"];
        if (pickled.FirstOrDefault(f => File.Exists(System.IO.Path.Combine(Path, f))) is string found)
            throw new SharpLMException(
                $"{Path} has only {found}, a pickled PyTorch file, which SharpLM does not read (loading a pickle can run code it "
                    + "carries); convert it to model.safetensors first (transformers: save_pretrained(safe_serialization=True))."
            );
        throw new SharpLMException(
            $"{Path} has no model.safetensors; the run has not finished its first evaluation yet, or it is not a model folder."
        );
    }

    public bool HasCheckpoint => File.Exists(System.IO.Path.Combine(Checkpoint, CheckpointState.FileName));

    /// <summary>The data folder the run was trained on (recorded in data.txt), unless <paramref name="overrideDir"/> is given.</summary>
    public string DataDir(string? overrideDir = null) =>
        overrideDir
        ?? (
            File.Exists(Data)
                ? File.ReadAllText(Data).Trim()
                : throw new SharpLMException($"{Path} does not record its data folder; give the data folder to use.")
        );

    /// <summary>If a crash hit between the two renames of a checkpoint swap, puts the previous checkpoint back.</summary>
    public void RecoverInterruptedCheckpointSwap()
    {
        string old = Checkpoint + ".old";
        if (!Directory.Exists(Checkpoint) && File.Exists(System.IO.Path.Combine(old, CheckpointState.FileName)))
            Directory.Move(old, Checkpoint);
    }

    /// <summary>The lock this object holds on the folder (see <see cref="Lock"/>), or null.</summary>
    public IO.FolderLock? HeldLock { get; private set; }

    /// <summary>
    /// Claims the folder for writing (creating it, or refusing a folder of someone else's files) and takes its exclusive
    /// lock for <paramref name="activity"/>, until the returned object is disposed; a second process is refused.
    /// </summary>
    public IDisposable Lock(string activity)
    {
        if (HeldLock is not null)
            throw new InvalidOperationException($"{Path} is already locked by this RunFolder.");
        IO.OutputFolder.Claim(Path, IO.FolderKind.Run);
        HeldLock = IO.FolderLock.Acquire(Path, activity);
        return new Release(this);
    }

    /// <summary>
    /// Deletes what an earlier run left in the folder (keeping only the marker and the lock), to start over in place.
    /// Needs the lock, and refuses a folder with anything SharpLM did not write.
    /// </summary>
    public void Clear()
    {
        if (HeldLock is null)
            throw new InvalidOperationException("Lock the run folder before clearing it.");
        IO.OutputFolder.Inspect(Path, IO.FolderKind.Run);
        foreach (var entry in new DirectoryInfo(Path).EnumerateFileSystemInfos())
        {
            if (entry.Name is IO.OutputFolder.MarkerFile or IO.FolderLock.FileName)
                continue;
            if (entry is DirectoryInfo d)
                d.Delete(recursive: true);
            else
                entry.Delete();
        }
    }

    sealed class Release(RunFolder run) : IDisposable
    {
        public void Dispose()
        {
            run.HeldLock?.Dispose();
            run.HeldLock = null;
        }
    }
}
