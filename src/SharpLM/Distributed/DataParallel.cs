using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Distributed;

/// <summary>
/// Data parallelism over a communicator: rank 0's parameters broadcast to every rank, and gradients averaged over the
/// ranks in fused buckets — each bucket the gradients of consecutive parameters flattened into one buffer of about
/// <see cref="BucketBytes"/>, as PyTorch DDP and Horovod fuse tensors, so that a model's hundreds of tensors cost a
/// handful of collectives. With <see cref="Deterministic"/> every rank gathers every rank's bucket and sums them in
/// rank order itself: the same bits on every run at a given world size, whatever algorithm the MPI library picks.
/// </summary>
public sealed class DataParallel(ICommunicator communicator, bool deterministic = false, long bucketBytes = 25L << 20)
{
    public ICommunicator Communicator { get; } = communicator;
    public bool Deterministic { get; } = deterministic;
    public long BucketBytes { get; } = bucketBytes;
    public int Rank => Communicator.Rank;
    public int Size => Communicator.Size;

    /// <summary>Seconds spent in gradient collectives so far (for the allreduce share of a step).</summary>
    public double ReduceSeconds { get; private set; }

    /// <summary>Copies rank 0's values of <paramref name="tensors"/> into every rank's.</summary>
    public void Broadcast(IEnumerable<Tensor> tensors)
    {
        using var noGrad = no_grad();
        foreach (var t in tensors)
        {
            using var scope = NewDisposeScope();
            var buffer = t.detach().contiguous().clone();
            Communicator.Broadcast(buffer.bytes, root: 0);
            t.copy_(buffer);
        }
    }

    /// <summary>Replaces every gradient by its mean over the ranks (a parameter without a gradient counts as zeros).</summary>
    public void AverageGradients(IReadOnlyList<Tensor> parameters)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var noGrad = no_grad();
        foreach (var bucket in Buckets(parameters))
        {
            using var scope = NewDisposeScope();
            var flat = cat(bucket.Select(p => (p.grad ?? zeros_like(p)).to(ScalarType.Float32).flatten()).ToArray()).contiguous();
            var summed = Deterministic ? OrderedSum(flat) : AllReduce(flat);
            using var s = new Runtime.Scalars();
            summed.div_(s[(double)Size]);
            long offset = 0;
            foreach (var p in bucket)
            {
                long n = p.numel();
                var part = summed.narrow(0, offset, n).view_as(p);
                if (p.grad is null)
                    p.grad = part.to(p.dtype).clone().DetachFromDisposeScope();
                else
                    p.grad.copy_(part);
                offset += n;
            }
        }
        ReduceSeconds += clock.Elapsed.TotalSeconds;
    }

    Tensor AllReduce(Tensor flat)
    {
        Communicator.AllReduceSum(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(flat.bytes));
        return flat;
    }

    /// <summary>Every rank's bucket, summed in rank order on every rank.</summary>
    Tensor OrderedSum(Tensor flat)
    {
        var all = empty(Size * flat.numel(), ScalarType.Float32);
        Communicator.AllGather(
            System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(flat.bytes),
            System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(all.bytes)
        );
        var rows = all.view(Size, flat.numel());
        using var s = new Runtime.Scalars();
        var sum = rows[0].clone();
        for (int r = 1; r < Size; r++)
            sum.add_(rows[r], s[1.0]);
        return sum;
    }

    /// <summary>Consecutive parameters grouped so that each group's gradients fill about <see cref="BucketBytes"/>.</summary>
    IEnumerable<List<Tensor>> Buckets(IReadOnlyList<Tensor> parameters)
    {
        var bucket = new List<Tensor>();
        long bytes = 0;
        foreach (var p in parameters)
        {
            long size = p.numel() * 4;
            if (bucket.Count > 0 && bytes + size > BucketBytes)
            {
                yield return bucket;
                bucket = [];
                bytes = 0;
            }
            bucket.Add(p);
            bytes += size;
        }
        if (bucket.Count > 0)
            yield return bucket;
    }

    /// <summary>
    /// A 64-bit FNV-1a digest of <paramref name="tensors"/>' bytes, checked to be the same on every rank: data parallelism
    /// keeps every replica identical, and a difference (a rank that skipped a step, a corrupted buffer) must not go
    /// unnoticed. Returns the digest (hex).
    /// </summary>
    public string VerifyIdentical(IEnumerable<Tensor> tensors)
    {
        ulong hash = Digest(tensors);
        // Two exact 32-bit halves per rank, summed into a table where every other rank's slots are zero.
        Span<double> table = new double[2 * Size];
        table[2 * Rank] = hash >> 32;
        table[2 * Rank + 1] = hash & 0xFFFFFFFF;
        Communicator.AllReduceSum(table);
        for (int r = 0; r < Size; r++)
        {
            ulong other = ((ulong)table[2 * r] << 32) | (ulong)table[2 * r + 1];
            if (other != hash)
                throw new SharpLMException(
                    $"The ranks' weights differ (rank {Rank}: {hash:x16}, rank {r}: {other:x16}); data-parallel replicas must stay "
                        + "identical — resume from the last checkpoint, and report this if it happens again."
                );
        }
        return hash.ToString("x16");
    }

    /// <summary>FNV-1a over the tensors' bytes, in order.</summary>
    public static ulong Digest(IEnumerable<Tensor> tensors)
    {
        ulong hash = 14695981039346656037UL;
        foreach (var t in tensors)
        {
            using var c = t.detach().contiguous();
            foreach (byte b in c.bytes)
                hash = (hash ^ b) * 1099511628211UL;
        }
        return hash;
    }

    /// <summary>The mean of one number over the ranks (a step's loss).</summary>
    public double Average(double value)
    {
        Span<double> v = [value];
        Communicator.AllReduceSum(v);
        return v[0] / Size;
    }

    /// <summary>The sum of one count over the ranks (a step's tokens).</summary>
    public long Sum(long value)
    {
        Span<double> v = [value];
        Communicator.AllReduceSum(v);
        return (long)Math.Round(v[0]);
    }
}
