using SharpLM.Kinds;
using SharpLM.Models;
using SharpLM.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Compression;

public enum PruningMethod
{
    /// <summary>Global unstructured: the smallest |w| of all block matrices become zero (the shape stays).</summary>
    Magnitude,

    /// <summary>Structured: the least important attention heads of every layer go (n_head shrinks).</summary>
    Heads,

    /// <summary>Structured: the least important feed-forward neurons of every layer go (n_inner shrinks).</summary>
    Neurons,
}

public sealed record PruningRequest
{
    /// <summary>A GPT language-model run.</summary>
    public required string Model { get; init; }
    public required string Output { get; init; }
    public PruningMethod Method { get; init; } = PruningMethod.Magnitude;

    /// <summary>The share removed, in [0, 1): of the block weights (magnitude), of each layer's heads or neurons.</summary>
    public required double Sparsity { get; init; }

    /// <summary>Recovery training steps with the normal trainer on the run's data (0: none).</summary>
    public int FinetuneSteps { get; init; }

    /// <summary>Prepared data for evaluation and recovery; null: the run's own.</summary>
    public string? Data { get; init; }
    public bool OverwriteOutput { get; init; }
}

public sealed record PruningResult(
    string Run,
    string Method,
    double Sparsity,
    long ParametersBefore,
    long ParametersAfter,
    long ZeroWeights,
    double ValLossBefore,
    double ValLossPruned,
    double? ValLossRecovered,
    TrainingResult? Recovery
);

/// <summary>
/// Pruning a GPT run: global magnitude pruning (zeros kept during recovery by re-applying the mask after every optimizer
/// step), or structured removal of attention heads or feed-forward neurons by importance, which builds a smaller model
/// (fewer heads or a narrower n_inner in config.json) that computes exactly what the masked model computes.
/// Importance, as weight norms (no data needed): a head's ‖W_v‖·‖W_o‖ over its value and output-projection slices, a
/// neuron's ‖c_fc row‖·‖c_proj column‖ — what a head or neuron can add to the residual stream.
/// </summary>
public static class Pruning
{
    public static PruningResult Run(PruningRequest r, IProgress<TrainingProgress>? progress = null, CancellationToken ct = default)
    {
        if (!(r.Sparsity >= 0 && r.Sparsity < 1))
            throw new SharpLMException($"sparsity must be in [0, 1) (got {r.Sparsity}).");
        if (r.FinetuneSteps < 0)
            throw new SharpLMException($"finetune_steps must not be negative (got {r.FinetuneSteps}).");
        var source = new RunFolder(r.Model);
        if (Path.GetFullPath(r.Output).TrimEnd('/') == source.Path.TrimEnd('/'))
            throw new SharpLMException("output_dir must be another folder than the run being pruned.");
        using var loaded = ModelRegistry.Load(source.Path);
        var gpt =
            loaded.Module as Gpt
            ?? throw new SharpLMException($"{source.Path} holds a {loaded.Kind.Description}; pruning applies to GPT language models.");
        if (gpt.Config.Labels is not null)
            throw new SharpLMException($"{source.Path} holds a GPT classifier; pruning applies to GPT language models.");
        if (IO.OutputFolder.Inspect(r.Output, IO.FolderKind.Run) == IO.FolderState.Owned && !r.OverwriteOutput)
            throw new SharpLMException(
                $"{Path.GetFullPath(r.Output)} already holds a run; choose another output_dir or replace it with overwrite_output."
            );
        var saved = File.Exists(source.Training) ? TrainOptions.Load(source.Training) : new TrainOptions();
        var options = saved with
        {
            MaxSteps = Math.Max(1, r.FinetuneSteps),
            WarmupSteps = Math.Min(saved.WarmupSteps, Math.Max(1, r.FinetuneSteps) / 10),
            DecaySteps = null,
            LearningRate = 3 * saved.MinLearningRate,
            EarlyStoppingPatience = 0,
            EvalInterval = Math.Max(1, Math.Min(saved.EvalInterval, Math.Max(1, r.FinetuneSteps))),
        };
        if (options.MinLearningRate > options.LearningRate || options.MinLearningRate == 0)
            options = options with { LearningRate = saved.LearningRate / 10, MinLearningRate = saved.LearningRate / 100 };

        long before = gpt.ParameterCount;
        string dataDir = source.DataDir(r.Data);
        double dense;
        using (var denseTask = new LanguageModelTask(dataDir, gpt.Config, options))
        {
            Copy(gpt, denseTask.Gpt);
            dense = denseTask.Evaluate(ct).Loss;
        }
        var (config, masks) = Prune(gpt, r.Method, r.Sparsity);
        var run = new RunFolder(r.Output);
        using var locked = run.Lock("pruning");
        if (r.OverwriteOutput)
            run.Clear();
        using var task = new LanguageModelTask(dataDir, config, options);
        var pruned = masks is null ? Shrink(gpt, config, r.Method) : gpt;
        try
        {
            Copy(pruned, task.Gpt);
        }
        finally
        {
            if (!ReferenceEquals(pruned, gpt))
                pruned.Dispose();
        }
        var maskKeeper = masks is null ? null : new MaskKeeper(task.Gpt, masks);
        double prunedLoss = task.Evaluate(ct).Loss;
        TrainingResult? recovery = null;
        try
        {
            if (r.FinetuneSteps > 0)
            {
                task.Gpt.train();
                var callbacks = Trainer.DefaultCallbacks(progress);
                if (maskKeeper is not null)
                    callbacks.Add(maskKeeper);
                recovery = new Trainer(task, run, callbacks).Run(resume: false, ct);
            }
            else
            {
                task.WriteRunFiles(run);
                options.Save(run.Training);
                task.SaveWeights(run.Weights);
            }
        }
        finally
        {
            maskKeeper?.Dispose();
        }
        long zeros = CountZeros(task.Gpt);
        return new PruningResult(
            run.Path,
            r.Method.ToString().ToLowerInvariant(),
            r.Sparsity,
            before,
            config.ParameterCount,
            zeros,
            dense,
            prunedLoss,
            recovery?.BestValLoss,
            recovery
        );
    }

    /// <summary>The block matrices pruning acts on: attention and feed-forward weights (not embeddings or LayerNorms).</summary>
    static IEnumerable<(string Name, Tensor Weight)> BlockMatrices(Gpt gpt) =>
        gpt.named_parameters()
            .Where(p => p.name.StartsWith("h.") && p.name.EndsWith(".weight") && p.parameter.dim() == 2)
            .Select(p => (p.name, (Tensor)p.parameter));

    /// <summary>
    /// The pruned model's config and, for magnitude pruning, the masks already applied to <paramref name="gpt"/>'s
    /// weights; structured methods return no masks (the smaller model is built from the config).
    /// </summary>
    public static (GptConfig Config, Dictionary<string, Tensor>? Masks) Prune(Gpt gpt, PruningMethod method, double sparsity)
    {
        var c = gpt.Config;
        switch (method)
        {
            case PruningMethod.Magnitude:
                return (c, MagnitudeMasks(gpt, sparsity));
            case PruningMethod.Heads:
                int heads = c.NHead - (int)Math.Round(sparsity * c.NHead);
                if (heads < 1)
                    throw new SharpLMException($"sparsity {sparsity} would remove all {c.NHead} heads of each layer; keep at least one.");
                return (c with { NHead = heads, HeadDimOverride = c.HeadDim }, null);
            default:
                int inner = c.InnerDim - (int)Math.Round(sparsity * c.InnerDim);
                if (inner < 1)
                    throw new SharpLMException(
                        $"sparsity {sparsity} would remove all {c.InnerDim} feed-forward neurons; keep at least one."
                    );
                return (c with { NInner = inner }, null);
        }
    }

    /// <summary>Zeroes the globally smallest |w| of the block matrices in place and returns the masks (true: kept).</summary>
    static Dictionary<string, Tensor> MagnitudeMasks(Gpt gpt, double sparsity)
    {
        var matrices = BlockMatrices(gpt).ToList();
        long total = matrices.Sum(m => m.Weight.numel());
        long cut = (long)Math.Round(sparsity * total);
        var masks = new Dictionary<string, Tensor>();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        Tensor? threshold = null;
        if (cut > 0)
        {
            var all = cat(matrices.Select(m => m.Weight.detach().abs().flatten()).ToArray());
            threshold = all.kthvalue(cut, 0).values; // the cut-th smallest |w|: it and everything below go
        }
        foreach (var (name, w) in matrices)
        {
            var keep = threshold is null ? ones_like(w, ScalarType.Bool) : w.detach().abs().gt(threshold);
            w.mul_(keep);
            masks[name] = keep.DetachFromDisposeScope();
        }
        return masks;
    }

    /// <summary>The kept heads (or neurons) of each layer, most important first then in index order.</summary>
    static long[] Kept(Tensor importance, int keep) => importance.topk(keep).indexes.sort().Values.data<long>().ToArray();

    /// <summary>Rows of the fused q/k/v projection (Linear layout [3·n_head·d, n_embd]) that belong to <paramref name="heads"/>.</summary>
    static long[] QkvRows(IReadOnlyList<long> heads, int width, int d) =>
        [.. Enumerable.Range(0, 3).SelectMany(part => heads.SelectMany(h => Enumerable.Range(0, d).Select(i => part * width + h * d + i)))];

    static long[] Columns(IReadOnlyList<long> units, int d) => [.. units.SelectMany(u => Enumerable.Range(0, d).Select(i => u * d + i))];

    /// <summary>Each layer's kept heads (importance ‖W_v,h‖·‖W_o,h‖) and the columns of c_proj they own.</summary>
    public static long[][] KeptHeads(Gpt gpt, int keep)
    {
        var c = gpt.Config;
        int d = c.HeadDim,
            width = c.AttentionWidth;
        var p = gpt.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        using var scope = NewDisposeScope();
        return Enumerable
            .Range(0, c.NLayer)
            .Select(l =>
            {
                var v = p[$"h.{l}.attn.c_attn.weight"].detach().narrow(0, 2 * width, width).view(c.NHead, d, -1);
                var o = p[$"h.{l}.attn.c_proj.weight"].detach().view(-1, c.NHead, d).transpose(0, 1);
                var importance = v.mul(v).sum([1, 2]).sqrt().mul(o.mul(o).sum([1, 2]).sqrt());
                return Kept(importance, keep);
            })
            .ToArray();
    }

    /// <summary>Each layer's kept feed-forward neurons (importance ‖c_fc row‖·‖c_proj column‖).</summary>
    public static long[][] KeptNeurons(Gpt gpt, int keep)
    {
        var p = gpt.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        using var scope = NewDisposeScope();
        return Enumerable
            .Range(0, gpt.Config.NLayer)
            .Select(l =>
            {
                var fc = p[$"h.{l}.mlp.c_fc.weight"].detach();
                var proj = p[$"h.{l}.mlp.c_proj.weight"].detach();
                return Kept(fc.mul(fc).sum([1]).sqrt().mul(proj.mul(proj).sum([0]).sqrt()), keep);
            })
            .ToArray();
    }

    /// <summary>
    /// A new, smaller model without the least important heads or neurons (<see cref="PruningMethod.Heads"/> or
    /// <see cref="PruningMethod.Neurons"/>) of <paramref name="gpt"/>, which is left unchanged.
    /// </summary>
    public static Gpt Structured(Gpt gpt, PruningMethod method, double sparsity)
    {
        if (method == PruningMethod.Magnitude)
            throw new ArgumentException("Magnitude pruning keeps the model's shape; use Prune.");
        return Shrink(gpt, Prune(gpt, method, sparsity).Config, method);
    }

    /// <summary>
    /// A new model of <paramref name="config"/> holding <paramref name="gpt"/>'s weights minus the pruned heads or neurons.
    /// </summary>
    static Gpt Shrink(Gpt gpt, GptConfig config, PruningMethod method)
    {
        var c = gpt.Config;
        var kept = method == PruningMethod.Heads ? KeptHeads(gpt, config.NHead) : KeptNeurons(gpt, config.InnerDim);
        var small = new Gpt(config);
        var from = gpt.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        foreach (var (name, target) in small.named_parameters())
        {
            var w = from[name].detach();
            int layer = name.StartsWith("h.") ? int.Parse(name.Split('.')[1]) : -1;
            Tensor Select(int dim, long[] index) => w.index_select(dim, tensor(index));
            var value = (method, name.Split('.', 3).ElementAtOrDefault(2)) switch
            {
                (PruningMethod.Heads, "attn.c_attn.weight" or "attn.c_attn.bias") => Select(
                    0,
                    QkvRows(kept[layer], c.AttentionWidth, c.HeadDim)
                ),
                (PruningMethod.Heads, "attn.c_proj.weight") => Select(1, Columns(kept[layer], c.HeadDim)),
                (PruningMethod.Neurons, "mlp.c_fc.weight" or "mlp.c_fc.bias") => Select(0, kept[layer]),
                (PruningMethod.Neurons, "mlp.c_proj.weight") => Select(1, kept[layer]),
                _ => w,
            };
            target.copy_(value);
        }
        return small;
    }

    /// <summary>
    /// The masked model a structured pruning equals: the pruned heads' (or neurons') columns of the output projection set
    /// to zero in place, so that they add nothing.
    /// </summary>
    public static void MaskInPlace(Gpt gpt, PruningMethod method, double sparsity)
    {
        if (method == PruningMethod.Magnitude)
            throw new ArgumentException("Magnitude pruning masks in place already.");
        var (config, _) = Prune(gpt, method, sparsity);
        var c = gpt.Config;
        var kept = method == PruningMethod.Heads ? KeptHeads(gpt, config.NHead) : KeptNeurons(gpt, config.InnerDim);
        var p = gpt.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var s = new Runtime.Scalars();
        for (int l = 0; l < c.NLayer; l++)
        {
            var proj = p[method == PruningMethod.Heads ? $"h.{l}.attn.c_proj.weight" : $"h.{l}.mlp.c_proj.weight"];
            long units = method == PruningMethod.Heads ? c.NHead : c.InnerDim;
            int d = method == PruningMethod.Heads ? c.HeadDim : 1;
            var drop = Enumerable.Range(0, (int)units).Select(u => (long)u).Except(kept[l]).ToArray();
            if (drop.Length > 0)
                proj.index_fill_(1, tensor(Columns(drop, d)), s[0.0]);
        }
    }

    static void Copy(Gpt from, Gpt to)
    {
        var source = from.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        using var noGrad = no_grad();
        foreach (var (name, p) in to.named_parameters())
            p.copy_(source[name]);
    }

    static long CountZeros(Gpt gpt)
    {
        using var scope = NewDisposeScope();
        using var s = new Runtime.Scalars();
        return BlockMatrices(gpt).Sum(m => m.Weight.eq(s[0.0]).sum().item<long>());
    }

    /// <summary>Keeps magnitude-pruned weights at zero during recovery: the mask is applied again after every optimizer step.</summary>
    sealed class MaskKeeper(Gpt model, Dictionary<string, Tensor> masks) : ITrainingCallback, IDisposable
    {
        readonly Dictionary<string, Parameter> _parameters = model.named_parameters().ToDictionary(x => x.name, x => x.parameter);

        public void OnStep(TrainingContext context, StepReport step)
        {
            using var noGrad = no_grad();
            foreach (var (name, mask) in masks)
                _parameters[name].mul_(mask);
        }

        public void Dispose()
        {
            foreach (var mask in masks.Values)
                mask.Dispose();
        }
    }
}
