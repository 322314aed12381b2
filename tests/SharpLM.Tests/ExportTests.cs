using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SharpLM.Models;
using static TorchSharp.torch;

namespace SharpLM.Tests;

/// <summary>
/// Exports checked by the runtime that reads each format: onnxruntime runs model.onnx, llama.cpp (through LLamaSharp)
/// runs model.gguf, and an exported Hugging Face folder is re-imported.
/// </summary>
[Collection(TorchCollection.Name)]
public class ExportTests
{
    static async Task<string> Export(string model, string format, params string[] extra)
    {
        string output = Path.Combine(TestData.TempDir(), "export-" + format);
        var r = await Cli.Run(["export", "--model", model, "--format", format, "--output", output, .. extra]);
        Assert.True(r.Code == 0, r.Err);
        return output;
    }

    static float[] TorchLogits(string run, long[] ids)
    {
        using var loaded = ModelRegistry.Load(run);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return loaded.As<Gpt>("test").forward(tensor(ids).unsqueeze(0)).flatten().data<float>().ToArray();
    }

    static int ArgMax(float[] row) => Bench.ExportRuntimes.ArgMax(row);

    [Fact]
    public async Task OnnxRuntimeComputesTheGptsLogitsAndGreedyTokensWithAndWithoutTheCache()
    {
        string run = await ServingModels.TrainedGpt();
        string dir = await Export(run, "onnx");
        Assert.True(File.Exists(Path.Combine(dir, "genai_config.json")));
        var genai = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "genai_config.json")))!;
        Assert.Equal("past_key_values.%d.key", (string)genai["model"]!["decoder"]!["inputs"]!["past_key_names"]!);

        using var loaded = ModelRegistry.Load(run);
        long[] prompt = loaded.Tokenizer.Encode("User: Call me").Select(i => (long)i).ToArray();
        using var ort = new Bench.OnnxGptSession(Path.Combine(dir, "model.onnx"));
        var ortLogits = ort.Step(prompt).SelectMany(r => r).ToArray();
        var torchLogits = TorchLogits(run, prompt);
        Assert.Equal(torchLogits.Length, ortLogits.Length);
        Assert.True(torchLogits.Zip(ortLogits).Max(p => Math.Abs(p.First - p.Second)) < 1e-4);

        // Greedy: with the cache (one token per step) and without it (the whole sequence every step).
        var cached = new List<long>();
        ort.Reset();
        var last = ort.Step(prompt)[^1];
        for (int i = 0; i < 24; i++)
        {
            cached.Add(ArgMax(last));
            last = ort.Step([cached[^1]])[0];
        }
        var uncached = new List<long>();
        for (int i = 0; i < 24; i++)
        {
            ort.Reset();
            uncached.Add(ArgMax(ort.Step([.. prompt, .. uncached])[^1]));
        }
        Assert.Equal(cached, uncached);
        Assert.Equal((await GreedyIds(run, "User: Call me", 24)).Select(i => (long)i), cached);
    }

    [Fact]
    public async Task OnnxRuntimeGenAiGeneratesFromTheExportAsSharpLMDoes()
    {
        string run = await ServingModels.TrainedGpt();
        string dir = await Export(run, "onnx");
        using var loaded = ModelRegistry.Load(run);
        int[] prompt = loaded.Tokenizer.Encode("User: Call me");
        var ours = await GreedyIds(run, "User: Call me", 30);

        // onnxruntime-genai reads genai_config.json, feeds the KV cache itself and searches greedily.
        using var model = new Microsoft.ML.OnnxRuntimeGenAI.Model(dir);
        using var options = new Microsoft.ML.OnnxRuntimeGenAI.GeneratorParams(model);
        options.SetSearchOption("max_length", prompt.Length + 30);
        using var generator = new Microsoft.ML.OnnxRuntimeGenAI.Generator(model, options);
        generator.AppendTokens(prompt);
        var theirs = new List<int>();
        while (!generator.IsDone())
        {
            generator.GenerateNextToken();
            theirs.Add(generator.GetNextTokens()[0]);
        }
        // A char-level run has no end token, so the export declares the newline one (genai_config.json's eos_token_id):
        // genai stops after it, SharpLM goes on.
        int end = (int)JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "genai_config.json")))!["model"]!["eos_token_id"]!;
        Assert.Equal(new[] { end }, loaded.Tokenizer.Encode("\n"));
        int cut = ours.IndexOf(end) is int i and >= 0 ? i + 1 : ours.Count;
        Assert.True(cut >= 5, "the continuation has a few tokens before the first newline");
        Assert.Equal(ours.Take(cut), theirs);
    }

    /// <summary>A run folder holding a randomly initialised BERT task model (enough to compare two runtimes).</summary>
    static string RandomBertRun(Func<BertConfig, ITaskModel> build, string architecture, string[]? labels)
    {
        string dir = TestData.TempDir();
        var tokenizer = Tokenization.TokenizerTrainer.TrainWordPiece(
            ["the whale and the ship sailed to the sea", "bread from the oven"],
            new Tokenization.TokenizerTrainingOptions { VocabSize = 80 }
        );
        manual_seed(11);
        var config = BertConfig.For(Tiny.Shape with { Context = 16, Dropout = 0 }, tokenizer) with
        {
            Architectures = [architecture],
            Labels = labels,
        };
        using var model = build(config);
        model.SaveConfig(Path.Combine(dir, "config.json"));
        model.SaveWeights(Path.Combine(dir, "model.safetensors"));
        tokenizer.Save(Path.Combine(dir, "tokenizer.json"));
        return dir;
    }

    [Fact]
    public async Task OnnxRuntimeComputesBertTokenClassifierAndQuestionAnsweringLogits()
    {
        long[] ids = [2, 10, 11, 12, 3, 13, 14, 3, 0];
        long[] mask = [1, 1, 1, 1, 1, 1, 1, 1, 0];
        long[] segments = [0, 0, 0, 0, 0, 1, 1, 1, 0];
        foreach (
            string run in new[]
            {
                RandomBertRun(c => new BertTokenClassifier(c), "BertForTokenClassification", ["O", "B-PER", "I-PER"]),
                RandomBertRun(c => new BertQuestionAnswering(c), "BertForQuestionAnswering", null),
            }
        )
        {
            string dir = await Export(run, "onnx");
            using var loaded = ModelRegistry.Load(run);
            var expected = new Dictionary<string, float[]>();
            using (var scope = NewDisposeScope())
            using (no_grad())
            {
                var x = tensor(ids).unsqueeze(0);
                var attend = tensor(mask).unsqueeze(0).to(ScalarType.Bool);
                if (loaded.Module is BertQuestionAnswering q)
                {
                    var (start, end) = q.forward(x, attend, tensor(segments).unsqueeze(0));
                    expected["start_logits"] = start.flatten().data<float>().ToArray();
                    expected["end_logits"] = end.flatten().data<float>().ToArray();
                }
                else
                    expected["logits"] = ((ITokenClassifier)loaded.Module).TagLogits(x, attend).flatten().data<float>().ToArray();
            }
            using var session = new InferenceSession(Path.Combine(dir, "model.onnx"));
            using var results = session.Run([
                NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, [1, ids.Length])),
                NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(mask, [1, ids.Length])),
                NamedOnnxValue.CreateFromTensor(
                    "token_type_ids",
                    new DenseTensor<long>(loaded.Module is BertQuestionAnswering ? segments : new long[ids.Length], [1, ids.Length])
                ),
            ]);
            foreach (var (name, want) in expected)
            {
                // The padded position is not compared (a padding query's output is meaningless either way).
                int real = want.Length / ids.Length * (ids.Length - 1);
                float[] got = results.First(r => r.Name == name).AsTensor<float>().ToArray();
                Assert.Equal(want.Length, got.Length);
                Assert.True(want.Take(real).Zip(got).Max(p => Math.Abs(p.First - p.Second)) < 1e-4, $"{run}: {name}");
            }
        }
    }

    [Fact]
    public async Task OnnxRuntimeComputesBertClassifierAndMaskedLmLogits()
    {
        foreach (string run in new[] { await ServingModels.TrainedClassifier(), await ServingModels.TrainedMlm() })
        {
            string dir = await Export(run, "onnx", "--overwrite");
            using var loaded = ModelRegistry.Load(run);
            long[] ids = [2, 10, 11, 12, 3, 0];
            long[] mask = [1, 1, 1, 1, 1, 0];
            float[] expected;
            using (var scope = NewDisposeScope())
            using (no_grad())
            {
                var x = tensor(ids).unsqueeze(0);
                var attend = tensor(mask).unsqueeze(0).to(ScalarType.Bool);
                var out_ = loaded.Module switch
                {
                    ISequenceClassifier c => c.Logits(x, attend),
                    BertForMaskedLm m => m.forward(x, attend)[.., ..5],
                    _ => throw new InvalidOperationException(),
                };
                expected = out_.flatten().data<float>().ToArray();
            }
            using var session = new InferenceSession(Path.Combine(dir, "model.onnx"));
            using var results = session.Run([
                NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, [1, ids.Length])),
                NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(mask, [1, ids.Length])),
                NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(new long[ids.Length], [1, ids.Length])),
            ]);
            var logits = results.First(r => r.Name == "logits").AsTensor<float>();
            // The masked LM's padded position is not compared (a padding query's output is meaningless either way).
            float[] got = loaded.Module is BertForMaskedLm ? logits.ToArray().Take(expected.Length).ToArray() : logits.ToArray();
            Assert.Equal(expected.Length, got.Length);
            Assert.True(expected.Zip(got).Max(p => Math.Abs(p.First - p.Second)) < 1e-4, run);
        }
    }

    /// <summary>llama.cpp's tokenization of <paramref name="prompt"/> and its greedy continuation.</summary>
    static (List<int> Prompt, List<int> Tokens) LlamaGreedy(string gguf, string prompt, int count)
    {
        var (weights, context) = Bench.ExportRuntimes.OpenLlama(gguf, 128);
        using (weights)
        using (context)
        {
            var promptTokens = context.Tokenize(prompt, false, false).Select(t => (int)t).ToList();
            return (promptTokens, [.. Bench.ExportRuntimes.LlamaGreedy(context, promptTokens, count)]);
        }
    }

    /// <summary>`sharplm generate --temperature 0`'s token ids.</summary>
    static async Task<List<int>> GreedyIds(string run, string prompt, int count)
    {
        var r = await Cli.Run(
            "generate",
            "--model",
            run,
            "--prompt",
            prompt,
            "--temperature",
            "0",
            "--max-new-tokens",
            $"{count}",
            "--json"
        );
        Assert.True(r.Code == 0, r.Err);
        return JsonNode.Parse(r.Out)!["results"]![0]!["tokenIds"]!.AsArray().Select(n => (int)n!).ToList();
    }

    [Fact]
    public async Task LlamaCppRunsTheGgufFileAsSharpLMGenerates()
    {
        string run = await ServingModels.TrainedGpt();
        const string prompt = "User: Call me Ishmael.\nAssistant:";
        var ours = await GreedyIds(run, prompt, 40);
        using (var loaded = ModelRegistry.Load(run))
        {
            var (promptTokens, tokens) = LlamaGreedy(Path.Combine(await Export(run, "gguf"), "model.gguf"), prompt, 40);
            Assert.Equal(loaded.Tokenizer.Encode(prompt), promptTokens);
            Assert.Equal(ours, tokens);
        }
        // q8_0: about 3.5x smaller; it has to continue the memorised text as fp32 does for most tokens.
        string q8 = Path.Combine(await Export(run, "gguf", "--type", "q8_0", "--overwrite"), "model.gguf");
        var (_, quantized) = LlamaGreedy(q8, prompt, 40);
        double agreement = ours.Zip(quantized).Count(p => p.First == p.Second) / (double)ours.Count;
        Assert.True(agreement >= 0.9, $"q8_0 agrees on {agreement:P0} of greedy tokens");
    }

    [Fact]
    public async Task ACharacterVocabularyWithMultiByteCharactersTokenizesInLlamaCppAsInSharpLM()
    {
        // Random weights: only the tokenizer mapping is under test (é is 2 bytes, — is 3, 🐋 is 4).
        string run = Path.Combine(TestData.TempDir(), "unicode");
        Directory.CreateDirectory(run);
        var tokenizer = Tokenization.CharTokenizer.FromTexts(["abc é—🐋 xyz\n"]);
        var config = new GptConfig
        {
            VocabSize = tokenizer.VocabSize,
            NPositions = 64,
            NEmbd = 32,
            NLayer = 1,
            NHead = 2,
        };
        manual_seed(1);
        using (var gpt = new Gpt(config))
        {
            config.Save(Path.Combine(run, "config.json"));
            gpt.SaveWeights(Path.Combine(run, "model.safetensors"));
        }
        tokenizer.Save(Path.Combine(run, "tokenizer.json"));
        string text = "a é—🐋 cab—éé 🐋🐋 x\nz";
        var (ids, _) = LlamaGreedy(Path.Combine(await Export(run, "gguf"), "model.gguf"), text, 1);
        Assert.Equal(tokenizer.Encode(text), ids);
    }

    [Fact]
    public async Task AHuggingFaceExportReloadsAndSaysWhatItIs()
    {
        string classifier = await ServingModels.TrainedClassifier();
        string dir = await Export(classifier, "hf");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!;
        Assert.Null(config["labels"]);
        Assert.Equal("BertForSequenceClassification", (string)config["architectures"]![0]!);
        Assert.Equal("neg", (string)config["id2label"]!["0"]!);
        Assert.Equal(1, (int)config["label2id"]!["pos"]!);
        var tokenizerConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "tokenizer_config.json")))!;
        Assert.Equal("BertTokenizerFast", (string)tokenizerConfig["tokenizer_class"]!);
        Assert.Equal("[MASK]", (string)tokenizerConfig["mask_token"]!);
        string card = File.ReadAllText(Path.Combine(dir, "README.md"));
        Assert.Contains("pipeline_tag: text-classification", card);
        Assert.Contains("BertForSequenceClassification.from_pretrained", card);
        var a = await Cli.Run("classify", "--model", classifier, "--text", "the room was grim", "--json");
        var b = await Cli.Run("classify", "--model", dir, "--text", "the room was grim", "--json");
        Assert.Equal(a.Out.Replace(classifier, "M"), b.Out.Replace(dir, "M"));

        string gpt = await Export(await ServingModels.TrainedGpt(), "hf");
        Assert.True(File.Exists(Path.Combine(gpt, "generation_config.json")));
        Assert.Contains("## Training settings", File.ReadAllText(Path.Combine(gpt, "README.md")));
        Assert.Contains("\"learning_rate\"", File.ReadAllText(Path.Combine(gpt, "README.md")));
    }

    [Fact]
    public async Task ExportsThatCannotBeAreOneLineAndWriteNothing()
    {
        string gpt = await ServingModels.TrainedGpt();
        string classifier = await ServingModels.TrainedClassifier();
        string parent = TestData.TempDir();
        string output = Path.Combine(parent, "out");
        foreach (
            var (model, format, expected) in new[]
            {
                (classifier, "gguf", "GGUF export holds GPT language models"),
                (gpt, "onnx --type q8_0", "--type applies to --format gguf only"),
                (Path.Combine(parent, "missing"), "hf", "does not exist"),
            }
        )
        {
            var r = await Cli.Run(["export", "--model", model, "--format", .. format.Split(' '), "--output", output]);
            Assert.Equal(1, r.Code);
            Assert.Contains(expected, r.Err);
            Assert.Single(r.Err.Trim().Split('\n'));
            Assert.Empty(Directory.GetFileSystemEntries(parent));
        }

        // A folder of the user's is refused; an earlier export needs --overwrite.
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "notes.txt"), "mine");
        var refused = await Cli.Run("export", "--model", gpt, "--format", "gguf", "--output", output);
        Assert.Equal(1, refused.Code);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(output, "notes.txt")));
        string again = Path.Combine(parent, "again");
        Assert.Equal(0, (await Cli.Run("export", "--model", gpt, "--format", "gguf", "--output", again)).Code);
        var second = await Cli.Run("export", "--model", gpt, "--format", "gguf", "--output", again);
        Assert.Equal(1, second.Code);
        Assert.Contains("--overwrite", second.Err);
        Assert.Equal(0, (await Cli.Run("export", "--model", gpt, "--format", "onnx", "--output", again, "--overwrite")).Code);
        Assert.False(File.Exists(Path.Combine(again, "model.gguf")));
    }
}
