using System.Text;
using System.Text.Json;
using SharpLM.Tokenization;

namespace SharpLM.Serving;

/// <summary>One turn of a conversation.</summary>
public sealed record ChatTurn(string Role, string Content);

/// <summary>
/// How a conversation becomes a prompt. <c>chatml</c> (&lt;|im_start|&gt;role … &lt;|im_end|&gt;, with those special
/// tokens when the tokenizer has them); <c>plain</c>, the fallback for models without chat tokens ("User: …" lines, then
/// "Assistant:", stopping before the next "User:"); <c>none</c> refuses chat; a JSON file gives per-role formats.
/// </summary>
public sealed class ChatTemplate
{
    public const string ChatMlStart = "<|im_start|>",
        ChatMlEnd = "<|im_end|>";

    readonly Dictionary<string, string> _formats;
    readonly string _generationPrompt;

    public string Name { get; }

    /// <summary>Stop sequences that end an assistant turn (added to every chat request).</summary>
    public IReadOnlyList<string> StopSequences { get; }

    /// <summary>Whether the rendered prompt holds special tokens to be recognised when encoding.</summary>
    public bool UsesSpecialTokens { get; }

    ChatTemplate(string name, Dictionary<string, string> formats, string generationPrompt, IReadOnlyList<string> stops, bool special)
    {
        (Name, _formats, _generationPrompt, StopSequences, UsesSpecialTokens) = (name, formats, generationPrompt, stops, special);
    }

    public static readonly ChatTemplate ChatMl = new(
        "chatml",
        new() { ["*"] = ChatMlStart + "{role}\n{content}" + ChatMlEnd + "\n" },
        ChatMlStart + "assistant\n",
        [ChatMlEnd],
        special: true
    );

    public static readonly ChatTemplate Plain = new(
        "plain",
        new()
        {
            ["system"] = "System: {content}\n",
            ["user"] = "User: {content}\n",
            ["assistant"] = "Assistant: {content}\n",
            ["*"] = "{role}: {content}\n",
        },
        "Assistant:",
        ["\nUser:", "\nSystem:"],
        special: false
    );

    /// <summary>
    /// The template for a model: "auto" (ChatML when the tokenizer has its tokens, else plain), "chatml", "plain",
    /// "none" (null: the model takes no chat requests), or the path of a JSON file
    /// {"system": "...{content}...", "user": ..., "assistant": ..., "generation_prompt": ..., "stop": [...]}.
    /// </summary>
    public static ChatTemplate? Resolve(string spec, Tokenizer tokenizer) =>
        spec.ToLowerInvariant() switch
        {
            "auto" => tokenizer.SpecialTokenId(ChatMlStart) is not null && tokenizer.SpecialTokenId(ChatMlEnd) is not null ? ChatMl : Plain,
            "chatml" => ChatMl,
            "plain" => Plain,
            "none" => null,
            _ => FromFile(spec),
        };

    static ChatTemplate FromFile(string path)
    {
        if (!File.Exists(path))
            throw new SharpLMException($"Chat template '{path}' is neither auto, chatml, plain, none nor an existing JSON file.");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            var formats = new Dictionary<string, string>();
            foreach (var role in new[] { "system", "user", "assistant" })
                if (root.TryGetProperty(role, out var f))
                    formats[role] = f.GetString()!;
            if (!formats.ContainsKey("user"))
                throw new SharpLMException($"Chat template {path} has no \"user\" format.");
            string prompt = root.TryGetProperty("generation_prompt", out var g) ? g.GetString()! : "";
            var stops = root.TryGetProperty("stop", out var s) ? s.EnumerateArray().Select(x => x.GetString()!).ToArray() : [];
            return new ChatTemplate(Path.GetFileName(path), formats, prompt, stops, special: false);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            throw new SharpLMException($"Chat template {path} is not a valid template file ({e.Message.Split('.')[0]}).");
        }
    }

    /// <summary>The conversation's prompt as token ids (special tokens recognised when the template uses them).</summary>
    public int[] Encode(Tokenizer tokenizer, IReadOnlyList<ChatTurn> turns) =>
        tokenizer.Encode(Render(turns), allowSpecial: UsesSpecialTokens);

    /// <summary>The prompt for a conversation, ending with the assistant's turn to speak.</summary>
    public string Render(IReadOnlyList<ChatTurn> turns)
    {
        var sb = new StringBuilder();
        foreach (var t in turns)
        {
            string format = _formats.GetValueOrDefault(t.Role) ?? _formats.GetValueOrDefault("*") ?? _formats["user"];
            sb.Append(format.Replace("{role}", t.Role).Replace("{content}", t.Content));
        }
        return sb.Append(_generationPrompt).ToString();
    }
}
