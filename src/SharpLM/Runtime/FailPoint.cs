using System.Diagnostics;

namespace SharpLM.Runtime;

/// <summary>
/// Named crash points for tests that must kill a process at an exact moment (half-way through a checkpoint swap, say),
/// which a timer cannot hit reliably. Inert unless the environment variable SHARPLM_FAILPOINTS names points, as
/// "name" (kill at the first hit) or "name@N" (at the N-th), comma-separated; a hit then SIGKILLs the process, as a
/// power cut or the OOM killer would.
/// </summary>
public static class FailPoint
{
    public const string EnvironmentVariable = "SHARPLM_FAILPOINTS";
    static readonly Dictionary<string, int>? Armed = Parse(Environment.GetEnvironmentVariable(EnvironmentVariable));
    static readonly Dictionary<string, int> Hits = [];

    static Dictionary<string, int>? Parse(string? spec)
    {
        if (string.IsNullOrWhiteSpace(spec))
            return null;
        var armed = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var item in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = item.Split('@');
            armed[parts[0]] = parts.Length > 1 && int.TryParse(parts[1], out int n) && n > 0 ? n : 1;
        }
        return armed;
    }

    /// <summary>Kills the process here if this point is armed and this is the hit it was armed for.</summary>
    public static void Hit(string name)
    {
        if (Armed is null || !Armed.TryGetValue(name, out int at))
            return;
        lock (Hits)
        {
            int n = Hits[name] = Hits.GetValueOrDefault(name) + 1;
            if (n == at)
                Process.GetCurrentProcess().Kill();
        }
    }
}
