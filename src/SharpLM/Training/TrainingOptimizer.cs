using System.Globalization;
using SharpLM.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>
/// TorchSharp's AdamW / Adam / SGD with two parameter groups (weight decay on matrices only, none on
/// biases and LayerNorm gains), the learning rate set per step, and its state saved to safetensors
/// under the parameters' names so that a resumed run continues bit for bit.
/// </summary>
public sealed class TrainingOptimizer : IDisposable
{
    readonly OptimizerHelper _optimizer;
    readonly string[] _names; // parameter name of each optimizer state slot, in group order
    public OptimizerKind Kind { get; }
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>The parameters that get weight decay and the L1/L2 penalty (dimension ≥ 2).</summary>
    public IReadOnlyList<Parameter> Matrices { get; }

    public TrainingOptimizer(nn.Module model, TrainOptions o)
    {
        Kind = o.Optimizer;
        var named = model.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        var decay = named.Where(p => p.parameter.dim() >= 2).ToList();
        var noDecay = named.Where(p => p.parameter.dim() < 2).ToList();
        _names = decay.Concat(noDecay).Select(p => p.name).ToArray();
        Parameters = decay.Concat(noDecay).Select(p => p.parameter).ToList();
        Matrices = decay.Select(p => p.parameter).ToList();
        IEnumerable<Parameter> D() => decay.Select(p => p.parameter);
        IEnumerable<Parameter> N() => noDecay.Select(p => p.parameter);
        _optimizer = o.Optimizer switch
        {
            OptimizerKind.AdamW => optim.AdamW(
                [
                    new AdamW.ParamGroup(D(), new AdamW.Options { weight_decay = o.WeightDecay }),
                    new AdamW.ParamGroup(N(), new AdamW.Options { weight_decay = 0 }),
                ],
                o.LearningRate,
                o.Beta1,
                o.Beta2
            ),
            OptimizerKind.Adam => optim.Adam(
                [
                    new Adam.ParamGroup(D(), new Adam.Options { weight_decay = o.WeightDecay }),
                    new Adam.ParamGroup(N(), new Adam.Options { weight_decay = 0 }),
                ],
                o.LearningRate,
                o.Beta1,
                o.Beta2
            ),
            _ => optim.SGD(
                [
                    new SGD.ParamGroup(D(), new SGD.Options { weight_decay = o.WeightDecay, momentum = o.Momentum }),
                    new SGD.ParamGroup(N(), new SGD.Options { weight_decay = 0, momentum = o.Momentum }),
                ],
                o.LearningRate,
                o.Momentum
            ),
        };
    }

    public void SetLearningRate(double lr)
    {
        foreach (var g in _optimizer.ParamGroups)
            g.LearningRate = lr;
    }

    public void ZeroGrad() => _optimizer.zero_grad();

    public void Step() => _optimizer.step();

    /// <summary>Adam's and AdamW's state (TorchSharp gives them separate types with the same fields); null for SGD.</summary>
    static (Tensor ExpAvg, Tensor ExpAvgSq, Func<long> GetStep, Action<long> SetStep)? AdamMoments(object state) =>
        state switch
        {
            AdamW.State s => (s.exp_avg, s.exp_avg_sq, () => s.step, v => s.step = v),
            Adam.State s => (s.exp_avg, s.exp_avg_sq, () => s.step, v => s.step = v),
            _ => null,
        };

    /// <summary>Writes every state tensor as "{param}.{slot}" and the step counters as metadata.</summary>
    public void Save(string path)
    {
        var tensors = new List<(string, Tensor)>();
        var meta = new Dictionary<string, string> { ["optimizer"] = Kind.ToString() };
        var states = _optimizer.state_dict().State;
        for (int i = 0; i < states.Count; i++)
        {
            string n = _names[i];
            if (AdamMoments(states[i]) is var (expAvg, expAvgSq, getStep, _))
            {
                tensors.Add(($"{n}.exp_avg", expAvg));
                tensors.Add(($"{n}.exp_avg_sq", expAvgSq));
                meta[$"{n}.step"] = getStep().ToString(CultureInfo.InvariantCulture);
            }
            else if (states[i] is SGD.State { momentum_buffer: not null } sgd)
                tensors.Add(($"{n}.momentum_buffer", sgd.momentum_buffer));
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
        var states = _optimizer.state_dict().State;
        long Step(string n) =>
            long.TryParse(file.Metadata.GetValueOrDefault($"{n}.step"), NumberStyles.None, CultureInfo.InvariantCulture, out long step)
                ? step
                : throw new SharpLMException($"{path} has no valid step count for '{n}'; the checkpoint is incomplete or corrupt.");
        for (int i = 0; i < states.Count; i++)
        {
            string n = _names[i];
            if (AdamMoments(states[i]) is var (expAvg, expAvgSq, _, setStep))
            {
                file.CopyInto($"{n}.exp_avg", expAvg);
                file.CopyInto($"{n}.exp_avg_sq", expAvgSq);
                setStep(Step(n));
            }
            else if (states[i] is SGD.State sgd && file.Entries.ContainsKey($"{n}.momentum_buffer"))
            {
                sgd.momentum_buffer?.Dispose();
                sgd.momentum_buffer = file.Read($"{n}.momentum_buffer");
            }
        }
    }

    public void Dispose() => _optimizer.Dispose();
}
