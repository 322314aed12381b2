using System.Text.Json.Nodes;

namespace SharpLM.Server;

/// <summary>An error in OpenAI's shape: {"error": {"message", "type", "param", "code"}} with an HTTP status.</summary>
public sealed class ApiException(
    int status,
    string message,
    string type = "invalid_request_error",
    string? param = null,
    string? code = null
) : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    public JsonObject ToJson() =>
        new()
        {
            ["error"] = new JsonObject
            {
                ["message"] = Message,
                ["type"] = Type,
                ["param"] = Param,
                ["code"] = Code,
            },
        };

    public static ApiException BadRequest(string message, string? param = null, string? code = null) =>
        new(400, message, param: param, code: code);
}
