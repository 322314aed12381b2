using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.IO;

/// <summary>A module's parameters to and from safetensors under their own names (no renaming, no transposes).</summary>
public static class ModuleWeights
{
    public static void Save(nn.Module module, string path) =>
        Safetensors.Save(
            path,
            module.named_parameters().Select(p => (p.name, (Tensor)p.parameter.detach())),
            new Dictionary<string, string> { ["format"] = "pt" }
        );

    /// <summary>
    /// Copies every stored tensor whose name passes <paramref name="include"/> into the parameter of the same name.
    /// Returns the names of parameters that were not in the file (an error unless <paramref name="allowMissing"/>).
    /// </summary>
    public static IReadOnlyList<string> Load(nn.Module module, string path, Func<string, bool>? include = null, bool allowMissing = false)
    {
        var file = Safetensors.File.OpenSet(path);
        var missing = new List<string>();
        foreach (var (name, p) in module.named_parameters())
        {
            if (include is not null && !include(name))
                continue;
            if (!file.Entries.ContainsKey(name))
            {
                missing.Add(name);
                continue;
            }
            file.CopyInto(name, p);
        }
        if (missing.Count > 0 && !allowMissing)
            throw new SharpLMException(
                $"{path} lacks {missing.Count} of the model's tensors (first: '{missing[0]}'); the weights belong to a different model."
            );
        return missing;
    }
}
