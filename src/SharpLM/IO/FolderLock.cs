namespace SharpLM.IO;

/// <summary>
/// An exclusive lock on a folder, held for as long as the object lives. It is an OS file lock (flock on Linux and macOS,
/// a sharing lock on Windows, both taken by .NET's FileShare.None), so it dies with the process: a killed run leaves no
/// stale lock behind, only an unlocked lock file.
/// </summary>
public sealed class FolderLock : IDisposable
{
    public const string FileName = ".lock";
    readonly FileStream _stream;

    FolderLock(FileStream stream) => _stream = stream;

    /// <summary>Takes the lock or throws a <see cref="SharpLMException"/> saying that <paramref name="activity"/> is already under way there.</summary>
    public static FolderLock Acquire(string folder, string activity)
    {
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, FileName);
        try
        {
            return new FolderLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException) when (File.Exists(path))
        {
            throw new SharpLMException($"{Path.GetFullPath(folder)} is in use by another SharpLM process ({activity}); wait for it to finish or stop it first.");
        }
    }

    public void Dispose() => _stream.Dispose();
}
