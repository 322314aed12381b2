namespace SharpLM.Models;

/// <summary>
/// Refuses a config whose model could not fit in this machine's memory, before anything is allocated: a corrupt or
/// hostile config.json (n_embd = 2^30, say) must give one line, not an out-of-memory crash half-way through building.
/// </summary>
public static class ModelSize
{
    /// <summary>
    /// Throws unless <paramref name="parameters"/> fp32 weights fit in the memory .NET sees (physical or container limit).
    /// </summary>
    public static void RequireFits(string config, double parameters)
    {
        double bytes = 4 * parameters,
            available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (!(bytes <= available))
            throw new SharpLMException(
                $"{config}: the model would have {parameters:G3} parameters ({bytes / (1 << 30):F1} GiB of fp32 weights), more than "
                    + $"this machine's {available / (1 << 30):F1} GiB of memory; check the config's sizes."
            );
    }

    /// <summary>Class labels must be distinct, non-empty names.</summary>
    public static void RequireValidLabels(string config, string[]? labels)
    {
        if (labels is null)
            return;
        if (labels.Length == 1)
            throw new SharpLMException($"{config}: a classification head needs at least two labels.");
        if (labels.Any(string.IsNullOrEmpty))
            throw new SharpLMException($"{config}: a label is empty.");
        if (labels.Distinct(StringComparer.Ordinal).Count() != labels.Length)
            throw new SharpLMException($"{config}: a label is listed twice.");
    }
}
