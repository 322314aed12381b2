using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.IO;

/// <summary>
/// How a model's parameters are found in a Hugging Face-layout checkpoint. The same tensor is stored under different
/// names by different writers: a task model writes its body under a prefix ("transformer.", "bert.") that a base-model
/// file (GPT2Model, BertModel) omits, and old BERT checkpoints call LayerNorm's weight and bias gamma and beta.
/// </summary>
public sealed record CheckpointRules
{
    /// <summary>The body's prefix in task-model files ("transformer.", "bert."); base-model files store names without it.</summary>
    public string? BodyPrefix { get; init; }

    /// <summary>Which of the model's parameters to load (null: all).</summary>
    public Func<string, bool>? Include { get; init; }

    /// <summary>Parameters a file may lack; they keep their initialisation (a head a base model has no weights for).</summary>
    public Func<string, bool>? MayBeMissing { get; init; }

    /// <summary>Parameters stored as [in, out] (GPT-2's Conv1D) rather than a Linear's [out, in].</summary>
    public Func<string, bool>? Transposed { get; init; }

    /// <summary>
    /// Stored tensors that are known and deliberately not loaded (buffers such as GPT-2's attn.bias, tied copies, a
    /// pretraining head the model has no use for).
    /// </summary>
    public Func<string, bool>? Ignorable { get; init; }

    /// <summary>Whether stored tensors the model does not know are an error (loading a whole model) or skipped (a body).</summary>
    public bool RejectUnknown { get; init; } = true;
}

/// <summary>Copies a checkpoint's tensors into a module's parameters by <see cref="CheckpointRules"/>, checking first.</summary>
public static class CheckpointReader
{
    /// <summary>
    /// Loads <paramref name="path"/> (a safetensors file, or the shards its <c>.index.json</c> names) into
    /// <paramref name="module"/>. Every missing or unknown tensor and every shape is checked from the headers before
    /// anything is copied; problems become one line naming the tensors. Returns the parameters that were absent and allowed to be.
    /// </summary>
    public static IReadOnlyList<string> Load(nn.Module module, string path, CheckpointRules rules) =>
        Load(module, Safetensors.File.OpenSet(path), rules);

    /// <summary>As <see cref="Load(nn.Module, string, CheckpointRules)"/>, from a file (or shard set) already opened.</summary>
    public static IReadOnlyList<string> Load(nn.Module module, Safetensors.File file, CheckpointRules rules)
    {
        string path = file.Path;
        var plan = new List<(Tensor Parameter, string Key, bool Transpose)>();
        var missing = new List<string>();
        var allowedMissing = new List<string>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, p) in module.named_parameters())
        {
            if (rules.Include is { } include && !include(name))
                continue;
            string? key = StoredNames(name, rules.BodyPrefix).FirstOrDefault(file.Entries.ContainsKey);
            if (key is null)
            {
                if (rules.MayBeMissing?.Invoke(name) == true)
                    allowedMissing.Add(name);
                else
                    missing.Add(name);
                continue;
            }
            bool transpose = rules.Transposed?.Invoke(name) == true;
            var shape = file.Entries[key].Shape;
            long[] logical = transpose && shape.Length == 2 ? [shape[1], shape[0]] : shape;
            if (!logical.SequenceEqual(p.shape))
                throw new SharpLMException(
                    $"{path}: tensor '{key}' has shape [{string.Join(", ", shape)}] but config.json needs "
                        + $"[{string.Join(", ", transpose ? [p.shape[1], p.shape[0]] : p.shape)}]; the config and the weights "
                        + "disagree (or belong to different models)."
                );
            used.Add(key);
            plan.Add((p, key, transpose));
        }
        if (missing.Count > 0)
            throw new SharpLMException(
                $"{path} lacks {missing.Count} of the model's tensors ({Names(missing)}); the weights belong to a different model or "
                    + "architecture than config.json says."
            );
        if (rules.RejectUnknown)
        {
            var unknown = file
                .Entries.Keys.Where(k => !used.Contains(k) && !IsScaleOfQuantized(file, k) && rules.Ignorable?.Invoke(k) != true)
                .ToList();
            if (unknown.Count > 0)
                throw new SharpLMException(
                    $"{path} has {unknown.Count} tensors the model does not know ({Names(unknown)}); config.json describes a different "
                        + "architecture than the weights hold."
                );
        }
        using var noGrad = no_grad();
        foreach (var (p, key, transpose) in plan)
        {
            using var scope = NewDisposeScope();
            var t = file.Read(key);
            p.copy_((transpose ? t.t() : t).to(p.dtype));
        }
        return allowedMissing;
    }

    /// <summary>The names a parameter may be stored under, most likely first.</summary>
    public static IEnumerable<string> StoredNames(string name, string? bodyPrefix)
    {
        var forms = new List<string> { name };
        if (bodyPrefix is not null)
            forms.Add(name.StartsWith(bodyPrefix, StringComparison.Ordinal) ? name[bodyPrefix.Length..] : bodyPrefix + name);
        foreach (string form in forms)
        {
            yield return form;
            if (form.EndsWith("LayerNorm.weight", StringComparison.Ordinal))
                yield return form[..^"weight".Length] + "gamma";
            else if (form.EndsWith("LayerNorm.bias", StringComparison.Ordinal))
                yield return form[..^"bias".Length] + "beta";
        }
    }

    static bool IsScaleOfQuantized(Safetensors.File file, string key) =>
        key.EndsWith(Safetensors.ScaleSuffix, StringComparison.Ordinal) && file.IsQuantized(key[..^Safetensors.ScaleSuffix.Length]);

    static string Names(IReadOnlyList<string> names) =>
        string.Join(", ", names.Take(4).Select(n => $"'{n}'")) + (names.Count > 4 ? $" and {names.Count - 4} more" : "");
}
