using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Models.Layers;

/// <summary>
/// The activation functions Hugging Face configs name (GPT-2's activation_function, BERT's hidden_act) that SharpLM
/// computes exactly as transformers does; any other name is refused when the config is read, never replaced.
/// </summary>
public static class Activation
{
    /// <summary>
    /// gelu: the exact erf form; gelu_new, gelu_pytorch_tanh and gelu_fast: the tanh approximation (the same function,
    /// written three ways in transformers); relu; silu and swish: x·sigmoid(x).
    /// </summary>
    public static readonly string[] Supported = ["gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu", "silu", "swish"];

    /// <summary>A one-line error naming <paramref name="field"/> unless <paramref name="name"/> is supported.</summary>
    public static void Require(string config, string field, string? name)
    {
        if (name is null || !Supported.Contains(name))
            throw new SharpLMException($"{config}: {field} '{name}' is not supported; SharpLM computes {string.Join(", ", Supported)}.");
    }

    public static Tensor Apply(string name, Tensor x) =>
        name switch
        {
            "gelu" => nn.functional.gelu(x),
            "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => nn.functional.gelu(x, TorchSharp.Modules.GELU.Approximate.tanh),
            "relu" => nn.functional.relu(x),
            "silu" or "swish" => nn.functional.silu(x),
            _ => throw new ArgumentException($"Unknown activation '{name}'.", nameof(name)),
        };
}
