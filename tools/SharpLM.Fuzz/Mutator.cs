using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SharpLM.Fuzz;

/// <summary>
/// A seeded, structure-aware mutator. Written here rather than taken from SharpFuzz because SharpFuzz needs an
/// instrumented assembly and an external AFL/libFuzzer driver, while this harness must run inside `dotnet test` as well
/// as in a long campaign. Byte-level "havoc" (as AFL's) reaches the framing (length prefixes, magic numbers, gzip and tar
/// headers); the JSON-aware mutations reach the meaning (wrong types, huge or negative numbers, empty strings,
/// duplicated keys, deep nesting) that random bytes almost never produce in valid JSON.
/// </summary>
public sealed class Mutator(int seed)
{
    readonly Random _rng = new(seed);

    public int Next(int max) => _rng.Next(max);

    public bool Chance(double p) => _rng.NextDouble() < p;

    static readonly long[] InterestingNumbers =
    [
        0,
        -1,
        1,
        2,
        7,
        255,
        256,
        65535,
        65536,
        int.MaxValue,
        int.MinValue,
        (long)int.MaxValue + 1,
        uint.MaxValue,
        1L << 53,
        long.MaxValue,
        long.MinValue,
        1L << 62,
    ];

    static readonly string[] InterestingStrings =
    [
        "",
        " ",
        "\u0000",
        "a",
        "\ud800",
        "\udc00\ud800",
        "[UNK]",
        "<|endoftext|>",
        "Ġ",
        "##",
        "gelu",
        "bert",
        "gpt2",
        "BPE",
        "WordPiece",
        "ByteLevel",
        "Split",
        "Sequence",
        "(a+)+$",
        "(?:x|x)*y",
        "[",
        "(?!",
        "\\p{L}+",
        new string('a', 4096),
        "💥",
        "F32",
        "BF16",
        "I64",
        "nan",
        "1e999",
    ];

    // ------------------------------------------------------------------ bytes

    /// <summary>AFL-style havoc: a few stacked byte-level mutations.</summary>
    public byte[] Havoc(byte[] input, IReadOnlyList<byte[]>? others = null)
    {
        var data = new List<byte>(input);
        int rounds = 1 << _rng.Next(4);
        for (int r = 0; r < rounds; r++)
        {
            int n = data.Count;
            switch (_rng.Next(10))
            {
                case 0 when n > 0:
                    data[_rng.Next(n)] ^= (byte)(1 << _rng.Next(8));
                    break;
                case 1 when n > 0:
                    data[_rng.Next(n)] = (byte)new[] { 0, 0xFF, 0x7F, 0x80, 0x20, (byte)'"', (byte)'{', (byte)'0' }[_rng.Next(8)];
                    break;
                case 2 when n >= 4:
                {
                    int at = _rng.Next(n - 3);
                    var v = BitConverter.GetBytes((int)InterestingNumbers[_rng.Next(InterestingNumbers.Length)]);
                    for (int i = 0; i < 4; i++)
                        data[at + i] = v[i];
                    break;
                }
                case 3 when n >= 8:
                {
                    int at = _rng.Next(n - 7);
                    var v = BitConverter.GetBytes(InterestingNumbers[_rng.Next(InterestingNumbers.Length)]);
                    for (int i = 0; i < 8; i++)
                        data[at + i] = v[i];
                    break;
                }
                case 4:
                    data.InsertRange(_rng.Next(n + 1), Enumerable.Range(0, 1 + _rng.Next(16)).Select(_ => (byte)_rng.Next(256)));
                    break;
                case 5 when n > 1:
                {
                    int at = _rng.Next(n),
                        len = 1 + _rng.Next(Math.Min(64, n - at));
                    data.RemoveRange(at, len);
                    break;
                }
                case 6 when n > 1:
                {
                    int at = _rng.Next(n),
                        len = 1 + _rng.Next(Math.Min(256, n - at));
                    data.InsertRange(_rng.Next(n), data.GetRange(at, len));
                    break;
                }
                case 7 when n > 0:
                {
                    int keep = _rng.Next(n);
                    data.RemoveRange(keep, n - keep);
                    break;
                } // truncate
                case 8 when others is { Count: > 0 } && n > 0:
                {
                    var other = others[_rng.Next(others.Count)];
                    if (other.Length == 0)
                        break;
                    int from = _rng.Next(other.Length),
                        len = 1 + _rng.Next(Math.Min(128, other.Length - from)),
                        at = _rng.Next(n);
                    for (int i = 0; i < len && at + i < data.Count; i++)
                        data[at + i] = other[from + i];
                    break;
                }
                default:
                    if (n > 0)
                        data[_rng.Next(n)] = (byte)_rng.Next(256);
                    break;
            }
        }
        return data.ToArray();
    }

    // ------------------------------------------------------------------ JSON

    /// <summary>A JSON document mutated in its structure (70%) or its bytes (30%).</summary>
    public byte[] MutateJson(byte[] input)
    {
        if (Chance(0.3))
            return Havoc(input);
        try
        {
            var root = JsonNode.Parse(input);
            if (root is null)
                return Havoc(input);
            int rounds = 1 + _rng.Next(3);
            string? duplicate = null;
            for (int r = 0; r < rounds; r++)
                root = MutateNode(root, ref duplicate);
            return Encoding.UTF8.GetBytes(Write(root, duplicate));
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            return Havoc(input); // an earlier mutation made it JSON that JsonNode cannot hold (duplicate keys, say)
        }
    }

    /// <summary>Every node of a tree with its parent, in document order.</summary>
    static List<(JsonNode Node, JsonNode? Parent)> Nodes(JsonNode root)
    {
        var list = new List<(JsonNode, JsonNode?)>();
        void Walk(JsonNode node, JsonNode? parent)
        {
            list.Add((node, parent));
            if (node is JsonObject o)
                foreach (var (_, v) in o)
                {
                    if (v is not null)
                        Walk(v, node);
                }
            else if (node is JsonArray a)
                foreach (var v in a)
                {
                    if (v is not null)
                        Walk(v, node);
                }
        }
        Walk(root, null);
        return list;
    }

    JsonNode MutateNode(JsonNode root, ref string? duplicate)
    {
        var nodes = Nodes(root);
        var (node, parent) = nodes[_rng.Next(nodes.Count)];
        switch (_rng.Next(8))
        {
            case 0 or 1:
                return Replace(root, node, parent, Interesting(node));
            case 2 when parent is JsonObject po:
            {
                string key = po.First(p => ReferenceEquals(p.Value, node)).Key;
                po.Remove(key);
                return root;
            }
            case 2 when parent is JsonArray pa:
                pa.Remove(node);
                return root;
            case 3 when parent is JsonObject po2:
                duplicate = po2.First(p => ReferenceEquals(p.Value, node)).Key; // written twice by Write
                return root;
            case 4 when node is JsonArray arr && arr.Count > 0:
                for (int i = 0, k = _rng.Next(4); i < k; i++)
                    arr.Add(arr[_rng.Next(arr.Count)]?.DeepClone());
                return root;
            case 5 when node is JsonObject obj:
                obj[InterestingStrings[_rng.Next(InterestingStrings.Length)]] = Interesting(null);
                return root;
            case 6:
                return Replace(root, node, parent, Nest(Interesting(null), 1 + _rng.Next(300)));
            default:
            {
                var other = nodes[_rng.Next(nodes.Count)].Node;
                return ReferenceEquals(other, root) || IsAncestor(node, other) ? root : Replace(root, node, parent, other.DeepClone());
            }
        }
    }

    static bool IsAncestor(JsonNode node, JsonNode maybeDescendant)
    {
        for (var p = maybeDescendant.Parent; p is not null; p = p.Parent)
            if (ReferenceEquals(p, node))
                return true;
        return false;
    }

    static JsonNode Replace(JsonNode root, JsonNode node, JsonNode? parent, JsonNode? replacement)
    {
        if (parent is null)
            return replacement ?? JsonValue.Create(0);
        if (parent is JsonObject o)
            o[o.First(p => ReferenceEquals(p.Value, node)).Key] = replacement;
        else if (parent is JsonArray a)
            a[a.IndexOf(node)] = replacement;
        return root;
    }

    static JsonNode? Nest(JsonNode? inner, int depth)
    {
        for (int i = 0; i < depth; i++)
            inner = new JsonArray(inner);
        return inner;
    }

    JsonNode? Interesting(JsonNode? like)
    {
        switch (_rng.Next(7))
        {
            case 0:
                return null;
            case 1:
                return JsonValue.Create(InterestingNumbers[_rng.Next(InterestingNumbers.Length)]);
            case 2:
                return JsonValue.Create(new[] { 0.5, -0.5, 1e308, -1e308, 1e-310, 3.999999 }[_rng.Next(6)]);
            case 3:
                return JsonValue.Create(InterestingStrings[_rng.Next(InterestingStrings.Length)]);
            case 4:
                return JsonValue.Create(_rng.Next(2) == 0);
            case 5:
                return new JsonArray(
                    Enumerable
                        .Range(0, _rng.Next(5))
                        .Select(_ => (JsonNode?)JsonValue.Create(InterestingNumbers[_rng.Next(InterestingNumbers.Length)]))
                        .ToArray()
                );
            default:
                return like switch
                {
                    JsonValue v when v.TryGetValue(out long n) => JsonValue.Create(n + _rng.Next(-2, 3)),
                    JsonValue v when v.TryGetValue(out string? s) && s.Length > 0 => JsonValue.Create(s[..^1]),
                    _ => new JsonObject(),
                };
        }
    }

    /// <summary>
    /// Serializes, writing the property <paramref name="duplicate"/> twice wherever it occurs (JsonNode cannot hold that).
    /// </summary>
    static string Write(JsonNode? node, string? duplicate)
    {
        var sb = new StringBuilder();
        void W(JsonNode? n)
        {
            switch (n)
            {
                case null:
                    sb.Append("null");
                    break;
                case JsonObject o:
                    sb.Append('{');
                    bool first = true;
                    foreach (var (k, v) in o)
                    {
                        for (int twice = 0; twice < (k == duplicate ? 2 : 1); twice++)
                        {
                            if (!first)
                                sb.Append(',');
                            first = false;
                            sb.Append(JsonSerializer.Serialize(k)).Append(':');
                            W(v);
                        }
                    }
                    sb.Append('}');
                    break;
                case JsonArray a:
                    sb.Append('[');
                    for (int i = 0; i < a.Count; i++)
                    {
                        if (i > 0)
                            sb.Append(',');
                        W(a[i]);
                    }
                    sb.Append(']');
                    break;
                default:
                    sb.Append(n.ToJsonString());
                    break;
            }
        }
        W(node);
        return sb.ToString();
    }

    // ------------------------------------------------------------------ lines

    /// <summary>Line-level edits (drop, repeat, swap), then, for JSON lines, a JSON mutation of one line; else havoc.</summary>
    public byte[] MutateLines(byte[] input, bool jsonLines)
    {
        if (Chance(0.25))
            return Havoc(input);
        var lines = Encoding.UTF8.GetString(input).Split('\n').ToList();
        int rounds = 1 + _rng.Next(3);
        for (int r = 0; r < rounds && lines.Count > 0; r++)
        {
            int i = _rng.Next(lines.Count);
            switch (_rng.Next(5))
            {
                case 0:
                    lines.RemoveAt(i);
                    break;
                case 1:
                    lines.Insert(_rng.Next(lines.Count), lines[i]);
                    break;
                case 2:
                    (lines[i], lines[^1]) = (lines[^1], lines[i]);
                    break;
                case 3 when jsonLines:
                    lines[i] = Encoding.UTF8.GetString(MutateJson(Encoding.UTF8.GetBytes(lines[i])));
                    break;
                default:
                    lines[i] = lines[i]
                        .Insert(
                            _rng.Next(lines[i].Length + 1),
                            new[] { "\"", ",", "\t", "\"\"", "\r", "{", "\u2028", "\ufeff" }[_rng.Next(8)]
                        );
                    break;
            }
        }
        return Encoding.UTF8.GetBytes(string.Join('\n', lines));
    }
}
