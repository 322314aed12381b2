using System.Text.Json;
using SharpLM.Generation;
using SharpLM.Models;
using SharpLM.Tokenization;
using SharpLM.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Tests;

/// <summary>The encoder–decoder: padding invariance, the cross-attention cache, label smoothing, training end to end.</summary>
[Collection(TorchCollection.Name)]
public class Seq2SeqTests
{
    static Seq2SeqTransformer RandomModel(bool preNorm, int seed = 1)
    {
        manual_seed(seed);
        var model = new Seq2SeqTransformer(
            new Seq2SeqConfig
            {
                VocabSize = 23,
                DModel = 32,
                EncoderLayers = 2,
                DecoderLayers = 2,
                EncoderAttentionHeads = 4,
                DecoderAttentionHeads = 4,
                EncoderFfnDim = 64,
                DecoderFfnDim = 64,
                MaxPositionEmbeddings = 24,
                PadTokenId = 0,
                BosTokenId = 1,
                EosTokenId = 2,
                DecoderStartTokenId = 1,
                NormalizeBefore = preNorm,
            }.WithLayout()
        );
        model.eval();
        return model;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SourcePaddingNeverChangesOutputs(bool preNorm)
    {
        using var model = RandomModel(preNorm);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long[] shortSource = [5, 6, 7, 2],
            longSource = [8, 9, 10, 11, 12, 13, 2];
        var target = tensor(new long[] { 1, 14, 15, 16 }).unsqueeze(0);
        Tensor Logits(Tensor source, Tensor decoderInput)
        {
            var mask = model.SourceMask(source);
            return model.Decode(decoderInput, model.Encode(source, mask), mask);
        }
        var alone = Logits(tensor(shortSource).unsqueeze(0), target);
        var padded = shortSource.Concat(Enumerable.Repeat(0L, 3)).ToArray();
        var batch = Logits(tensor(padded.Concat(longSource).ToArray(), [2, 7]), target.expand(2, 4));
        Assert.True(alone[0].allclose(batch[0], rtol: 1e-5, atol: 1e-5), "padding changed the short source's outputs");
        // Without the mask the padding would show: the same batch with pad ids treated as real tokens differs.
        var unmasked = model.Decode(
            target,
            model.Encode(tensor(padded).unsqueeze(0), ones(1, 7, ScalarType.Bool)),
            ones(1, 7, ScalarType.Bool)
        );
        Assert.False(alone[0].allclose(unmasked[0], rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void TheDecoderCacheEqualsRecomputation()
    {
        using var model = RandomModel(preNorm: false, seed: 3);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var source = tensor(new long[] { 5, 6, 7, 8, 2, 9, 10, 2, 0, 0 }, [2, 5]);
        var mask = model.SourceMask(source);
        var memory = model.Encode(source, mask);
        var target = tensor(new long[] { 1, 11, 12, 13, 14, 1, 15, 16, 17, 18 }, [2, 5]);
        var full = model.Decode(target, memory, mask);
        using var cache = model.NewDecoderCache(memory, mask, 5);
        for (int t = 0; t < 5; t++)
        {
            var step = model.Decode(target[.., t..(t + 1)], memory, mask, cache);
            Assert.True(step[.., 0].allclose(full[.., t], rtol: 1e-4, atol: 1e-5), $"position {t}");
        }
        // Generation: greedy and beam search give the same tokens and scores with and without the cache.
        var tokenizer = new CharTokenizer(
            "abcdefghijklmnopqrst".Select(c => c.ToString()),
            [new AddedToken(20, "<pad>", true), new AddedToken(21, "<s>", true), new AddedToken(22, "</s>", true)]
        );
        var generator = new Seq2SeqGenerator(model, tokenizer);
        string[] sources = ["abc", "hello", "t"];
        var beams = new BeamSearchOptions { NumBeams = 3, NumReturnSequences = 2 };
        foreach (var b in new BeamSearchOptions?[] { null, beams })
        {
            var cached = generator.Generate(sources, 8, b);
            var recomputed = generator.Generate(sources, 8, b, useCache: false);
            Assert.Equal(cached.Select(o => o.TokenIds), recomputed.Select(o => o.TokenIds));
            Assert.Equal(cached.Select(o => o.Score ?? 0), recomputed.Select(o => o.Score ?? 0), new Tolerance(1e-4));
        }
        // Batched beams equal each source alone.
        var together = generator.Generate(sources, 8, beams);
        for (int i = 0; i < sources.Length; i++)
            Assert.Equal(
                generator.Generate([sources[i]], 8, beams).Select(o => o.TokenIds),
                together.Skip(2 * i).Take(2).Select(o => o.TokenIds)
            );
    }

    sealed class Tolerance(double epsilon) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= epsilon;

        public int GetHashCode(double obj) => 0;
    }

    [Fact]
    public void LabelSmoothingMixesTheTargetWithTheUniformDistribution()
    {
        using var scope = NewDisposeScope();
        var logits = tensor(new float[] { 2, 0, -1, 0.5f, 1, 3 }, [1, 2, 3]);
        var labels = tensor(new long[] { 0, -100 }, [1, 2]);
        double eps = 0.1;
        var logp = new[] { 2.0, 0, -1 }.Select(x => x - Math.Log(Math.Exp(2) + Math.Exp(0) + Math.Exp(-1))).ToArray();
        double expected = (1 - eps) * -logp[0] + eps * -logp.Average(); // the -100 position is ignored
        Assert.Equal(expected, Seq2SeqTransformer.Loss(logits, labels, eps).item<float>(), 5);
    }

    /// <summary>A grapheme-to-phoneme-like toy task: a word's letters, spelled out as upper-case "phonemes" with spaces.</summary>
    static string ToyPairs(string dir, int count)
    {
        var rng = new Random(5);
        var lines = new List<string> { "source\ttarget" };
        var seen = new HashSet<string>();
        while (lines.Count <= count)
        {
            string word = new(Enumerable.Range(0, rng.Next(2, 6)).Select(_ => "abcdefgh"[rng.Next(8)]).ToArray());
            if (seen.Add(word))
                lines.Add($"{word}\t{string.Join(' ', word.ToUpperInvariant().ToCharArray())}");
        }
        string path = Path.Combine(dir, "pairs.tsv");
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public async Task FineTuneTranslateAndEvalAWordToPhonemesModel()
    {
        string dir = TestData.TempDir();
        string pairs = ToyPairs(dir, 600);
        string run = Path.Combine(dir, "g2p");
        var (code, output, err) = await Cli.Run(
            "finetune",
            "--task",
            "seq2seq",
            "--data",
            pairs,
            "--output",
            run,
            "--n-layer",
            "2",
            "--n-head",
            "4",
            "--n-embd",
            "64",
            "--max-steps",
            "800",
            "--lr",
            "1e-3",
            "--batch-size",
            "32",
            "--eval-interval",
            "250",
            "--dropout",
            "0",
            "--json"
        );
        Assert.True(code == 0, err);
        using var result = JsonDocument.Parse(output);
        var test = result.RootElement.GetProperty("test");
        Assert.Equal(60, result.RootElement.GetProperty("testPairs").GetInt32());
        Assert.True(test.GetProperty("sequenceErrorRate").GetDouble() < 0.2, output);
        Assert.True(test.GetProperty("bleu").GetDouble() > 70, output);

        // BART's config fields and parameter names.
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "config.json")));
        Assert.Equal("bart", config.RootElement.GetProperty("model_type").GetString());
        var names = IO.Safetensors.File.Open(Path.Combine(run, "model.safetensors")).Entries.Keys.ToHashSet();
        foreach (
            string name in new[]
            {
                "model.shared.weight",
                "model.encoder.layers.0.self_attn.q_proj.weight",
                "model.decoder.layers.1.encoder_attn.k_proj.bias",
                "model.decoder.layers.0.fc1.weight",
                "model.encoder.embed_positions.weight",
                "final_logits_bias",
            }
        )
            Assert.Contains(name, names);

        (code, output, err) = await Cli.Run("translate", "--model", run, "--text", "bead", "--text", "hag");
        Assert.True(code == 0, err);
        Assert.Equal(["B E A D", "H A G"], output.Trim().Split('\n'));
        (code, output, err) = await Cli.Run(
            "translate",
            "--model",
            run,
            "--text",
            "cafe",
            "--num-beams",
            "4",
            "--num-return-sequences",
            "2",
            "--json"
        );
        Assert.True(code == 0, err);
        using var beams = JsonDocument.Parse(output);
        var outs = beams.RootElement.GetProperty("outputs").EnumerateArray().ToList();
        Assert.Equal(2, outs.Count);
        Assert.Equal("C A F E", outs[0].GetProperty("text").GetString());

        // eval re-scores the recorded test split: the same report as fine-tuning's.
        (code, output, err) = await Cli.Run("eval", "--model", run, "--json");
        Assert.True(code == 0, err);
        using var evaluated = JsonDocument.Parse(output);
        Assert.Equal(test.GetProperty("bleu").GetDouble(), evaluated.RootElement.GetProperty("report").GetProperty("bleu").GetDouble(), 6);
    }

    /// <summary>A BERT "run" folder with random weights and a WordPiece tokenizer learned from the toy pairs' texts.</summary>
    static string BertRun(string dir, string pairs)
    {
        string run = Path.Combine(dir, "bert");
        Directory.CreateDirectory(run);
        var texts = File.ReadAllLines(pairs).Skip(1).SelectMany(l => l.Split('\t'));
        var tokenizer = TokenizerTrainer.TrainWordPiece(texts, new TokenizerTrainingOptions { VocabSize = 60, Lowercase = false });
        TokenizerJson.Save(tokenizer, Path.Combine(run, "tokenizer.json"));
        manual_seed(3);
        var config = new BertConfig
        {
            VocabSize = tokenizer.VocabSize,
            HiddenSize = 32,
            NumHiddenLayers = 2,
            NumAttentionHeads = 4,
            IntermediateSize = 64,
            MaxPositionEmbeddings = 20,
            PadTokenId = tokenizer.SpecialTokenId("[PAD]")!.Value,
        };
        using var bert = new BertForMaskedLm(config);
        config.Save(Path.Combine(run, "config.json"));
        IO.ModuleWeights.Save(bert, Path.Combine(run, "model.safetensors"));
        return run;
    }

    [Fact]
    public void AnEncoderStartedFromBertComputesWhatBertComputes()
    {
        Runtime.TorchRuntime.EnsureLoaded();
        string dir = TestData.TempDir();
        string run = BertRun(dir, ToyPairs(dir, 50));
        var bertConfig = BertConfig.Load(Path.Combine(run, "config.json"));
        using var bert = new BertForMaskedLm(bertConfig);
        IO.ModuleWeights.Load(bert, Path.Combine(run, "model.safetensors"));
        bert.eval();
        manual_seed(4);
        var config = new Seq2SeqConfig
        {
            VocabSize = bertConfig.VocabSize,
            DecoderLayers = 1,
            DecoderAttentionHeads = 2,
            DecoderFfnDim = 48,
            MaxPositionEmbeddings = 16,
            PadTokenId = 0,
            BosTokenId = 2,
            EosTokenId = 3,
            DecoderStartTokenId = 2,
        }
            .WithBertEncoder(bertConfig)
            .Validate();
        Assert.Equal(
            (32, 2, 4, 64, 16, 1e-12),
            (
                config.DModel,
                config.EncoderLayers,
                config.EncoderAttentionHeads,
                config.EncoderFfnDim,
                config.MaxPositionEmbeddings,
                config.LayerNormEps
            )
        );
        using var model = new Seq2SeqTransformer(config);
        model.LoadBertEncoder(Path.Combine(run, "model.safetensors"));
        model.eval();

        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 2, 9, 14, 30, 7, 3, 2, 11, 12, 3, 0, 0 }, [2, 6]);
        var mask = model.SourceMask(ids);
        var ours = model.Encode(ids, mask);
        var theirs = ((IHiddenStates)bert).HiddenStates(ids, mask);
        var real = mask.unsqueeze(-1).expand_as(ours);
        double gap = ours.masked_select(real).sub(theirs.masked_select(real)).abs().max().item<float>();
        Assert.True(gap < 1e-5, $"largest difference {gap}");

        // A model file that is not BERT, and a config that does not fit it, get one-line errors.
        var gptLike = Path.Combine(dir, "other.safetensors");
        IO.ModuleWeights.Save(model, gptLike);
        var e = Assert.Throws<SharpLMException>(() => model.LoadBertEncoder(gptLike));
        Assert.Contains("has no tensor 'embeddings.word_embeddings.weight'", e.Message);
        using var deeper = new Seq2SeqTransformer(config with { EncoderLayers = 3 });
        e = Assert.Throws<SharpLMException>(() => deeper.LoadBertEncoder(Path.Combine(run, "model.safetensors")));
        Assert.Contains("has no tensor 'bert.encoder.layer.2.attention.self.query.weight'", e.Message);
        e = Assert.Throws<SharpLMException>(() => (config with { NormalizeBefore = true }).WithBertEncoder(bertConfig));
        Assert.Contains("post-LayerNorm", e.Message);
    }

    [Fact]
    public async Task FineTuningFromABertRunStartsTheEncoderFromIt()
    {
        string dir = TestData.TempDir();
        string pairs = ToyPairs(dir, 300);
        string bert = BertRun(dir, pairs);
        string run = Path.Combine(dir, "from-bert");
        var (code, output, err) = await Cli.Run(
            "finetune",
            "--task",
            "seq2seq",
            "--data",
            pairs,
            "--from",
            bert,
            "--n-layer",
            "1",
            "--output",
            run,
            "--max-steps",
            "40",
            "--batch-size",
            "16",
            "--eval-interval",
            "20",
            "--json"
        );
        Assert.True(code == 0, err);
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "config.json")));
        var c = config.RootElement;
        Assert.Equal(
            (32, 2, 1, 64, true, 1e-12),
            (
                c.GetProperty("d_model").GetInt32(),
                c.GetProperty("encoder_layers").GetInt32(),
                c.GetProperty("decoder_layers").GetInt32(),
                c.GetProperty("decoder_ffn_dim").GetInt32(),
                c.GetProperty("add_bos_to_source").GetBoolean(),
                c.GetProperty("layer_norm_eps").GetDouble()
            )
        );
        var tokenizer = TokenizerJson.Load(Path.Combine(bert, "tokenizer.json"));
        Assert.Equal(tokenizer.SpecialTokenId("[CLS]"), c.GetProperty("decoder_start_token_id").GetInt32());
        Assert.Equal(tokenizer.SpecialTokenId("[SEP]"), c.GetProperty("eos_token_id").GetInt32());
        (code, output, err) = await Cli.Run("translate", "--model", run, "--text", "bead", "--max-new-tokens", "6");
        Assert.True(code == 0, err);

        string gpt = await ServingModels.TrainedGpt();
        foreach (
            var (extra, message) in new[]
            {
                (new[] { "--from", gpt }, "the encoder can start only from a BERT run"),
                (["--from", bert, "--pre-norm"], "--pre-norm contradicts"),
                (["--from", bert, "--n-embd", "48"], "--n-embd 48 contradicts"),
                (["--from", bert, "--tokenizer", "bpe"], "brings its own"),
                (["--from", Path.Combine(dir, "nowhere")], "does not exist"),
            }
        )
        {
            var r = await Cli.Run(["finetune", "--task", "seq2seq", "--data", pairs, "--output", Path.Combine(dir, "x"), .. extra]);
            Assert.Equal(1, r.Code);
            Assert.Contains(message, r.Err);
            Assert.Single(r.Err.Trim().Split('\n'));
        }
    }

    [Fact]
    public async Task BadPairFilesGetOneLineErrors()
    {
        string dir = TestData.TempDir();
        string noTarget = Path.Combine(dir, "a.tsv"),
            shortRow = Path.Combine(dir, "b.tsv"),
            jsonl = Path.Combine(dir, "c.jsonl");
        File.WriteAllLines(noTarget, ["source\ttranslation", "a\tb"]);
        File.WriteAllLines(shortRow, ["source\ttarget", "a\tb", "only a source"]);
        File.WriteAllLines(jsonl, ["{\"source\": \"a\", \"target\": \"b\"}", "{\"source\": \"c\"}"]);
        foreach (
            var (file, message) in new[]
            {
                (noTarget, "has no column 'target' (--target-column)"),
                (shortRow, "line 3: 1 field(s)"),
                (jsonl, "line 2 has no field 'target'"),
            }
        )
        {
            var (code, _, err) = await Cli.Run("finetune", "--task", "seq2seq", "--data", file, "--output", Path.Combine(dir, "run"));
            Assert.Equal(1, code);
            Assert.Contains(message, err);
            Assert.Single(err.Trim().Split('\n'));
        }
        var (c, _, e) = await Cli.Run(
            "finetune",
            "--task",
            "seq2seq",
            "--data",
            noTarget,
            "--output",
            Path.Combine(dir, "run"),
            "--freeze-layers",
            "1"
        );
        Assert.Equal(1, c);
        Assert.Contains("--freeze-layers applies to --task classify", e);
    }
}
