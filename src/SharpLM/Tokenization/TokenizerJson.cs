using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLM.IO;

namespace SharpLM.Tokenization;

/// <summary>
/// Reads and writes Hugging Face <c>tokenizer.json</c>. Written by hand: Microsoft.ML.Tokenizers can read a vocab and
/// merges but neither writes tokenizer.json nor reads its normalizer/pre-tokenizer/decoder pipeline.
/// Supported: models BPE (byte-level, or char-level with no merges) and WordPiece; normalizers NFC/NFD/NFKC/NFKD,
/// Lowercase, BertNormalizer, Sequence; pre-tokenizers ByteLevel, Split (Isolated/Removed), BertPreTokenizer,
/// Sequence; decoders ByteLevel, WordPiece, Fuse.
/// </summary>
public static class TokenizerJson
{
    public static Tokenizer Load(string path)
    {
        if (Directory.Exists(path))
            path = Path.Combine(path, "tokenizer.json");
        if (!File.Exists(path))
            throw new SharpLMException($"Tokenizer file {path} does not exist; train one with 'sharplm tokenizer train' or pass gpt2.");
        JsonNode? root;
        try
        {
            using var stream = File.OpenRead(path);
            root = JsonNode.Parse(stream, documentOptions: new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            throw new SharpLMException(
                $"{path} is not valid JSON ({e.Message.Split('.')[0]}); the file is corrupt or truncated, write or download it again."
            );
        }
        return ParseFrom(root, path);
    }

    /// <summary>
    /// GPT-2's tokenizer from the two files transformers' slow GPT2Tokenizer reads: vocab.json (token → id) and
    /// merges.txt (a "#version" line, then one "left right" merge per line in rank order); byte-level pre-tokenizer and
    /// decoder, no prefix space unless <paramref name="addPrefixSpace"/>, and &lt;|endoftext|&gt; as the special token when
    /// the vocabulary has it.
    /// </summary>
    public static Tokenizer FromGpt2Files(string vocabJson, string mergesTxt, bool addPrefixSpace = false)
    {
        foreach (string f in new[] { vocabJson, mergesTxt })
            if (!File.Exists(f))
                throw new SharpLMException($"{f} does not exist; a GPT-2 tokenizer needs vocab.json and merges.txt side by side.");
        JsonNode? vocab;
        try
        {
            vocab = JsonNode.Parse(File.ReadAllText(vocabJson));
        }
        catch (JsonException e)
        {
            throw new SharpLMException($"{vocabJson} is not valid JSON ({e.Message.Split('.')[0]}); download it again.");
        }
        if (vocab is not JsonObject vocabObject)
            throw new SharpLMException($"{vocabJson} is not a JSON object of token → id; download it again.");
        var merges = new JsonArray();
        foreach (string line in File.ReadLines(mergesTxt))
            if (line.Length > 0 && !line.StartsWith("#version", StringComparison.Ordinal))
                merges.Add(line.TrimEnd('\r'));
        var added = new JsonArray();
        if (vocabObject[Gpt2Tokenizer.EndOfText] is JsonNode eot)
            added.Add(
                new JsonObject
                {
                    ["id"] = eot.DeepClone(),
                    ["content"] = Gpt2Tokenizer.EndOfText,
                    ["special"] = true,
                }
            );
        var root = new JsonObject
        {
            ["added_tokens"] = added,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = addPrefixSpace },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["vocab"] = vocabObject.DeepClone(),
                ["merges"] = merges,
            },
        };
        return ParseFrom(root, $"{vocabJson} + {mergesTxt}");
    }

    static Tokenizer ParseFrom(JsonNode? root, string path)
    {
        try
        {
            return Parse(root as JsonObject ?? throw Corrupt("the top level is not an object"));
        }
        catch (Exception e)
            when (e
                    is InvalidOperationException
                        or FormatException
                        or KeyNotFoundException
                        or ArgumentException
                        or NullReferenceException
                        or OverflowException
            )
        {
            throw new SharpLMException(
                $"{path} is not a usable Hugging Face tokenizer.json ({e.Message}); the file is corrupt or truncated, write or "
                    + "download it again."
            );
        }
        catch (SharpLMException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new SharpLMException($"{path}: {e.Message}", e);
        }
    }

    static SharpLMException Corrupt(string what) => new($"{what}; the file is corrupt or not a Hugging Face tokenizer.json");

    static Tokenizer Parse(JsonObject root)
    {
        var model = root["model"] as JsonObject ?? throw Corrupt("field 'model' is missing");
        string type = (string?)model["type"] ?? InferModelType(model);
        var added = ParseAddedTokens(root["added_tokens"]);
        var normalizer = ParseNormalizer(root["normalizer"]);
        var (preTokenizer, byteLevelPre, addPrefixSpace) = ParsePreTokenizer(root["pre_tokenizer"]);
        string? decoder = (string?)root["decoder"]?["type"];
        var vocab = model["vocab"] as JsonObject ?? throw Corrupt("field 'model.vocab' is missing or not an object");
        RequireContiguousIds(vocab, added);

        switch (type)
        {
            case "BPE":
            {
                var merges = ParseMerges(model["merges"]);
                bool byteLevel = byteLevelPre || decoder == "ByteLevel";
                if (!byteLevel)
                {
                    if (merges.Count == 0 && decoder == "Fuse")
                        return new CharTokenizer(
                            VocabById(vocab).Select(t => t ?? throw Corrupt("char vocabulary ids are not contiguous")),
                            added
                        );
                    throw new SharpLMException(
                        "only byte-level BPE (ByteLevel pre-tokenizer or decoder) and char-level BPE (no merges, Fuse decoder) are "
                            + "supported"
                    );
                }
                if (
                    (bool?)model["byte_fallback"] == true
                    || !string.IsNullOrEmpty((string?)model["continuing_subword_prefix"])
                    || !string.IsNullOrEmpty((string?)model["end_of_word_suffix"])
                )
                    throw new SharpLMException(
                        "byte-level BPE with byte_fallback, continuing_subword_prefix or end_of_word_suffix is not supported"
                    );
                var byId = VocabById(vocab);
                var tokens = new string[byId.Count];
                for (int id = 0; id < byId.Count; id++)
                    tokens[id] = (byId[id] is { } t ? ByteLevel.FromVocabForm(t) : null) ?? $"\uFFFF{id}"; // never matches a byte piece
                var internalMerges = merges
                    .Select(m =>
                        (
                            ByteLevel.FromVocabForm(m.Left)
                                ?? throw Corrupt($"merge '{m.Left} {m.Right}' has a character outside the byte alphabet"),
                            ByteLevel.FromVocabForm(m.Right)
                                ?? throw Corrupt($"merge '{m.Left} {m.Right}' has a character outside the byte alphabet")
                        )
                    )
                    .ToList();
                int? unk = (string?)model["unk_token"] is { } unkToken && vocab[unkToken] is { } unkId ? (int)unkId : null;
                var bpe = new BpeModel(tokens, internalMerges, wholePieceFirst: (bool?)model["ignore_merges"] ?? false, unk);
                return new ByteLevelBpeTokenizer(bpe, preTokenizer ?? WholeTextPreTokenizer.Instance, added, normalizer, addPrefixSpace);
            }
            case "WordPiece":
            {
                var tokens = VocabById(vocab).Select(t => t ?? throw Corrupt("WordPiece vocabulary ids are not contiguous")).ToList();
                return new WordPieceTokenizer(
                    tokens,
                    added.Count > 0 ? added : null,
                    (string?)model["unk_token"] ?? "[UNK]",
                    (string?)model["continuing_subword_prefix"] ?? "##",
                    (int?)model["max_input_chars_per_word"] ?? 100,
                    normalizer,
                    preTokenizer
                );
            }
            default:
                throw new SharpLMException($"model type '{type}' is not supported (SharpLM reads BPE and WordPiece)");
        }
    }

    static string InferModelType(JsonObject model) =>
        model["merges"] != null ? "BPE"
        : model["continuing_subword_prefix"] != null ? "WordPiece"
        : throw Corrupt("field 'model.type' is missing");

    static List<AddedToken> ParseAddedTokens(JsonNode? node)
    {
        var list = new List<AddedToken>();
        var ids = new HashSet<int>();
        var contents = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in node as JsonArray ?? [])
        {
            int id = (int?)t?["id"] ?? throw Corrupt("an added token has no id");
            string content = (string?)t!["content"] ?? throw Corrupt($"added token {id} has no content");
            if (id < 0)
                throw Corrupt($"added token '{content}' has negative id {id}");
            if (content.Length == 0)
                throw Corrupt($"added token {id} has empty content");
            if (!ids.Add(id))
                throw Corrupt($"two added tokens have id {id}");
            if (!contents.Add(content))
                throw Corrupt($"two added tokens are '{content}'");
            list.Add(new AddedToken(id, content, (bool?)t["special"] ?? false));
        }
        return list;
    }

    /// <summary>
    /// Every id from 0 to the largest must belong to a vocabulary entry or an added token: a hole (or a huge id such as
    /// int.MaxValue) would otherwise size arrays by the id and give ids no text.
    /// </summary>
    static void RequireContiguousIds(JsonObject vocab, List<AddedToken> added)
    {
        long limit = (long)vocab.Count + added.Count;
        var used = new bool[limit];
        int size = 0;
        foreach (var (token, node) in vocab)
        {
            int id = (int?)node ?? throw Corrupt($"token '{token}' has no id");
            if (id < 0 || id >= limit)
                throw Corrupt($"token '{token}' has id {id}, outside the {limit} ids the vocabulary and added tokens can fill");
            used[id] = true;
            size = Math.Max(size, id + 1);
        }
        foreach (var t in added)
        {
            if (t.Id >= limit)
                throw Corrupt($"added token '{t.Content}' has id {t.Id}, outside the {limit} ids the vocabulary and added tokens can fill");
            used[t.Id] = true;
            size = Math.Max(size, t.Id + 1);
        }
        int hole = Array.IndexOf(used, false, 0, size);
        if (hole >= 0)
            throw Corrupt($"no token has id {hole}, below the largest id {size - 1}");
    }

    static List<string?> VocabById(JsonObject vocab)
    {
        int size = 0;
        foreach (var (_, id) in vocab)
            size = Math.Max(size, (int)id! + 1); // bounded by RequireContiguousIds
        var byId = new List<string?>(new string?[size]);
        foreach (var (token, id) in vocab)
        {
            int i = (int)id!;
            if (byId[i] != null)
                throw Corrupt($"id {i} is given to both '{byId[i]}' and '{token}'");
            byId[i] = token;
        }
        return byId;
    }

    static List<(string Left, string Right)> ParseMerges(JsonNode? merges)
    {
        var list = new List<(string, string)>();
        foreach (var m in merges as JsonArray ?? [])
        {
            if (m is JsonArray pair && pair.Count == 2)
                list.Add(((string)pair[0]!, (string)pair[1]!));
            else if (m is JsonValue v && v.TryGetValue(out string? s))
            {
                int space = s.IndexOf(' ', 1);
                if (space < 0)
                    throw Corrupt($"merge '{s}' is not two tokens separated by a space");
                list.Add((s[..space], s[(space + 1)..]));
            }
            else
                throw Corrupt("a merge is neither \"a b\" nor [\"a\", \"b\"]");
        }
        return list;
    }

    static TextNormalizer? ParseNormalizer(JsonNode? node)
    {
        if (node is null)
            return null;
        string type = (string?)node["type"] ?? throw Corrupt("a normalizer has no type");
        return type switch
        {
            "NFC" => new UnicodeNormalizer(NormalizationForm.FormC),
            "NFD" => new UnicodeNormalizer(NormalizationForm.FormD),
            "NFKC" => new UnicodeNormalizer(NormalizationForm.FormKC),
            "NFKD" => new UnicodeNormalizer(NormalizationForm.FormKD),
            "Lowercase" => new LowercaseNormalizer(),
            "BertNormalizer" => new BertNormalizer(
                (bool?)node["clean_text"] ?? true,
                (bool?)node["handle_chinese_chars"] ?? true,
                (bool?)node["strip_accents"],
                (bool?)node["lowercase"] ?? true
            ),
            "Sequence" => new SequenceNormalizer(
                (node["normalizers"] as JsonArray ?? []).Select(ParseNormalizer).OfType<TextNormalizer>().ToList()
            ),
            _ => throw new SharpLMException($"normalizer type '{type}' is not supported"),
        };
    }

    static (PreTokenizer? Pre, bool ByteLevel, bool AddPrefixSpace) ParsePreTokenizer(JsonNode? node)
    {
        if (node is null)
            return (null, false, false);
        string type = (string?)node["type"] ?? throw Corrupt("a pre-tokenizer has no type");
        switch (type)
        {
            case "ByteLevel":
                return (
                    (bool?)node["use_regex"] ?? true ? Gpt2PreTokenizer.Instance : null,
                    true,
                    (bool?)node["add_prefix_space"] ?? false
                );
            case "BertPreTokenizer":
                return (BertPreTokenizer.Instance, false, false);
            case "Split":
            {
                if ((bool?)node["invert"] == true)
                    throw new SharpLMException("Split pre-tokenizer with invert=true is not supported");
                var pattern = node["pattern"] ?? throw Corrupt("Split pre-tokenizer has no pattern");
                bool isRegex = pattern["Regex"] != null;
                string text =
                    (string?)(pattern["Regex"] ?? pattern["String"]) ?? throw Corrupt("Split pattern is neither Regex nor String");
                return (new RegexSplitPreTokenizer(text, isRegex, (string?)node["behavior"] ?? "Isolated"), false, false);
            }
            case "Sequence":
            {
                var steps = new List<PreTokenizer>();
                bool byteLevel = false,
                    prefix = false;
                foreach (var child in node["pretokenizers"] as JsonArray ?? [])
                {
                    var (pre, bl, ap) = ParsePreTokenizer(child);
                    if (pre != null)
                        steps.Add(pre);
                    byteLevel |= bl;
                    prefix |= ap;
                }
                return (steps.Count == 1 ? steps[0] : new SequencePreTokenizer(steps), byteLevel, prefix);
            }
            default:
                throw new SharpLMException($"pre-tokenizer type '{type}' is not supported");
        }
    }

    // ---------------------------------------------------------------- writing

    public static void Save(Tokenizer tokenizer, string path)
    {
        if (Directory.Exists(path))
            path = Path.Combine(path, "tokenizer.json");
        AtomicFile.WriteAllText(path, ToJson(tokenizer).ToJsonString(Json.Indented)); // JsonNode keys are kept as written
    }

    public static JsonObject ToJson(Tokenizer tokenizer)
    {
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new JsonArray(
                tokenizer
                    .AddedTokens.Select(t =>
                        (JsonNode)
                            new JsonObject
                            {
                                ["id"] = t.Id,
                                ["content"] = t.Content,
                                ["single_word"] = false,
                                ["lstrip"] = false,
                                ["rstrip"] = false,
                                ["normalized"] = false,
                                ["special"] = t.Special,
                            }
                    )
                    .ToArray()
            ),
        };
        switch (tokenizer)
        {
            case ByteLevelBpeTokenizer bpe:
                root["normalizer"] = NormalizerJson(bpe.Normalizer);
                root["pre_tokenizer"] = PreTokenizerJson(bpe.PreTokenizer, bpe.AddPrefixSpace);
                root["post_processor"] = null;
                root["decoder"] = new JsonObject
                {
                    ["type"] = "ByteLevel",
                    ["add_prefix_space"] = true,
                    ["trim_offsets"] = true,
                    ["use_regex"] = true,
                };
                var vocab = new JsonObject();
                for (int id = 0; id < bpe.Model.VocabSize; id++)
                {
                    string t = bpe.Model.TokenAt(id);
                    if (t.Length > 0 && t[0] == '\uFFFF')
                        continue; // placeholder for an id owned by an added token
                    vocab[ByteLevel.ToVocabForm(t)] = id;
                }
                root["model"] = new JsonObject
                {
                    ["type"] = "BPE",
                    ["dropout"] = null,
                    ["unk_token"] = null,
                    ["continuing_subword_prefix"] = "",
                    ["end_of_word_suffix"] = "",
                    ["fuse_unk"] = false,
                    ["byte_fallback"] = false,
                    ["ignore_merges"] = bpe.Model.WholePieceFirst,
                    ["vocab"] = vocab,
                    ["merges"] = new JsonArray(
                        bpe.Model.Merges.Select(m => (JsonNode)(ByteLevel.ToVocabForm(m.Left) + " " + ByteLevel.ToVocabForm(m.Right)))
                            .ToArray()
                    ),
                };
                break;
            case WordPieceTokenizer wp:
                root["normalizer"] = NormalizerJson(wp.Normalizer);
                root["pre_tokenizer"] = PreTokenizerJson(wp.PreTokenizer, false);
                root["post_processor"] =
                    wp.SpecialTokenId("[CLS]") is int cls && wp.SpecialTokenId("[SEP]") is int sep
                        ? new JsonObject
                        {
                            ["type"] = "BertProcessing",
                            ["sep"] = new JsonArray("[SEP]", sep),
                            ["cls"] = new JsonArray("[CLS]", cls),
                        }
                        : null;
                root["decoder"] = new JsonObject
                {
                    ["type"] = "WordPiece",
                    ["prefix"] = wp.ContinuingSubwordPrefix,
                    ["cleanup"] = true,
                };
                root["model"] = new JsonObject
                {
                    ["type"] = "WordPiece",
                    ["unk_token"] = wp.UnknownToken,
                    ["continuing_subword_prefix"] = wp.ContinuingSubwordPrefix,
                    ["max_input_chars_per_word"] = wp.MaxInputCharsPerWord,
                    ["vocab"] = VocabJson(wp.Vocabulary),
                };
                break;
            case CharTokenizer ch:
                root["normalizer"] = null;
                root["pre_tokenizer"] = null;
                root["post_processor"] = null;
                root["decoder"] = new JsonObject { ["type"] = "Fuse" };
                root["model"] = new JsonObject
                {
                    ["type"] = "BPE",
                    ["dropout"] = null,
                    ["unk_token"] = null,
                    ["continuing_subword_prefix"] = null,
                    ["end_of_word_suffix"] = null,
                    ["fuse_unk"] = false,
                    ["byte_fallback"] = false,
                    ["ignore_merges"] = false,
                    ["vocab"] = VocabJson(ch.Characters),
                    ["merges"] = new JsonArray(),
                };
                break;
            default:
                throw new ArgumentException($"No tokenizer.json form for {tokenizer.GetType().Name}.");
        }
        return root;
    }

    static JsonObject VocabJson(IReadOnlyList<string> tokens)
    {
        var vocab = new JsonObject();
        for (int i = 0; i < tokens.Count; i++)
            vocab[tokens[i]] = i;
        return vocab;
    }

    static JsonNode? NormalizerJson(TextNormalizer? n) =>
        n switch
        {
            null => null,
            UnicodeNormalizer u => new JsonObject
            {
                ["type"] = u.Form switch
                {
                    NormalizationForm.FormC => "NFC",
                    NormalizationForm.FormD => "NFD",
                    NormalizationForm.FormKC => "NFKC",
                    _ => "NFKD",
                },
            },
            LowercaseNormalizer => new JsonObject { ["type"] = "Lowercase" },
            BertNormalizer b => new JsonObject
            {
                ["type"] = "BertNormalizer",
                ["clean_text"] = b.CleanText,
                ["handle_chinese_chars"] = b.HandleChineseChars,
                ["strip_accents"] = b.StripAccents,
                ["lowercase"] = b.Lowercase,
            },
            SequenceNormalizer s => new JsonObject
            {
                ["type"] = "Sequence",
                ["normalizers"] = new JsonArray(s.Steps.Select(NormalizerJson).ToArray()),
            },
            _ => throw new ArgumentException($"No tokenizer.json form for {n.GetType().Name}."),
        };

    static JsonNode PreTokenizerJson(PreTokenizer pre, bool addPrefixSpace)
    {
        JsonObject ByteLevelNode(bool useRegex) =>
            new()
            {
                ["type"] = "ByteLevel",
                ["add_prefix_space"] = addPrefixSpace,
                ["trim_offsets"] = true,
                ["use_regex"] = useRegex,
            };
        JsonObject Split(RegexSplitPreTokenizer s) =>
            new()
            {
                ["type"] = "Split",
                ["pattern"] = s.IsRegex ? new JsonObject { ["Regex"] = s.Pattern } : new JsonObject { ["String"] = s.Pattern },
                ["behavior"] = s.Behavior,
                ["invert"] = false,
            };
        return pre switch
        {
            Gpt2PreTokenizer => ByteLevelNode(true),
            BertPreTokenizer => new JsonObject { ["type"] = "BertPreTokenizer" },
            RegexSplitPreTokenizer s => new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(Split(s), ByteLevelNode(false)),
            },
            WholeTextPreTokenizer => ByteLevelNode(false),
            _ => throw new ArgumentException($"No tokenizer.json form for {pre.GetType().Name}."),
        };
    }
}
