using System.Text.Json;

namespace SharpLM.Server;

/// <summary>
/// A request's JSON object, read field by field with OpenAI's validation: a wrong type or value is a 400 naming the field
/// (its "param"), never an exception of the parser's.
/// </summary>
public sealed class RequestBody(JsonElement root)
{
    public JsonElement Root { get; } = root;

    public static async Task<RequestBody> ReadAsync(Microsoft.AspNetCore.Http.HttpRequest request, CancellationToken ct)
    {
        JsonDocument doc;
        try
        {
            doc = await JsonDocument.ParseAsync(request.Body, new JsonDocumentOptions { MaxDepth = 64 }, ct);
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"The request body is not valid JSON ({e.Message.Split('.')[0]}).");
        }
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw ApiException.BadRequest("The request body must be a JSON object.");
        return new RequestBody(doc.RootElement);
    }

    public bool Has(string name) => Root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    JsonElement? Get(string name) => Root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public string? String(string name) =>
        Get(name) switch
        {
            null => null,
            { ValueKind: JsonValueKind.String } v => v.GetString(),
            _ => throw ApiException.BadRequest($"'{name}' must be a string.", name),
        };

    public string RequiredString(string name) => String(name) ?? throw ApiException.BadRequest($"'{name}' is required.", name);

    public bool Bool(string name, bool fallback) =>
        Get(name) switch
        {
            null => fallback,
            { ValueKind: JsonValueKind.True } => true,
            { ValueKind: JsonValueKind.False } => false,
            _ => throw ApiException.BadRequest($"'{name}' must be true or false.", name),
        };

    public double Number(string name, double fallback, double min, double max)
    {
        var v = Get(name);
        if (v is null)
            return fallback;
        if (v.Value.ValueKind != JsonValueKind.Number || !v.Value.TryGetDouble(out double d) || !double.IsFinite(d))
            throw ApiException.BadRequest($"'{name}' must be a number.", name);
        if (d < min || d > max)
            throw ApiException.BadRequest($"'{name}' must be between {min} and {max} (got {d}).", name);
        return d;
    }

    public int? Integer(string name, int min, int max)
    {
        var v = Get(name);
        if (v is null)
            return null;
        if (v.Value.ValueKind != JsonValueKind.Number || !v.Value.TryGetInt64(out long n))
            throw ApiException.BadRequest($"'{name}' must be an integer.", name);
        if (n < min || n > max)
            throw ApiException.BadRequest($"'{name}' must be between {min} and {max} (got {n}).", name);
        return (int)n;
    }

    public long? Long(string name)
    {
        var v = Get(name);
        if (v is null)
            return null;
        return v.Value.ValueKind == JsonValueKind.Number && v.Value.TryGetInt64(out long n)
            ? n
            : throw ApiException.BadRequest($"'{name}' must be an integer.", name);
    }

    /// <summary>A string or a list of strings (stop, input); null when absent.</summary>
    public IReadOnlyList<string>? Strings(string name, int maxItems)
    {
        var v = Get(name);
        if (v is null)
            return null;
        if (v.Value.ValueKind == JsonValueKind.String)
            return [v.Value.GetString()!];
        if (v.Value.ValueKind != JsonValueKind.Array || v.Value.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String))
            throw ApiException.BadRequest($"'{name}' must be a string or an array of strings.", name);
        var list = v.Value.EnumerateArray().Select(x => x.GetString()!).ToList();
        if (list.Count > maxItems)
            throw ApiException.BadRequest($"'{name}' may hold at most {maxItems} items (got {list.Count}).", name);
        return list;
    }

    /// <summary>OpenAI fields SharpLM does not implement: refused when set to anything but their neutral value, never ignored.</summary>
    public void RefuseUnsupported(params (string Name, Func<JsonElement, bool> Neutral)[] fields)
    {
        foreach (var (name, neutral) in fields)
            if (Get(name) is JsonElement v && !neutral(v))
                throw ApiException.BadRequest($"'{name}' is not supported by this server.", name, "unsupported_parameter");
    }

    public static bool IsZero(JsonElement v) => v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && d == 0;

    public static bool IsEmptyObject(JsonElement v) => v.ValueKind == JsonValueKind.Object && !v.EnumerateObject().Any();
}
