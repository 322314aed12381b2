using System.Reflection;
using System.Runtime.InteropServices;

namespace SharpLM.Distributed;

/// <summary>
/// The few MPI calls data-parallel training needs, bound by P/Invoke to MPICH's library (libmpich.so.12; Debian's
/// <c>mpich</c> / <c>libmpich12</c>). Written by hand because the MPI.NET package is Windows-only; MPICH is chosen
/// because its handles (communicators, datatypes, operations, requests) are plain integers fixed by its ABI, whereas
/// Open MPI's are addresses of exported globals. The library is found at run time; when it is missing, or only Open
/// MPI is installed, the first use says so in one line.
/// </summary>
internal static unsafe class Mpi
{
    const string Library = "sharplm-mpich";

    // MPICH ABI constants (mpi.h)
    public const int CommWorld = 0x44000000;
    public const int Float = 0x4c00040a;
    public const int Double = 0x4c00080b;
    public const int Int64 = 0x4c000809;
    public const int Byte = 0x4c00010d;
    public const int Sum = 0x58000003;
    public const int ErrorsReturn = 0x54000001;
    public const int ThreadFunneled = 1;
    public static readonly void* InPlace = (void*)-1;
    public static readonly void* StatusIgnore = (void*)1;

    static readonly string[] Candidates = ["libmpich.so.12", "libmpich.so"];
    static readonly string[] OpenMpi = ["libmpi.so.40", "libmpi.so"];

    static Mpi() => NativeLibrary.SetDllImportResolver(typeof(Mpi).Assembly, Resolve);

    static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != Library)
            return IntPtr.Zero;
        foreach (string candidate in Candidates)
            if (NativeLibrary.TryLoad(candidate, out var handle))
                return handle;
        bool openMpi = OpenMpi.Any(c => NativeLibrary.TryLoad(c, out _));
        throw new SharpLMException(
            openMpi
                ? "distributed mpi needs MPICH (SharpLM binds MPICH's ABI); only Open MPI is installed — install mpich "
                    + "(Debian/Ubuntu: apt-get install mpich) and launch with its mpiexec."
                : "distributed mpi needs MPICH, which is not installed: apt-get install mpich (Debian/Ubuntu), then launch with "
                    + "mpiexec -n N sharplm train ... --distributed mpi."
        );
    }

    [DllImport(Library, EntryPoint = "MPI_Init_thread")]
    public static extern int InitThread(int* argc, byte*** argv, int required, int* provided);

    [DllImport(Library, EntryPoint = "MPI_Initialized")]
    public static extern int Initialized(int* flag);

    [DllImport(Library, EntryPoint = "MPI_Finalized")]
    public static extern int Finalized(int* flag);

    [DllImport(Library, EntryPoint = "MPI_Finalize")]
    public static extern int Finalize();

    [DllImport(Library, EntryPoint = "MPI_Comm_rank")]
    public static extern int CommRank(int comm, int* rank);

    [DllImport(Library, EntryPoint = "MPI_Comm_size")]
    public static extern int CommSize(int comm, int* size);

    [DllImport(Library, EntryPoint = "MPI_Comm_set_errhandler")]
    public static extern int CommSetErrhandler(int comm, int handler);

    [DllImport(Library, EntryPoint = "MPI_Iallreduce")]
    public static extern int Iallreduce(void* send, void* receive, int count, int type, int op, int comm, int* request);

    [DllImport(Library, EntryPoint = "MPI_Iallgather")]
    public static extern int Iallgather(
        void* send,
        int sendCount,
        int sendType,
        void* receive,
        int receiveCount,
        int receiveType,
        int comm,
        int* request
    );

    [DllImport(Library, EntryPoint = "MPI_Ibcast")]
    public static extern int Ibcast(void* buffer, int count, int type, int root, int comm, int* request);

    [DllImport(Library, EntryPoint = "MPI_Ibarrier")]
    public static extern int Ibarrier(int comm, int* request);

    [DllImport(Library, EntryPoint = "MPI_Test")]
    public static extern int Test(int* request, int* flag, void* status);

    [DllImport(Library, EntryPoint = "MPI_Abort")]
    public static extern int Abort(int comm, int code);

    [DllImport(Library, EntryPoint = "MPI_Error_string")]
    public static extern int ErrorString(int code, byte* text, int* length);

    /// <summary>MPI's own words for an error code.</summary>
    public static string Describe(int code)
    {
        var buffer = stackalloc byte[512];
        int length = 0;
        return ErrorString(code, buffer, &length) == 0 ? System.Text.Encoding.ASCII.GetString(buffer, length) : $"MPI error {code}";
    }
}
