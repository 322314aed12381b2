using System.Globalization;
using SharpLM.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>
/// AdamW, Adam or SGD (with momentum) over two parameter groups — weight decay on matrices only, none on biases and
/// LayerNorm gains — with the learning rate set per step and the state saved to safetensors under the parameters' names,
/// so that a resumed run continues bit for bit. The update is PyTorch's single-tensor algorithm in the same operation
/// order as TorchSharp's optimizers (so results match them exactly); it is written here rather than calling
/// TorchSharp's step because that step passes libtorch implicitly made scalars a garbage collection may free
/// mid-call (see <see cref="Runtime.Scalars"/>).
/// </summary>
public sealed class TrainingOptimizer : IDisposable
{
    const double Epsilon = 1e-8; // PyTorch's and TorchSharp's default for Adam and AdamW

    /// <summary>One parameter and its optimizer state.</summary>
    sealed class Slot(string name, Parameter parameter, bool decay)
    {
        public string Name { get; } = name;
        public Parameter Parameter { get; } = parameter;
        public bool Decay { get; } = decay;
        public long Step { get; set; }
        public Tensor? ExpAvg { get; set; }
        public Tensor? ExpAvgSq { get; set; }
        public Tensor? MomentumBuffer { get; set; }

        public void Dispose()
        {
            ExpAvg?.Dispose();
            ExpAvgSq?.Dispose();
            MomentumBuffer?.Dispose();
        }
    }

    readonly TrainOptions _o;
    readonly List<Slot> _slots; // decayed matrices first, then the rest: the order of the checkpoint's entries
    double _lr;
    public OptimizerKind Kind { get; }
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>The parameters that get weight decay and the L1/L2 penalty (dimension ≥ 2).</summary>
    public IReadOnlyList<Parameter> Matrices { get; }

    public TrainingOptimizer(nn.Module model, TrainOptions o)
    {
        _o = o;
        _lr = o.LearningRate;
        Kind = o.Optimizer;
        var named = model.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        _slots = named
            .Where(p => p.parameter.dim() >= 2)
            .Select(p => new Slot(p.name, p.parameter, decay: true))
            .Concat(named.Where(p => p.parameter.dim() < 2).Select(p => new Slot(p.name, p.parameter, decay: false)))
            .ToList();
        Parameters = _slots.Select(s => s.Parameter).ToList();
        Matrices = _slots.Where(s => s.Decay).Select(s => s.Parameter).ToList();
        if (Kind is OptimizerKind.AdamW or OptimizerKind.Adam)
            foreach (var slot in _slots)
            {
                slot.ExpAvg = zeros_like(slot.Parameter).DetachFromDisposeScope();
                slot.ExpAvgSq = zeros_like(slot.Parameter).DetachFromDisposeScope();
            }
    }

    public void SetLearningRate(double lr) => _lr = lr;

    public void ZeroGrad()
    {
        foreach (var slot in _slots)
        {
            using var grad = slot.Parameter.grad; // a new handle each time: freed here, not by a finalizer mid-call
            grad?.zero_();
        }
    }

    /// <summary>One update of every parameter that has a gradient.</summary>
    public void Step()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var s = new Runtime.Scalars();
        double beta1 = _o.Beta1,
            beta2 = _o.Beta2,
            lr = _lr;
        foreach (var slot in _slots)
        {
            var p = slot.Parameter;
            var grad = p.grad;
            if (grad is null)
                continue;
            double decay = slot.Decay ? _o.WeightDecay : 0;
            if (Kind == OptimizerKind.Sgd)
            {
                if (decay != 0)
                    grad = grad.add(p, alpha: s[decay]);
                if (_o.Momentum != 0)
                {
                    if (slot.MomentumBuffer is null)
                        slot.MomentumBuffer = grad.clone().detach().DetachFromDisposeScope();
                    else
                        slot.MomentumBuffer.mul_(s[_o.Momentum]).add_(grad, alpha: s[1.0]); // dampening 0
                    grad = slot.MomentumBuffer;
                }
                p.add_(grad, alpha: s[-lr]);
                continue;
            }
            slot.Step += 1;
            if (Kind == OptimizerKind.AdamW)
                p.mul_(s[1 - lr * decay]); // decoupled weight decay
            else if (decay != 0)
                grad = grad.add(p, alpha: s[decay]); // Adam: L2 through the gradient
            double biasCorrection1 = 1 - Math.Pow(beta1, slot.Step);
            double biasCorrection2 = 1 - Math.Pow(beta2, slot.Step);
            slot.ExpAvg!.mul_(s[beta1]).add_(grad, alpha: s[1 - beta1]);
            slot.ExpAvgSq!.mul_(s[beta2]).addcmul_(grad, grad, value: s[1 - beta2]);
            var denom = slot.ExpAvgSq.sqrt().div_(s[Math.Sqrt(biasCorrection2)]).add_(s[Epsilon], Runtime.Scalars.One);
            p.addcdiv_(slot.ExpAvg, denom, value: s[-(lr / biasCorrection1)]);
        }
    }

    /// <summary>Writes every state tensor as "{param}.{slot}" and the step counters as metadata.</summary>
    public void Save(string path)
    {
        var tensors = new List<(string, Tensor)>();
        var meta = new Dictionary<string, string> { ["optimizer"] = Kind.ToString() };
        foreach (var slot in _slots)
        {
            if (slot.ExpAvg is not null && slot.ExpAvgSq is not null)
            {
                tensors.Add(($"{slot.Name}.exp_avg", slot.ExpAvg));
                tensors.Add(($"{slot.Name}.exp_avg_sq", slot.ExpAvgSq));
                meta[$"{slot.Name}.step"] = slot.Step.ToString(CultureInfo.InvariantCulture);
            }
            else if (slot.MomentumBuffer is not null)
                tensors.Add(($"{slot.Name}.momentum_buffer", slot.MomentumBuffer));
        }
        Safetensors.Save(path, tensors, meta);
    }

    public void Load(string path)
    {
        var file = Safetensors.File.Open(path);
        if (!file.Metadata.TryGetValue("optimizer", out var kind) || kind != Kind.ToString())
            throw new SharpLMException(
                $"{path} holds {kind ?? "no"} optimizer state but this run uses {Kind}; resume with the run's own training.json."
            );
        long Step(string n) =>
            long.TryParse(file.Metadata.GetValueOrDefault($"{n}.step"), NumberStyles.None, CultureInfo.InvariantCulture, out long step)
                ? step
                : throw new SharpLMException($"{path} has no valid step count for '{n}'; the checkpoint is incomplete or corrupt.");
        foreach (var slot in _slots)
        {
            if (slot.ExpAvg is not null && slot.ExpAvgSq is not null)
            {
                file.CopyInto($"{slot.Name}.exp_avg", slot.ExpAvg);
                file.CopyInto($"{slot.Name}.exp_avg_sq", slot.ExpAvgSq);
                slot.Step = Step(slot.Name);
            }
            else if (file.Entries.ContainsKey($"{slot.Name}.momentum_buffer"))
            {
                slot.MomentumBuffer?.Dispose();
                slot.MomentumBuffer = file.Read($"{slot.Name}.momentum_buffer");
            }
        }
    }

    public void Dispose()
    {
        foreach (var slot in _slots)
            slot.Dispose();
    }
}
