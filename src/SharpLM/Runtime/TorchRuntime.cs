using System.Runtime.InteropServices;
using TorchSharp;

namespace SharpLM.Runtime;

/// <summary>Loads libtorch once and turns a failure into one sentence a person can act on.</summary>
public static class TorchRuntime
{
    static readonly Lazy<string?> LoadError = new(TryLoad);

    /// <summary>Throws <see cref="SharpLMException"/> if libtorch cannot be loaded on this machine.</summary>
    public static void EnsureLoaded()
    {
        if (LoadError.Value is { } error)
            throw new SharpLMException(error);
    }

    static string? TryLoad()
    {
        try
        {
            torch.InitializeDeviceType(DeviceType.CPU);
            KeepLargeBuffersInHeap(Environment.GetEnvironmentVariable("SHARPLM_MALLOC") != "system");
            using var probe = torch.ones(1);
            int? threads =
                _threads
                ?? (int.TryParse(Environment.GetEnvironmentVariable(ThreadsVariable), out int fromEnv) && fromEnv > 0 ? fromEnv : null);
            if (threads is int n)
                torch.set_num_threads(n);
            return null;
        }
        catch (Exception e) when (e is TypeInitializationException or NotSupportedException or DllNotFoundException)
        {
            string lib = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
            return OperatingSystem.IsLinux() && File.Exists(lib)
                ? $"libtorch could not be loaded from {Path.GetDirectoryName(lib)}: most likely the system libstdc++ is older than GCC "
                    + "13's and the build step that adapts libLibTorchSharp.so did not run; rebuild with 'dotnet build' (not a copied "
                    + "binary) or install libstdc++6 from GCC 13 or newer."
                : $"libtorch could not be loaded ({e.GetBaseException().Message.Split('\n')[0]}); reference the libtorch package for "
                    + "your OS with -p:LibTorchPackage=libtorch-cpu-<os>-<arch> and rebuild.";
        }
    }

    static int? _threads;

    /// <summary>The environment variable that sets libtorch's thread count when --threads is not given.</summary>
    public const string ThreadsVariable = "SHARPLM_THREADS";

    /// <summary>
    /// Sets libtorch's intra-op thread count, now if libtorch is loaded, else when it loads (so commands that never touch
    /// a tensor never load it). Null keeps libtorch's default (all cores) unless SHARPLM_THREADS is set.
    /// </summary>
    public static void ConfigureThreads(int? threads)
    {
        if (threads is < 1)
            throw new SharpLMException($"threads must be at least 1 (got {threads}).");
        _threads = threads;
        if (LoadError.IsValueCreated && LoadError.Value is null && threads is int n)
            torch.set_num_threads(n);
    }

    /// <summary>
    /// glibc serves every allocation above 32 MB with a fresh mmap and unmaps it on free, so a tensor that size
    /// (an MLM head's logits, a batch of activations) is page-faulted and zeroed again at every step: a masked-LM
    /// step measured 2.4x slower that way (sharplm bench heap). Raising the mmap threshold keeps freed buffers in the heap
    /// for reuse, as PyTorch's caching allocator does on GPU; resident memory then stays at the run's peak, which a
    /// training run reaches anyway. No effect off glibc. <c>SHARPLM_MALLOC=system</c> keeps glibc's defaults.
    /// </summary>
    public static bool KeepLargeBuffersInHeap(bool keep)
    {
        if (!OperatingSystem.IsLinux())
            return false;
        const int MmapThreshold = -3,
            TrimThreshold = -1;
        try
        {
            // 1 GiB: glibc's own default ceiling (32 MB) is what forces the mmaps. Back to 32 MB / 128 kB undoes it.
            return keep
                ? mallopt(MmapThreshold, 1 << 30) == 1 && mallopt(TrimThreshold, int.MaxValue) == 1
                : mallopt(MmapThreshold, 32 << 20) == 1 && mallopt(TrimThreshold, 128 << 10) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [DllImport("libc.so.6")]
    static extern int mallopt(int param, int value);
}
