using System.Text.Encodings.Web;
using System.Text.Json;

namespace SharpLM.IO;

/// <summary>Shared JSON settings: camelCase, readable non-ASCII.</summary>
public static class Json
{
    public static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
    public static readonly JsonSerializerOptions Compact = new(Indented) { WriteIndented = false };
}
