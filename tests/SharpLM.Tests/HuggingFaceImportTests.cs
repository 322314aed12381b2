using System.Text.Json.Nodes;
using SharpLM.IO;
using SharpLM.Models;
using SharpLM.Runtime;
using SharpLM.Tokenization;
using static TorchSharp.torch;

namespace SharpLM.Tests;

/// <summary>
/// Hugging Face model folders (config.json + safetensors + tokenizer files, no training.json) load and compute what
/// the run they were made from computes. The folders are written here the way transformers writes them: its config
/// fields, base-model names without the task prefix, the causal-mask buffers older versions saved, a tied lm_head,
/// shards with an index, legacy LayerNorm gamma/beta names.
/// </summary>
[Collection(TorchCollection.Name)]
public class HuggingFaceImportTests
{
    /// <summary>GPT-2's config.json as transformers writes it, with this model's sizes.</summary>
    static JsonObject Gpt2Config(GptConfig c) =>
        new()
        {
            ["activation_function"] = "gelu_new",
            ["architectures"] = new JsonArray("GPT2LMHeadModel"),
            ["attn_pdrop"] = 0.1,
            ["bos_token_id"] = c.BosTokenId,
            ["embd_pdrop"] = 0.1,
            ["eos_token_id"] = c.EosTokenId,
            ["initializer_range"] = 0.02,
            ["layer_norm_epsilon"] = 1e-05,
            ["model_type"] = "gpt2",
            ["n_ctx"] = c.NPositions,
            ["n_embd"] = c.NEmbd,
            ["n_head"] = c.NHead,
            ["n_inner"] = null,
            ["n_layer"] = c.NLayer,
            ["n_positions"] = c.NPositions,
            ["reorder_and_upcast_attn"] = false,
            ["resid_pdrop"] = 0.1,
            ["scale_attn_by_inverse_layer_idx"] = false,
            ["scale_attn_weights"] = true,
            ["summary_activation"] = null,
            ["summary_first_dropout"] = 0.1,
            ["summary_proj_to_labels"] = true,
            ["summary_type"] = "cls_index",
            ["summary_use_proj"] = true,
            ["task_specific_params"] = new JsonObject
            {
                ["text-generation"] = new JsonObject { ["do_sample"] = true, ["max_length"] = 50 },
            },
            ["torch_dtype"] = "float32",
            ["transformers_version"] = "4.46.3",
            ["use_cache"] = true,
            ["vocab_size"] = c.VocabSize,
        };

    /// <summary>
    /// The run as a Hugging Face GPT-2 folder: names without "transformer." (as the hub's gpt2 file), attn.bias
    /// buffers, lm_head.weight, in <paramref name="shards"/> files; config edited by <paramref name="edit"/>.
    /// </summary>
    internal static string HfGptFolder(string run, int shards = 1, Action<JsonObject>? edit = null, string? dtype = null)
    {
        string dir = Path.Combine(TestData.TempDir(), "hf-gpt2");
        Directory.CreateDirectory(dir);
        var config = GptConfig.Load(Path.Combine(run, "config.json"));
        var json = Gpt2Config(config);
        edit?.Invoke(json);
        File.WriteAllText(Path.Combine(dir, "config.json"), json.ToJsonString());
        File.Copy(Path.Combine(run, "tokenizer.json"), Path.Combine(dir, "tokenizer.json"));
        var file = Safetensors.File.Open(Path.Combine(run, "model.safetensors"));
        using var scope = NewDisposeScope();
        var tensors = file.Entries.Keys.Select(k => (Name: k[Gpt.HuggingFacePrefix.Length..], Tensor: file.Read(k))).ToList();
        tensors.Add(("lm_head.weight", file.Read(Gpt.HuggingFacePrefix + "wte.weight")));
        if (dtype == "F16")
            tensors = tensors.Select(t => (t.Name, t.Tensor.to(ScalarType.Float16))).ToList();
        for (int i = 0; i < config.NLayer; i++)
            tensors.Add(($"h.{i}.attn.bias", ones(1, 1, config.NPositions, config.NPositions).tril()));
        WriteShards(dir, tensors, shards);
        return dir;
    }

    internal static void WriteShards(string dir, List<(string Name, Tensor Tensor)> tensors, int shards)
    {
        if (shards == 1)
        {
            Safetensors.Save(Path.Combine(dir, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
            return;
        }
        var map = new JsonObject();
        for (int s = 0; s < shards; s++)
        {
            string name = $"model-{s + 1:D5}-of-{shards:D5}.safetensors";
            var part = tensors.Where((_, i) => i % shards == s).ToList();
            Safetensors.Save(Path.Combine(dir, name), part, new Dictionary<string, string> { ["format"] = "pt" });
            foreach (var (t, _) in part)
                map[t] = name;
        }
        File.WriteAllText(
            Path.Combine(dir, "model.safetensors.index.json"),
            new JsonObject
            {
                ["metadata"] = new JsonObject { ["total_size"] = 0 },
                ["weight_map"] = map,
            }.ToJsonString()
        );
    }

    static float[] Logits(string folder, long[] ids)
    {
        using var loaded = ModelRegistry.Load(folder);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return loaded.As<Gpt>("test").forward(tensor(ids).unsqueeze(0)).flatten().data<float>().ToArray();
    }

    static readonly long[] Probe = [3, 10, 20, 1, 7, 7, 12];

    [Fact]
    public async Task AHuggingFaceGpt2FolderGeneratesAsTheRunItCameFrom()
    {
        string run = await ServingModels.TrainedGpt();
        string hf = HfGptFolder(run);
        Assert.False(File.Exists(Path.Combine(hf, "training.json")));
        Assert.Equal(Logits(run, Probe), Logits(hf, Probe));

        var ours = await Cli.Run("generate", "--model", run, "--prompt", "User: Call", "--temperature", "0", "--max-new-tokens", "30");
        var theirs = await Cli.Run("generate", "--model", hf, "--prompt", "User: Call", "--temperature", "0", "--max-new-tokens", "30");
        Assert.True(theirs.Code == 0, theirs.Err);
        Assert.Equal(ours.Out, theirs.Out);

        string data = File.ReadAllText(Path.Combine(run, "data.txt")).Trim();
        var eval = await Cli.Run("eval", "--model", hf, "--data", data, "--json");
        Assert.True(eval.Code == 0, eval.Err);
        var evalRun = await Cli.Run("eval", "--model", run, "--json");
        Assert.Equal((double)JsonNode.Parse(evalRun.Out)!["loss"]!, (double)JsonNode.Parse(eval.Out)!["loss"]!, 6);
    }

    [Fact]
    public async Task ShardedAndHalfPrecisionWeightsLoad()
    {
        string run = await ServingModels.TrainedGpt();
        Assert.Equal(Logits(run, Probe), Logits(HfGptFolder(run, shards: 3), Probe));
        // fp16 storage (torch_dtype float16 on the hub) is widened on load: the same model to fp16 rounding.
        var half = Logits(HfGptFolder(run, dtype: "F16"), Probe);
        var full = Logits(run, Probe);
        Assert.All(full.Zip(half), p => Assert.True(Math.Abs(p.First - p.Second) < 0.05, $"{p.First} vs {p.Second}"));
    }

    [Fact]
    public async Task AShardIndexThatLiesIsOneLine()
    {
        string hf = HfGptFolder(await ServingModels.TrainedGpt(), shards: 2);
        string index = Path.Combine(hf, "model.safetensors.index.json");
        var json = JsonNode.Parse(File.ReadAllText(index))!;
        json["weight_map"]!["wte.weight"] = "../elsewhere.safetensors";
        File.WriteAllText(index, json.ToJsonString());
        var r = await Cli.Run("generate", "--model", hf, "--prompt", "a");
        Assert.Equal(1, r.Code);
        Assert.Contains("not a file name in the folder", r.Err);
        Assert.Single(r.Err.Trim().Split('\n'));
    }

    [Theory]
    [InlineData("scale_attn_by_inverse_layer_idx", "true", "scale_attn_by_inverse_layer_idx")]
    [InlineData("scale_attn_weights", "false", "scale_attn_weights")]
    [InlineData("activation_function", "\"mish\"", "activation_function 'mish'")]
    [InlineData("add_cross_attention", "true", "add_cross_attention")]
    [InlineData("model_type", "\"llama\"", "'llama' model")]
    [InlineData("n_embd", "64", "config.json needs")]
    public async Task ConfigFieldsThatChangeTheMathsAreHonouredOrRefused(string field, string value, string expected)
    {
        string hf = HfGptFolder(await ServingModels.TrainedGpt(), edit: c => c[field] = JsonNode.Parse(value));
        var r = await Cli.Run("generate", "--model", hf, "--prompt", "a");
        Assert.Equal(1, r.Code);
        Assert.Contains(expected, r.Err);
        Assert.Single(r.Err.Trim().Split('\n'));
        Assert.DoesNotContain("   at ", r.Err);
    }

    [Fact]
    public async Task HonouredFieldsChangeTheOutputsAsTransformersWould()
    {
        string run = await ServingModels.TrainedGpt();
        // reorder_and_upcast_attn only moves the scaling and computes in fp32: the same logits in fp32.
        Assert.Equal(Logits(run, Probe), Logits(HfGptFolder(run, edit: c => c["reorder_and_upcast_attn"] = true), Probe));
        // bf16 compute would contradict it, so it is refused.
        var r = await Cli.Run(
            "generate",
            "--model",
            HfGptFolder(run, edit: c => c["reorder_and_upcast_attn"] = true),
            "--prompt",
            "a",
            "--precision",
            "bf16"
        );
        Assert.Equal(1, r.Code);
        Assert.Contains("reorder_and_upcast_attn", r.Err);
        // The exact GELU is a different function from GPT-2's tanh form: honoured, so the logits move (slightly).
        var exact = Logits(HfGptFolder(run, edit: c => c["activation_function"] = "gelu"), Probe);
        var diff = Logits(run, Probe).Zip(exact).Max(p => Math.Abs(p.First - p.Second));
        Assert.InRange(diff, 1e-6, 0.5);
    }

    [Fact]
    public void ActivationsAreTransformersFormulas()
    {
        using var scope = NewDisposeScope();
        var x = linspace(-4, 4, 81);
        var xs = x.data<float>().ToArray();
        // transformers' NewGELUActivation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
        var expected = xs.Select(v => 0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)))).ToArray();
        var got = Models.Layers.Activation.Apply("gelu_new", x).data<float>().ToArray();
        Assert.All(expected.Zip(got), p => Assert.Equal(p.First, p.Second, 5));
        var silu = Models.Layers.Activation.Apply("silu", x).data<float>().ToArray();
        Assert.All(xs.Zip(silu), p => Assert.Equal(p.First / (1 + Math.Exp(-p.First)), p.Second, 5));
    }

    [Fact]
    public async Task UnknownOrMissingWeightsAreNamed()
    {
        string run = await ServingModels.TrainedGpt();
        string hf = HfGptFolder(run);
        string weights = Path.Combine(hf, "model.safetensors");
        var file = Safetensors.File.Open(weights);
        using var scope = NewDisposeScope();
        var original = file.Entries.Keys.Select(k => (Name: k, Tensor: file.Read(k))).ToList();
        Safetensors.Save(weights, [.. original.Where(t => t.Name != "h.0.mlp.c_fc.bias"), ("h.0.attn.rotary.inv_freq", zeros(4))]);
        var r = await Cli.Run("generate", "--model", hf, "--prompt", "a");
        Assert.Equal(1, r.Code);
        Assert.Contains("h.0.mlp.c_fc.bias", r.Err);

        Safetensors.Save(weights, [.. original, ("h.0.attn.rotary.inv_freq", zeros(4))]);
        r = await Cli.Run("generate", "--model", hf, "--prompt", "a");
        Assert.Equal(1, r.Code);
        Assert.Contains("'h.0.attn.rotary.inv_freq'", r.Err);
        Assert.Contains("does not know", r.Err);
    }

    [Fact]
    public async Task AnUntiedLmHeadIsRefused()
    {
        string hf = HfGptFolder(await ServingModels.TrainedGpt());
        string weights = Path.Combine(hf, "model.safetensors");
        var file = Safetensors.File.Open(weights);
        using (var scope = NewDisposeScope())
            Safetensors.Save(
                weights,
                file.Entries.Keys.Select(k => (k, k == "lm_head.weight" ? file.Read(k).Plus(file.Read(k)) : file.Read(k))).ToList()
            );
        var r = await Cli.Run("generate", "--model", hf, "--prompt", "a");
        Assert.Equal(1, r.Code);
        Assert.Contains("lm_head.weight differs", r.Err);
    }

    [Fact]
    public async Task PickledWeightsAreRefusedWithTheReason()
    {
        string hf = HfGptFolder(await ServingModels.TrainedGpt());
        File.Delete(Path.Combine(hf, "model.safetensors"));
        File.WriteAllBytes(Path.Combine(hf, "pytorch_model.bin"), [0x80, 0x02, 0x63]); // a pickle's first bytes
        foreach (var command in new[] { new[] { "generate", "--model", hf, "--prompt", "a" }, ["eval", "--model", hf, "--data", hf] })
        {
            var r = await Cli.Run(command);
            Assert.Equal(1, r.Code);
            Assert.Contains("pytorch_model.bin", r.Err);
            Assert.Contains("pickle", r.Err);
            Assert.Single(r.Err.Trim().Split('\n'));
        }
    }

    [Fact]
    public void Gpt2VocabAndMergesFilesTokenizeAsTheirTokenizerJson()
    {
        string dir = TestData.TempDir();
        string[] texts = ["The whale, the whale!", "Call me Ishmael. Some years ago—never mind how long precisely", "naïve café 123"];
        var bpe = TokenizerTrainer.TrainBpe(
            texts.SelectMany(t => Enumerable.Repeat(t, 5)),
            new TokenizerTrainingOptions { VocabSize = 300 }
        );
        var json = TokenizerJson.ToJson(bpe);
        // GPT-2's vocab.json lists <|endoftext|> with the byte-level tokens.
        var vocab = json["model"]!["vocab"]!.AsObject();
        vocab[Gpt2Tokenizer.EndOfText] = bpe.SpecialTokenId(Gpt2Tokenizer.EndOfText);
        File.WriteAllText(Path.Combine(dir, "vocab.json"), vocab.ToJsonString());
        File.WriteAllLines(
            Path.Combine(dir, "merges.txt"),
            ["#version: 0.2", .. json["model"]!["merges"]!.AsArray().Select(m => (string)m!)]
        );
        var fromFiles = ModelFolderTokenizer.Load(dir);
        foreach (string text in texts.Append("unseen words: harpooneer <|endoftext|>"))
            Assert.Equal(bpe.Encode(text), fromFiles.Encode(text));
        Assert.Equal(bpe.SpecialTokenId(Gpt2Tokenizer.EndOfText), fromFiles.SpecialTokenId(Gpt2Tokenizer.EndOfText));
    }

    [Fact]
    public void BertVocabTxtFollowsDoLowerCase()
    {
        string dir = TestData.TempDir();
        File.WriteAllLines(Path.Combine(dir, "vocab.txt"), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "The", "whale", "##s"]);
        Assert.Equal([5, 7, 8], ModelFolderTokenizer.Load(dir).Encode("The whales"));
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), "{\"do_lower_case\": false}");
        Assert.Equal([6, 7, 8], ModelFolderTokenizer.Load(dir).Encode("The whales"));
        File.Delete(Path.Combine(dir, "vocab.txt"));
        var e = Assert.Throws<SharpLMException>(() => ModelFolderTokenizer.Load(dir));
        Assert.Contains("vocab.txt", e.Message);
    }

    /// <summary>A BERT run rewritten as transformers' files: prefix dropped or kept, heads kept or dropped, gamma/beta names.</summary>
    static string HfBertFolder(string run, string architecture, bool keepPrefix, bool keepHead, bool keepPooler, bool legacyNames = false)
    {
        string dir = Path.Combine(TestData.TempDir(), "hf-bert");
        Directory.CreateDirectory(dir);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "config.json")))!.AsObject();
        config["architectures"] = new JsonArray(architecture);
        config["position_embedding_type"] = "absolute";
        config["use_cache"] = true;
        config["transformers_version"] = "4.46.3";
        if (config["labels"] is JsonArray labels)
        {
            var id2Label = new JsonObject();
            for (int i = 0; i < labels.Count; i++)
                id2Label[i.ToString()] = (string)labels[i]!;
            config.Remove("labels");
            config["id2label"] = id2Label;
        }
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        File.Copy(Path.Combine(run, "tokenizer.json"), Path.Combine(dir, "tokenizer.json"));
        var file = Safetensors.File.Open(Path.Combine(run, "model.safetensors"));
        using var scope = NewDisposeScope();
        var tensors = new List<(string, Tensor)>();
        foreach (var name in file.Entries.Keys)
        {
            bool body = name.StartsWith("bert.", StringComparison.Ordinal);
            if ((!body && !keepHead) || (name.Contains("pooler.") && !keepPooler))
                continue;
            string stored = body && !keepPrefix ? name["bert.".Length..] : name;
            if (legacyNames)
                stored = stored.Replace("LayerNorm.weight", "LayerNorm.gamma").Replace("LayerNorm.bias", "LayerNorm.beta");
            tensors.Add((stored, file.Read(name)));
        }
        tensors.Add(((keepPrefix ? "bert." : "") + "embeddings.position_ids", tensor(new long[] { 0, 1, 2, 3 }).unsqueeze(0)));
        if (keepHead && file.Entries.ContainsKey("cls.predictions.bias"))
            tensors.Add(("cls.predictions.decoder.weight", file.Read("bert.embeddings.word_embeddings.weight")));
        Safetensors.Save(Path.Combine(dir, "model.safetensors"), tensors);
        return dir;
    }

    static float[] Hidden(string folder, long[] ids)
    {
        using var loaded = ModelRegistry.Load(folder);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = loaded.As<IHiddenStates>("test");
        var x = tensor(ids).unsqueeze(0);
        return model.HiddenStates(x, ones_like(x, ScalarType.Bool)).flatten().data<float>().ToArray();
    }

    [Fact]
    public async Task HuggingFaceBertFoldersLoadForWhatTheyHold()
    {
        string mlm = await ServingModels.TrainedMlm();
        long[] ids = [2, 10, 11, 12, 3];
        // BertForMaskedLM (no pooler, tied decoder copy): fill-mask as the run.
        string masked = HfBertFolder(mlm, "BertForMaskedLM", keepPrefix: true, keepHead: true, keepPooler: false);
        var ours = await Cli.Run("fill-mask", "--model", mlm, "--text", "the food was [MASK]", "--json");
        var theirs = await Cli.Run("fill-mask", "--model", masked, "--text", "the food was [MASK]", "--json");
        Assert.True(theirs.Code == 0, theirs.Err);
        Assert.Equal(ours.Out, theirs.Out);

        // BertModel with legacy names: the same hidden states; fill-mask is refused in one line.
        string encoder = HfBertFolder(mlm, "BertModel", keepPrefix: false, keepHead: false, keepPooler: true, legacyNames: true);
        Assert.Equal(Hidden(mlm, ids), Hidden(encoder, ids));
        var refused = await Cli.Run("fill-mask", "--model", encoder, "--text", "the food was [MASK]");
        Assert.Equal(1, refused.Code);
        Assert.Contains("no masked-LM head", refused.Err);

        // A BERT classifier whose labels come from id2label classifies as the run.
        string classifier = await ServingModels.TrainedClassifier();
        string hfClassifier = HfBertFolder(classifier, "BertForSequenceClassification", keepPrefix: true, keepHead: true, keepPooler: true);
        var a = await Cli.Run("classify", "--model", classifier, "--text", "the food was lovely", "--json");
        var b = await Cli.Run("classify", "--model", hfClassifier, "--text", "the food was lovely", "--json");
        Assert.True(b.Code == 0, b.Err);
        Assert.Equal(a.Out.Replace(classifier, "M"), b.Out.Replace(hfClassifier, "M"));
    }

    [Fact]
    public async Task AHuggingFaceBertEncoderFineTunes()
    {
        string encoder = HfBertFolder(await ServingModels.TrainedMlm(), "BertModel", keepPrefix: false, keepHead: false, keepPooler: false);
        var (_, csv, _) = await FineTuningCliTests.ToyCsvFiles();
        string output = Path.Combine(TestData.TempDir(), "ft");
        string[] args = ["finetune", "--data", csv, "--text-column", "review", "--label-column", "sentiment", "--from", encoder];
        var r = await Cli.Run([.. args, "--output", output, "--epochs", "1", "--block-size", "16", "--json"]);
        Assert.True(r.Code == 0, r.Err);
        Assert.True(File.Exists(Path.Combine(output, "model.safetensors")));
    }

    [Fact]
    public void AGpt2SequenceClassifierFolderClassifiesAsItsWeightsSay()
    {
        // transformers' GPT2ForSequenceClassification: transformer.* and score.weight, labels only in id2label.
        string dir = Path.Combine(TestData.TempDir(), "hf-gpt2-classifier");
        Directory.CreateDirectory(dir);
        var tokenizer = CharTokenizer.FromTexts(["abcdefgh "]);
        var config = new GptConfig
        {
            VocabSize = tokenizer.VocabSize,
            NPositions = 32,
            NEmbd = 32,
            NLayer = 2,
            NHead = 2,
            Labels = ["ham", "spam", "eggs"],
            Architectures = ["GPT2ForSequenceClassification"],
        };
        manual_seed(3);
        using var original = new GptClassifier(config);
        original.SaveWeights(Path.Combine(dir, "model.safetensors"));
        tokenizer.Save(Path.Combine(dir, "tokenizer.json"));
        var json = Gpt2Config(config);
        json["architectures"] = new JsonArray("GPT2ForSequenceClassification");
        json["id2label"] = new JsonObject
        {
            ["0"] = "ham",
            ["1"] = "spam",
            ["2"] = "eggs",
        };
        json["label2id"] = new JsonObject
        {
            ["ham"] = 0,
            ["spam"] = 1,
            ["eggs"] = 2,
        };
        json["pad_token_id"] = 0;
        File.WriteAllText(Path.Combine(dir, "config.json"), json.ToJsonString());

        using var loaded = ModelRegistry.Load(dir);
        Assert.Equal("gpt2-classifier", loaded.Kind.Name);
        Assert.Equal(new[] { "ham", "spam", "eggs" }, loaded.Config!.Labels!);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        original.eval();
        var ids = tensor(new long[] { 1, 2, 3, 4, 5 }).unsqueeze(0);
        var attend = ones_like(ids, ScalarType.Bool);
        var expected = original.Logits(ids, attend).data<float>().ToArray();
        Assert.Equal(expected, loaded.As<ISequenceClassifier>("test").Logits(ids, attend).data<float>().ToArray());
    }

    [Theory]
    [InlineData("position_embedding_type", "\"relative_key\"", "position_embedding_type")]
    [InlineData("hidden_act", "\"mish\"", "hidden_act 'mish'")]
    [InlineData("is_decoder", "true", "is_decoder")]
    public async Task BertFieldsThatChangeTheMathsAreRefused(string field, string value, string expected)
    {
        string mlm = await ServingModels.TrainedMlm();
        string dir = HfBertFolder(mlm, "BertForMaskedLM", keepPrefix: true, keepHead: true, keepPooler: false);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!;
        config[field] = JsonNode.Parse(value);
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        var r = await Cli.Run("fill-mask", "--model", dir, "--text", "the [MASK]");
        Assert.Equal(1, r.Code);
        Assert.Contains(expected, r.Err);
    }
}
