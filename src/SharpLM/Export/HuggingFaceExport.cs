using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLM.IO;
using SharpLM.Kinds;
using SharpLM.Models;
using SharpLM.Tokenization;
using SharpLM.Training;
using static TorchSharp.torch;

namespace SharpLM.Export;

/// <summary>
/// A run as the folder a transformers user loads with <c>from_pretrained</c>: config.json with transformers' fields only
/// (id2label/label2id for classifiers), model.safetensors in transformers' names and orientation, tokenizer.json with
/// tokenizer_config.json and special_tokens_map.json, generation_config.json for language models, and a model card.
/// </summary>
public static class HuggingFaceExport
{
    /// <summary>Writes the folder into <paramref name="dir"/> and returns how the re-loaded copy compared with the run.</summary>
    public static string Write(LoadedModel loaded, string dir)
    {
        var (architecture, weights) = loaded.Module switch
        {
            Gpt gpt => ("GPT2LMHeadModel", (Action<string>)gpt.SaveWeights),
            GptClassifier c => ("GPT2ForSequenceClassification", c.SaveWeights),
            BertForMaskedLm m when m.HasMaskedLmHead => ("BertForMaskedLM", path => ModuleWeights.Save(m, path)),
            BertClassifier c => ("BertForSequenceClassification", c.SaveWeights),
            BertTokenClassifier t => ("BertForTokenClassification", t.SaveWeights),
            GptTokenClassifier t => ("GPT2ForTokenClassification", t.SaveWeights),
            BertQuestionAnswering q => ("BertForQuestionAnswering", q.SaveWeights),
            _ => throw ModelExport.CannotHold(
                loaded,
                "Hugging Face",
                "GPT-2 and BERT models (language models, masked-LM encoders with their head, classifiers, token classifiers, QA)"
            ),
        };
        if (loaded.Config is GptConfig { HeadDimOverride: not null })
            throw new SharpLMException(
                $"{loaded.Run.Path} has pruned attention heads (head_dim ≠ n_embd / n_head), which transformers' GPT-2 cannot express; "
                    + "export the run before head pruning, or prune neurons instead."
            );
        var tokenizer = loaded.Tokenizer;
        var config = Config(loaded, architecture, tokenizer);
        AtomicFile.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString(Json.Indented));
        weights(Path.Combine(dir, "model.safetensors"));
        tokenizer.Save(Path.Combine(dir, "tokenizer.json"));
        var specials = SpecialTokens(tokenizer);
        AtomicFile.WriteAllText(Path.Combine(dir, "special_tokens_map.json"), specials.ToJsonString(Json.Indented));
        AtomicFile.WriteAllText(
            Path.Combine(dir, "tokenizer_config.json"),
            TokenizerConfig(loaded, tokenizer, specials).ToJsonString(Json.Indented)
        );
        if (loaded.Module is Gpt g)
            AtomicFile.WriteAllText(
                Path.Combine(dir, "generation_config.json"),
                new JsonObject
                {
                    ["bos_token_id"] = g.Config.BosTokenId,
                    ["eos_token_id"] = g.Config.EosTokenId,
                    ["max_length"] = g.Config.NPositions,
                    ["do_sample"] = false,
                }.ToJsonString(Json.Indented)
            );
        File.WriteAllText(Path.Combine(dir, "README.md"), ModelCard(loaded, architecture));
        return Check(loaded, dir);
    }

    /// <summary>The run's config.json with SharpLM's own fields replaced by transformers' (labels → id2label/label2id).</summary>
    static JsonObject Config(LoadedModel loaded, string architecture, Tokenizer tokenizer)
    {
        var config = JsonNode.Parse(File.ReadAllText(loaded.Run.Config))!.AsObject();
        foreach (string own in new[] { "labels", "max_input_tokens", "quantization_config", "head_dim", "qa_windows" })
            config.Remove(own);
        config["architectures"] = new JsonArray(architecture);
        config["torch_dtype"] = "float32";
        if (loaded.Config?.Labels is { } labels)
        {
            var id2Label = new JsonObject();
            var label2Id = new JsonObject();
            for (int i = 0; i < labels.Length; i++)
            {
                id2Label[i.ToString(CultureInfo.InvariantCulture)] = labels[i];
                label2Id[labels[i]] = i;
            }
            config["id2label"] = id2Label;
            config["label2id"] = label2Id;
        }
        if (loaded.Module is GptClassifier)
            // GPT2ForSequenceClassification finds each row's last token by its pad id; SharpLM pads with id 0.
            config["pad_token_id"] = tokenizer.SpecialTokenId(Gpt2Tokenizer.EndOfText) ?? 0;
        return config;
    }

    static readonly (string Key, string[] Candidates)[] SpecialRoles =
    [
        ("bos_token", [Gpt2Tokenizer.EndOfText, "[CLS]", "<s>"]),
        ("eos_token", [Gpt2Tokenizer.EndOfText, "[SEP]", "</s>"]),
        ("unk_token", ["[UNK]", "<unk>", Gpt2Tokenizer.EndOfText]),
        ("pad_token", ["[PAD]", "<pad>"]),
        ("sep_token", ["[SEP]"]),
        ("cls_token", ["[CLS]"]),
        ("mask_token", ["[MASK]"]),
    ];

    static JsonObject SpecialTokens(Tokenizer tokenizer)
    {
        var map = new JsonObject();
        foreach (var (key, candidates) in SpecialRoles)
            if (candidates.FirstOrDefault(c => tokenizer.SpecialTokenId(c) is not null) is string token)
                map[key] = token;
        return map;
    }

    static JsonObject TokenizerConfig(LoadedModel loaded, Tokenizer tokenizer, JsonObject specials)
    {
        string tokenizerClass = tokenizer switch
        {
            WordPieceTokenizer => "BertTokenizerFast",
            ByteLevelBpeTokenizer => "GPT2TokenizerFast",
            _ => "PreTrainedTokenizerFast",
        };
        var config = new JsonObject
        {
            ["tokenizer_class"] = tokenizerClass,
            ["model_max_length"] = loaded.Config?.Context,
            ["clean_up_tokenization_spaces"] = false,
        };
        foreach (var (key, value) in specials)
            config[key] = value!.DeepClone();
        return config;
    }

    static string ModelCard(LoadedModel loaded, string architecture)
    {
        var run = loaded.Run;
        string pipeline = loaded.Kind.Task;
        var card = new StringBuilder();
        card.AppendLine("---");
        card.AppendLine("library_name: transformers");
        card.AppendLine($"pipeline_tag: {pipeline}");
        card.AppendLine("tags:");
        card.AppendLine("- sharplm");
        card.AppendLine("---");
        card.AppendLine();
        card.AppendLine($"# {Path.GetFileName(run.Path.TrimEnd(Path.DirectorySeparatorChar))}");
        card.AppendLine();
        card.AppendLine(
            $"A {loaded.Kind.Description} trained with SharpLM and exported as a transformers "
                + $"`{architecture}`: {loaded.Config?.Describe() ?? architecture}, {loaded.Parameters:N0} parameters, "
                + $"{loaded.Tokenizer.Kind} tokenizer of {loaded.Tokenizer.VocabSize:N0} tokens."
        );
        card.AppendLine();
        card.AppendLine("## Training data");
        card.AppendLine();
        card.AppendLine(
            File.Exists(run.Data) ? $"Prepared data folder: `{File.ReadAllText(run.Data).Trim()}`." : "Not recorded with the run."
        );
        card.AppendLine();
        card.AppendLine("## Training settings");
        card.AppendLine();
        card.AppendLine(JsonBlock(run.Training) ?? "Not recorded with the run (imported or converted model).");
        card.AppendLine();
        card.AppendLine("## Results");
        card.AppendLine();
        string? results = JsonBlock(run.Metrics) ?? JsonBlock(Path.Combine(run.Path, "test_report.json"));
        card.AppendLine(results ?? "No evaluation was recorded with the run.");
        card.AppendLine();
        card.AppendLine("## Use");
        card.AppendLine();
        card.AppendLine("```python");
        card.AppendLine($"from transformers import AutoTokenizer, {architecture}");
        card.AppendLine("tokenizer = AutoTokenizer.from_pretrained(\"PATH\")");
        card.AppendLine($"model = {architecture}.from_pretrained(\"PATH\")");
        card.AppendLine("```");
        card.AppendLine();
        card.AppendLine(
            "or with SharpLM: `sharplm "
                + (
                    pipeline == "text-generation" ? "generate"
                    : pipeline == "fill-mask" ? "fill-mask"
                    : "classify"
                )
                + " --model PATH ...`."
        );
        return card.ToString();
    }

    /// <summary>A JSON file as a fenced block, or null when it is absent or unreadable.</summary>
    static string? JsonBlock(string path)
    {
        if (!File.Exists(path))
            return null;
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(path));
            return node is null ? null : $"```json\n{node.ToJsonString(Json.Indented)}\n```";
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Loads the written folder and compares its outputs with the run's on one fixed input.</summary>
    static string Check(LoadedModel loaded, string dir)
    {
        using var copy = ModelRegistry.Load(dir);
        double diff = ExportCheck.MaxDifference(loaded, copy.Module);
        if (!(diff <= 1e-5))
            throw new InvalidOperationException($"The exported folder computes outputs {diff:G3} away from the run's.");
        return $"re-loaded outputs within {diff:G2} of the run's";
    }
}

/// <summary>Compares an exported model's outputs with the run's on one fixed input.</summary>
internal static class ExportCheck
{
    /// <summary>A short fixed input: ids 1, 2, 3… (within the vocabulary and the context).</summary>
    public static long[] Probe(LoadedModel loaded, int length = 8)
    {
        int vocabulary = loaded.Tokenizer.VocabSize;
        int n = Math.Min(length, loaded.Config?.Context ?? length);
        return Enumerable.Range(1, n).Select(i => (long)(i % vocabulary)).ToArray();
    }

    /// <summary>The largest absolute difference between two models' outputs on <see cref="Probe"/>.</summary>
    public static double MaxDifference(LoadedModel loaded, nn.Module other)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = tensor(Probe(loaded)).unsqueeze(0);
        var attend = ones_like(ids, ScalarType.Bool);
        return Outputs(loaded.Module, ids, attend).sub(Outputs(other, ids, attend)).abs().max().item<float>();
    }

    /// <summary>Start and end logits stacked [2, B, T] (one segment: the probe is not a question-context pair).</summary>
    static Tensor SpanLogits(BertQuestionAnswering q, Tensor ids, Tensor attend)
    {
        var (start, end) = q.forward(ids, attend, zeros_like(ids));
        return stack([start, end]);
    }

    public static Tensor Outputs(nn.Module module, Tensor ids, Tensor attend) =>
        module switch
        {
            Gpt g => g.forward(ids),
            ISequenceClassifier c => c.Logits(ids, attend),
            ITokenClassifier t => t.TagLogits(ids, attend),
            BertQuestionAnswering q => SpanLogits(q, ids, attend),
            BertForMaskedLm m => m.forward(ids, attend),
            _ => throw new ArgumentException($"No output to compare for {module.GetType().Name}.", nameof(module)),
        };
}
