using System.Text.Json.Nodes;
using LLama;
using LLama.Common;
using LLama.Native;
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

    /// <summary>One onnxruntime step of the exported GPT: new ids after <paramref name="past"/> cached positions.</summary>
    sealed class OrtGpt(string path) : IDisposable
    {
        readonly InferenceSession _session = new(path, new SessionOptions { IntraOpNumThreads = 2 });
        public int Layers => _session.InputMetadata.Keys.Count(k => k.StartsWith("past_key_values.", StringComparison.Ordinal)) / 2;
        int Heads => _session.InputMetadata["past_key_values.0.key"].Dimensions[1];
        int HeadDim => _session.InputMetadata["past_key_values.0.key"].Dimensions[3];
        Dictionary<string, DenseTensor<float>> _past = [];
        int _length;

        public void Reset()
        {
            _length = 0;
            _past = [];
            for (int i = 0; i < Layers; i++)
                foreach (var part in new[] { "key", "value" })
                    _past[$"past_key_values.{i}.{part}"] = new DenseTensor<float>([1, Heads, 0, HeadDim]);
        }

        /// <summary>Logits [n, V] of the fed ids; the cache grows by them.</summary>
        public float[][] Step(long[] ids)
        {
            if (_past.Count == 0)
                Reset();
            int n = ids.Length;
            var inputs = new List<NamedOnnxValue>
            {
                NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, [1, n])),
                NamedOnnxValue.CreateFromTensor(
                    "position_ids",
                    new DenseTensor<long>(Enumerable.Range(_length, n).Select(p => (long)p).ToArray(), [1, n])
                ),
                NamedOnnxValue.CreateFromTensor(
                    "attention_mask",
                    new DenseTensor<long>(Enumerable.Repeat(1L, _length + n).ToArray(), [1, _length + n])
                ),
            };
            inputs.AddRange(_past.Select(p => NamedOnnxValue.CreateFromTensor(p.Key, p.Value)));
            using var results = _session.Run(inputs);
            var logits = results.First(r => r.Name == "logits").AsTensor<float>();
            int vocabulary = logits.Dimensions[2];
            foreach (var r in results.Where(r => r.Name.StartsWith("present.", StringComparison.Ordinal)))
                _past["past_key_values." + r.Name["present.".Length..]] = (DenseTensor<float>)r.AsTensor<float>().Clone();
            _length += n;
            return Enumerable.Range(0, n).Select(t => Enumerable.Range(0, vocabulary).Select(v => logits[0, t, v]).ToArray()).ToArray();
        }

        public void Dispose() => _session.Dispose();
    }

    static int ArgMax(float[] row) => Array.IndexOf(row, row.Max());

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
        using var ort = new OrtGpt(Path.Combine(dir, "model.onnx"));
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
        var generated = await Cli.Run(
            "generate",
            "--model",
            run,
            "--prompt",
            "User: Call me",
            "--temperature",
            "0",
            "--max-new-tokens",
            "24",
            "--json"
        );
        var ids = JsonNode.Parse(generated.Out)!["results"]![0]!["tokenIds"]!.AsArray().Select(n => (long)n!).ToList();
        Assert.Equal(ids, cached);
    }

    [Fact]
    public async Task OnnxRuntimeGenAiGeneratesFromTheExportAsSharpLMDoes()
    {
        string run = await ServingModels.TrainedGpt();
        string dir = await Export(run, "onnx");
        using var loaded = ModelRegistry.Load(run);
        int[] prompt = loaded.Tokenizer.Encode("User: Call me");
        var generated = await Cli.Run(
            "generate",
            "--model",
            run,
            "--prompt",
            "User: Call me",
            "--temperature",
            "0",
            "--max-new-tokens",
            "30",
            "--json"
        );
        var ours = JsonNode.Parse(generated.Out)!["results"]![0]!["tokenIds"]!.AsArray().Select(n => (int)n!).ToList();

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

    static readonly object LlamaLog = new();
    static bool _llamaConfigured;

    static void QuietLlama()
    {
        lock (LlamaLog)
        {
            if (_llamaConfigured)
                return;
            NativeLibraryConfig.All.WithLogCallback((level, message) => { });
            _llamaConfigured = true;
        }
    }

    /// <summary>llama.cpp's greedy continuation of <paramref name="prompt"/> and its tokenization of it.</summary>
    static (List<int> Prompt, List<int> Tokens) LlamaGreedy(string gguf, string prompt, int count)
    {
        QuietLlama();
        var parameters = new ModelParams(gguf)
        {
            ContextSize = 128,
            GpuLayerCount = 0,
            Threads = 2,
        };
        using var weights = LLamaWeights.LoadFromFile(parameters);
        using var context = weights.CreateContext(parameters);
        var promptTokens = context.Tokenize(prompt, false, false).ToList();
        var batch = new LLamaBatch();
        for (int i = 0; i < promptTokens.Count; i++)
            batch.Add(promptTokens[i], i, LLamaSeqId.Zero, i == promptTokens.Count - 1);
        var tokens = new List<int>();
        int position = promptTokens.Count;
        for (int step = 0; step < count; step++)
        {
            context.Decode(batch);
            var logits = context.NativeHandle.GetLogitsIth(batch.TokenCount - 1).ToArray();
            int best = ArgMax(logits);
            tokens.Add(best);
            batch.Clear();
            batch.Add(best, position++, LLamaSeqId.Zero, true);
        }
        return (promptTokens.Select(t => (int)t).ToList(), tokens);
    }

    [Fact]
    public async Task LlamaCppRunsTheGgufFileAsSharpLMGenerates()
    {
        string run = await ServingModels.TrainedGpt();
        const string prompt = "User: Call me Ishmael.\nAssistant:";
        var generated = await Cli.Run(
            "generate",
            "--model",
            run,
            "--prompt",
            prompt,
            "--temperature",
            "0",
            "--max-new-tokens",
            "40",
            "--json"
        );
        var ours = JsonNode.Parse(generated.Out)!["results"]![0]!["tokenIds"]!.AsArray().Select(n => (int)n!).ToList();
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
