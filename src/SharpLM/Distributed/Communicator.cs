using System.Diagnostics;

namespace SharpLM.Distributed;

/// <summary>The collectives data-parallel training uses, over all the processes of one run.</summary>
public interface ICommunicator
{
    int Rank { get; }
    int Size { get; }

    /// <summary>Every rank's <paramref name="data"/> summed element-wise, in place on every rank.</summary>
    void AllReduceSum(Span<float> data);

    void AllReduceSum(Span<double> data);

    /// <summary>Every rank's <paramref name="mine"/> (equal lengths), concatenated in rank order into <paramref name="all"/>.</summary>
    void AllGather(ReadOnlySpan<float> mine, Span<float> all);

    /// <summary><paramref name="root"/>'s bytes copied into every rank's <paramref name="data"/>.</summary>
    void Broadcast(Span<byte> data, int root);

    void Barrier();

    /// <summary>Ends every process of the run with <paramref name="code"/> (after a failure only some ranks saw).</summary>
    void Abort(int code);
}

/// <summary>
/// MPI_COMM_WORLD through MPICH. Every collective is started non-blocking and polled against a deadline, so a rank
/// whose partner died or hung does not wait forever: it fails in one line naming the collective and the timeout.
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    static MpiCommunicator? _world;
    static readonly object Gate = new();

    public int Rank { get; }
    public int Size { get; }

    /// <summary>How long a collective may wait for the other ranks.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(300);

    MpiCommunicator(int rank, int size) => (Rank, Size) = (rank, size);

    /// <summary>The world communicator, initialising MPI on first use (a process started without mpiexec is a world of one).</summary>
    public static MpiCommunicator World
    {
        get
        {
            lock (Gate)
                return _world ??= Initialise();
        }
    }

    /// <summary>Whether this process has joined an MPI world of more than one rank.</summary>
    public static bool IsDistributed
    {
        get
        {
            lock (Gate)
                return _world is { Size: > 1 };
        }
    }

    static MpiCommunicator Initialise()
    {
        int initialised = 0;
        Check(Mpi.Initialized(&initialised), "MPI_Initialized");
        if (initialised == 0)
        {
            int provided = 0;
            // Serialized use from whichever thread the caller is on: SharpLM never makes two MPI calls at once.
            Check(Mpi.InitThread(null, null, 3, &provided), "MPI_Init_thread");
            if (provided < 2)
                throw new SharpLMException(
                    "The MPI library gives no thread support beyond MPI_THREAD_FUNNELED; SharpLM needs MPI_THREAD_SERIALIZED."
                );
            AppDomain.CurrentDomain.ProcessExit += (_, _) => FinalizeOnce();
        }
        Check(Mpi.CommSetErrhandler(Mpi.CommWorld, Mpi.ErrorsReturn), "MPI_Comm_set_errhandler");
        int rank = 0,
            size = 0;
        Check(Mpi.CommRank(Mpi.CommWorld, &rank), "MPI_Comm_rank");
        Check(Mpi.CommSize(Mpi.CommWorld, &size), "MPI_Comm_size");
        return new MpiCommunicator(rank, size);
    }

    static void FinalizeOnce()
    {
        int finalised = 0;
        if (Mpi.Finalized(&finalised) == 0 && finalised == 0)
            Mpi.Finalize();
    }

    static void Check(int code, string call)
    {
        if (code != 0)
            throw new SharpLMException($"{call} failed: {Mpi.Describe(code)}.");
    }

    /// <summary>Waits for a started collective, polling, until it completes or <see cref="Timeout"/> passes.</summary>
    void Wait(int request, string what)
    {
        var clock = Stopwatch.StartNew();
        int done = 0;
        var spin = new SpinWait();
        while (true)
        {
            Check(Mpi.Test(&request, &done, Mpi.StatusIgnore), "MPI_Test");
            if (done != 0)
                return;
            if (clock.Elapsed > Timeout)
                throw new SharpLMException(
                    $"rank {Rank} of {Size} waited {Timeout.TotalSeconds:F0} s for the other ranks in {what}: a rank has died or hung; "
                        + "the run can continue from its last checkpoint with --resume."
                );
            // Spin briefly, then yield and sleep: a rank waiting for a slower one must not take the core it computes on
            // (ranks may outnumber cores); a millisecond is small against a step.
            spin.SpinOnce();
        }
    }

    public void AllReduceSum(Span<float> data)
    {
        int request;
        fixed (float* p = data)
        {
            Check(Mpi.Iallreduce(Mpi.InPlace, p, data.Length, Mpi.Float, Mpi.Sum, Mpi.CommWorld, &request), "MPI_Iallreduce");
            Wait(request, "an allreduce");
        }
    }

    public void AllReduceSum(Span<double> data)
    {
        int request;
        fixed (double* p = data)
        {
            Check(Mpi.Iallreduce(Mpi.InPlace, p, data.Length, Mpi.Double, Mpi.Sum, Mpi.CommWorld, &request), "MPI_Iallreduce");
            Wait(request, "an allreduce");
        }
    }

    public void AllGather(ReadOnlySpan<float> mine, Span<float> all)
    {
        if (all.Length != mine.Length * Size)
            throw new ArgumentException("The gather buffer must hold every rank's part.", nameof(all));
        int request;
        fixed (float* send = mine)
        fixed (float* receive = all)
        {
            Check(Mpi.Iallgather(send, mine.Length, Mpi.Float, receive, mine.Length, Mpi.Float, Mpi.CommWorld, &request), "MPI_Iallgather");
            Wait(request, "an allgather");
        }
    }

    public void Broadcast(Span<byte> data, int root)
    {
        int request;
        fixed (byte* p = data)
        {
            Check(Mpi.Ibcast(p, data.Length, Mpi.Byte, root, Mpi.CommWorld, &request), "MPI_Ibcast");
            Wait(request, "a broadcast");
        }
    }

    public void Barrier()
    {
        int request;
        Check(Mpi.Ibarrier(Mpi.CommWorld, &request), "MPI_Ibarrier");
        Wait(request, "a barrier");
    }

    public void Abort(int code) => Mpi.Abort(Mpi.CommWorld, code);
}
