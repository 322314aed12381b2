using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Runtime;

/// <summary>
/// Puts a module in eval mode without gradients for a using block, then restores its previous mode, so evaluation in
/// the middle of training leaves dropout as it was.
/// </summary>
public readonly struct InferenceScope : IDisposable
{
    readonly nn.Module _module;
    readonly bool _wasTraining;
    readonly IDisposable _noGrad;

    public InferenceScope(nn.Module module)
    {
        _module = module;
        _wasTraining = module.training;
        module.eval();
        _noGrad = no_grad();
    }

    public void Dispose()
    {
        _noGrad.Dispose();
        _module.train(_wasTraining);
    }
}
