using System.Diagnostics;
using SharpLM.Models;
using SharpLM.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Bench;

public sealed record HeapTiming(string Workload, double SystemMs, double KeptMs, double Speedup);

public sealed record HeapBenchmarkResult(int Threads, IReadOnlyList<HeapTiming> Runs);

/// <summary>
/// `sharplm-bench heap`: the same work with glibc's default allocation policy (every buffer over 32 MB freshly mmapped
/// and unmapped) and with freed buffers kept in the heap (<see cref="TorchRuntime.KeepLargeBuffersInHeap"/>), in
/// alternating rounds of one run. Workloads: the masked-LM head of a 30,522-token vocabulary on 307 selected positions
/// (15% of 16 × 128), and a whole masked-LM training step of a 4-layer, 128-wide BERT on 16 × 128 tokens.
/// </summary>
public static class HeapBenchmark
{
    public static HeapBenchmarkResult Run(int rounds, int iterations, IProgress<string>? status = null)
    {
        const int Vocab = 30522,
            Width = 128,
            Batch = 16,
            Block = 128;
        torch.manual_seed(1);
        using var s = new Scalars();
        var embedding = randn(Vocab, Width).mul(s[0.02]).requires_grad_();
        var hidden = randn(307, Width).requires_grad_();
        var target = randint(0, Vocab, [307]);
        using var mlm = new BertForMaskedLm(
            new BertConfig
            {
                VocabSize = Vocab,
                HiddenSize = Width,
                NumHiddenLayers = 4,
                NumAttentionHeads = 4,
                IntermediateSize = 4 * Width,
                MaxPositionEmbeddings = Block,
            }
        );
        mlm.train();
        // AdamW as TorchSharp's defaults have it (no weight decay, betas 0.9 and 0.999).
        using var optimizer = new Training.TrainingOptimizer(
            mlm,
            new Training.TrainOptions
            {
                LearningRate = 1e-4,
                WeightDecay = 0,
                Beta2 = 0.999,
            }
        );
        var ids = randint(5, Vocab, [Batch, Block]);
        var attend = ones([Batch, Block], ScalarType.Bool);
        var selected = rand([Batch, Block]).lt(s[0.15]);
        var labels = ids[selected];

        void Head()
        {
            using var scope = NewDisposeScope();
            nn.functional.cross_entropy(nn.functional.linear(hidden, embedding), target).backward();
            embedding.grad!.zero_();
            hidden.grad!.zero_();
        }
        void Step()
        {
            using var scope = NewDisposeScope();
            optimizer.ZeroGrad();
            nn.functional.cross_entropy(mlm.ForwardSelected(ids, attend, selected), labels).backward();
            optimizer.Step();
        }
        var workloads = new (string Name, Action Work)[]
        {
            ("masked-LM head, 307 x 30,522 logits, forward + backward", Head),
            ("masked-LM step, 4 x 128 BERT, 16 x 128 tokens", Step),
        };
        var samples = workloads.Select(_ => (System: new List<double>(), Kept: new List<double>())).ToArray();
        try
        {
            for (int r = 0; r < rounds; r++)
                foreach (bool keep in new[] { false, true })
                {
                    TorchRuntime.KeepLargeBuffersInHeap(keep);
                    for (int w = 0; w < workloads.Length; w++)
                    {
                        status?.Report($"round {r + 1}/{rounds}, {(keep ? "kept in heap" : "glibc default")}: {workloads[w].Name}");
                        workloads[w].Work(); // warm-up after the switch
                        for (int i = 0; i < iterations; i++)
                        {
                            var sw = Stopwatch.StartNew();
                            workloads[w].Work();
                            (keep ? samples[w].Kept : samples[w].System).Add(sw.Elapsed.TotalMilliseconds);
                        }
                    }
                }
        }
        finally
        {
            TorchRuntime.KeepLargeBuffersInHeap(Environment.GetEnvironmentVariable("SHARPLM_MALLOC") != "system");
        }
        static double Median(List<double> xs) => xs.Order().ElementAt(xs.Count / 2);
        return new HeapBenchmarkResult(
            torch.get_num_threads(),
            workloads
                .Select(
                    (w, i) =>
                    {
                        double system = Median(samples[i].System),
                            kept = Median(samples[i].Kept);
                        return new HeapTiming(w.Name, system, kept, system / kept);
                    }
                )
                .ToArray()
        );
    }
}
