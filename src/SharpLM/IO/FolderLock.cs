namespace SharpLM.IO;

/// <summary>
/// An exclusive lock held for as long as the object lives. It is an OS file lock (flock on Linux and macOS, a sharing
/// lock on Windows, both taken by .NET's FileShare.None), so it dies with the process: a killed run leaves no stale
/// lock behind, only an unlocked lock file.
/// </summary>
public sealed class FolderLock : IDisposable
{
    public const string FileName = ".lock";
    readonly FileStream _stream;

    FolderLock(FileStream stream) => _stream = stream;

    /// <summary>
    /// Takes the lock of <paramref name="folder"/> or throws a <see cref="SharpLMException"/> saying that <paramref name="activity"/> is
    /// under way there.
    /// </summary>
    public static FolderLock Acquire(string folder, string activity)
    {
        Directory.CreateDirectory(folder);
        return TryAcquireFile(Path.Combine(folder, FileName))
            ?? throw new SharpLMException(
                $"{Path.GetFullPath(folder)} is in use by another SharpLM process ({activity}); wait for it to finish or stop it first."
            );
    }

    /// <summary>Takes the lock file <paramref name="path"/>, or returns null while another process (or object) holds it.</summary>
    public static FolderLock? TryAcquireFile(string path)
    {
        try
        {
            return new FolderLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException) when (File.Exists(path))
        {
            return null;
        }
    }

    /// <summary>Waits (polling) until the lock file is free, then takes it.</summary>
    public static async Task<FolderLock> AcquireFileAsync(string path, TimeSpan timeout, string activity, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (TryAcquireFile(path) is { } held)
                return held;
            if (DateTime.UtcNow > deadline)
                throw new SharpLMException(
                    $"Waited {timeout.TotalMinutes:0} minutes for another SharpLM process ({activity}); stop it or try again later."
                );
            await Task.Delay(200, ct);
        }
    }

    public void Dispose() => _stream.Dispose();
}
