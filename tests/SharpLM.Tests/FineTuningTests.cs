using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Models;
using SharpLM.Tokenization;
using SharpLM.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Tests;

[Collection(TorchCollection.Name)]
public class FineTuningTests
{
    static readonly string[] Good = ["great", "lovely", "superb", "wonderful", "fine", "nice"];
    static readonly string[] Bad = ["awful", "terrible", "dreadful", "poor", "nasty", "grim"];
    static readonly string[] Filler = ["the", "food", "was", "service", "and", "room", "quite", "really", "very", "today"];

    /// <summary>Reviews whose label is decided by which word list their one sentiment word comes from.</summary>
    static LabelledDataset Toy(int n, int seed)
    {
        var rng = new Random(seed);
        var examples = Enumerable
            .Range(0, n)
            .Select(i =>
            {
                bool positive = i % 2 == 0;
                var words = Enumerable.Range(0, 6).Select(_ => Filler[rng.Next(Filler.Length)]).ToList();
                words.Insert(rng.Next(words.Count + 1), (positive ? Good : Bad)[rng.Next(6)]);
                return new LabelledExample(string.Join(' ', words), positive ? "pos" : "neg");
            })
            .ToArray();
        return new LabelledDataset(examples, "toy");
    }

    /// <summary>Trained on toy text, so every word is frequent enough to become one token.</summary>
    static WordPieceTokenizer ToyTokenizer() =>
        TokenizerTrainer.TrainWordPiece(Toy(400, 9).Examples.Select(e => e.Text), new TokenizerTrainingOptions { VocabSize = 200 });

    static TrainOptions TinyOptions =>
        Tiny.Options with
        {
            BatchSize = 16,
            MaxSteps = 120,
            LearningRate = 2e-3,
            MinLearningRate = 2e-4,
            WarmupSteps = 10,
            EvalInterval = 40,
            WeightDecay = 0.01,
        };
    static readonly ModelShape TinyShape = Tiny.Shape with { Context = 16 };

    /// <summary>A classification task as fine-tuning builds it: the request's kind, a fresh (seeded) classifier, the data.</summary>
    static ClassificationTask Classification(
        LabelledDataset train,
        LabelledDataset val,
        Tokenizer tokenizer,
        TrainOptions o,
        FineTuneOptions f
    )
    {
        var classifier = FineTuning.CreateClassifier(FineTuning.KindOf(f), f, TinyShape, tokenizer, [.. train.Labels], o.Seed);
        return new ClassificationTask(train, val, tokenizer, classifier, o, f);
    }

    /// <summary>Toy sentences as a corpus, prepared into shards (dir/data) with the toy WordPiece tokenizer.</summary>
    static async Task<(string Dir, WordPieceTokenizer Tokenizer)> PreparedToyCorpus(int sentences)
    {
        string dir = TestData.TempDir();
        var tokenizer = ToyTokenizer();
        tokenizer.Save(Path.Combine(dir, "tokenizer.json"));
        await File.WriteAllLinesAsync(Path.Combine(dir, "corpus.txt"), Toy(sentences, 3).Examples.Select(e => e.Text));
        await new CorpusPreparer(TestData.Catalog).RunAsync(
            new PrepareOptions
            {
                Inputs = [Path.Combine(dir, "corpus.txt")],
                Tokenizer = Path.Combine(dir, "tokenizer.json"),
                OutputDir = Path.Combine(dir, "data"),
                Split = SplitMode.Characters,
            }
        );
        return (dir, tokenizer);
    }

    [Fact]
    public void ATinyEncoderLearnsASeparableToyTask()
    {
        var tokenizer = ToyTokenizer();
        using var task = Classification(Toy(200, 1), Toy(60, 2), tokenizer, TinyOptions, new FineTuneOptions());
        string run = TestData.TempDir();
        var result = Tiny.Train(task, run);
        Assert.Equal(1.0, result.LastEval!.Metrics["accuracy"]);
        Assert.Equal(1.0, result.LastEval.Metrics["macro_f1"]);

        using var loaded = ModelRegistry.Load(run);
        var m = loaded.As<ISequenceClassifier>("a test");
        var tok = loaded.Tokenizer;
        Assert.IsType<BertClassifier>(m);
        Assert.Equal(16, m.MaxInputTokens); // recorded in config.json as max_input_tokens
        var ids = ClassifierEvaluator.Encode(m, tok, ["the food was superb", "the room was awful"]);
        Assert.Equal(tok.SpecialTokenId("[CLS]"), (int)ids[0][0]);
        var (p, predicted) = ClassifierEvaluator.Predict(m, ids, 8);
        Assert.Equal(["neg", "pos"], m.Labels);
        Assert.Equal([1, 0], predicted);
        Assert.All(p, row => Assert.Equal(1.0, row.Sum(), 4));
    }

    [Fact]
    public void FreezingKeepsTheChosenWeightsFixed()
    {
        var tokenizer = ToyTokenizer();
        var o = TinyOptions with { MaxSteps = 20, EvalInterval = 20 };
        using var task = Classification(
            Toy(100, 1),
            Toy(20, 2),
            tokenizer,
            o,
            new FineTuneOptions { FreezeEmbeddings = true, FreezeLayers = 1 }
        );
        var before = task.Model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        Tiny.Train(task, TestData.TempDir());
        foreach (var (name, p) in task.Model.named_parameters())
        {
            bool frozen = name.StartsWith("bert.embeddings.") || name.StartsWith("bert.encoder.layer.0.");
            Assert.Equal(frozen, GptTests.Same(before[name], p));
        }
    }

    [Fact]
    public async Task MaskedLmPretrainingThenFineTuningStartsFromThePretrainedEncoder()
    {
        // Pretrain on text prepared with a WordPiece tokenizer (the toy sentences as a corpus).
        var (dir, tokenizer) = await PreparedToyCorpus(400);
        var o = TinyOptions with { MaxSteps = 150, EvalInterval = 50 };
        string mlmRun = Path.Combine(dir, "mlm");
        TrainingResult pretrained;
        using (var mlm = ModelRegistry.ForObjective("mlm").CreatePretrainingTask(Path.Combine(dir, "data"), TinyShape, null, o))
            pretrained = Tiny.Train(mlm, mlmRun);
        // Filler words are uniform over 10, so ln 10 ≈ 2.3 nats is about the best possible; the start is ln(vocabulary).
        var history = CheckpointState
            .Load(Path.Combine(mlmRun, "checkpoint", CheckpointState.FileName))
            .History.Where(h => h.ValLoss is not null)
            .ToList();
        Assert.True(history[0].ValLoss > 4, $"initial {history[0].ValLoss}"); // ln(110 tokens) = 4.7
        Assert.True(pretrained.BestValLoss < 3.2, $"masked-LM loss {pretrained.BestValLoss}");

        using var loaded = ModelRegistry.Load(mlmRun);
        var mlmModel = loaded.As<BertForMaskedLm>("a test");
        using var task = Classification(Toy(50, 1), Toy(10, 2), tokenizer, o, new FineTuneOptions { Pretrained = mlmRun });
        var pre = mlmModel.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in task.Model.named_parameters().Where(p => p.name.StartsWith("bert.")))
            Assert.True(GptTests.Same(pre[name], p), name);
    }

    [Fact]
    public void ATinyGptClassifierLearnsTheToyTaskFromItsLastToken()
    {
        var tokenizer = ToyTokenizer();
        var o = TinyOptions with { MaxSteps = 160 };
        using var task = Classification(Toy(200, 1), Toy(60, 2), tokenizer, o, new FineTuneOptions { Architecture = "gpt2" });
        string run = TestData.TempDir();
        var result = Tiny.Train(task, run);
        Assert.Equal(1.0, result.LastEval!.Metrics["accuracy"]);

        // Hugging Face GPT2ForSequenceClassification names: the body as GPT-2 writes it, plus score.weight.
        var names = SharpLM.IO.Safetensors.File.Open(Path.Combine(run, "model.safetensors")).Entries.Keys.ToHashSet();
        Assert.Contains("transformer.h.0.attn.c_attn.weight", names);
        Assert.Contains("score.weight", names);
        Assert.Equal("gpt2-classifier", ModelRegistry.ForRun(new RunFolder(run)).Name);
        using var loaded = ModelRegistry.Load(run);
        var m = loaded.As<ISequenceClassifier>("a test");
        Assert.IsType<GptClassifier>(m);
        var (_, predicted) = ClassifierEvaluator.Predict(
            m,
            ClassifierEvaluator.Encode(m, loaded.Tokenizer, ["the food was superb", "the room was awful"]),
            8
        );
        Assert.Equal([1, 0], predicted);
    }

    [Fact]
    public void GptClassifierReadsTheLastRealTokenSoPaddingChangesNothing()
    {
        torch.manual_seed(3);
        using var model = new GptClassifier(
            new GptConfig
            {
                VocabSize = 50,
                NPositions = 16,
                NEmbd = 32,
                NLayer = 2,
                NHead = 2,
                Labels = ["a", "b", "c"],
            }
        );
        model.eval();
        using var scope = NewDisposeScope();
        long[] shortText = [5, 9, 13],
            longText = [7, 7, 8, 21, 30, 2, 4];
        var (alone, attendAlone) = ClassifierEvaluator.Pad([shortText], model.PadId);
        var (batch, attendBatch) = ClassifierEvaluator.Pad([shortText, longText], model.PadId);
        var single = model.forward(alone, attendAlone)[0];
        var padded = model.forward(batch, attendBatch)[0];
        Assert.True(single.allclose(padded, rtol: 1e-5, atol: 1e-6));
        // ... while the pooled position matters: reading the (padded) last column instead gives other logits.
        var lastColumn = model.forward(batch, ones_like(attendBatch))[0];
        Assert.False(single.allclose(lastColumn, rtol: 1e-3, atol: 1e-4));
    }

    [Fact]
    public async Task AGptLanguageModelRunIsAStartingPointAndFreezingNamesItsLayers()
    {
        var (dir, tokenizer) = await PreparedToyCorpus(300);
        var o = TinyOptions with { MaxSteps = 20, EvalInterval = 20 };
        string lmRun = Path.Combine(dir, "lm");
        using (var lm = Tiny.LanguageModel(Path.Combine(dir, "data"), o, TinyShape))
            Tiny.Train(lm, lmRun);

        var (gpt, _) = Tiny.LoadGpt(lmRun);
        using var _ = gpt;
        var options = new FineTuneOptions
        {
            Pretrained = lmRun,
            FreezeEmbeddings = true,
            FreezeLayers = 1,
        };
        using var task = Classification(Toy(50, 1), Toy(10, 2), tokenizer, o, options);
        var pre = gpt.named_parameters().ToDictionary(p => "transformer." + p.name, p => p.parameter);
        var before = task.Model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        foreach (var (name, p) in before.Where(p => p.Key.StartsWith("transformer.")))
            Assert.True(GptTests.Same(pre[name], p), name);
        Tiny.Train(task, Path.Combine(dir, "clf"));
        foreach (var (name, p) in task.Model.named_parameters())
        {
            bool frozen = name.StartsWith("transformer.wte.") || name.StartsWith("transformer.wpe.") || name.StartsWith("transformer.h.0.");
            Assert.Equal(frozen, GptTests.Same(before[name], p));
        }
        Assert.Contains(
            "contradicts",
            Assert
                .Throws<SharpLMException>(() =>
                    Classification(Toy(20, 1), Toy(4, 2), tokenizer, o, new FineTuneOptions { Pretrained = lmRun, Architecture = "bert" })
                )
                .Message
        );
        Assert.Contains(
            "cannot be used for classification",
            Assert.Throws<SharpLMException>(() => TextClassificationPipeline.Load(lmRun)).Message
        );
    }

    [Fact]
    public void ATrainingFractionIsAStratifiedSubsetAndLeavesValidationAndTestAlone()
    {
        var data = new LabelledDataset(
            Enumerable.Range(0, 300).Select(i => new LabelledExample($"t{i}", i % 3 == 0 ? "spam" : "ham")).ToArray(),
            "toy"
        );
        var request = new FineTuneRequest
        {
            Data = "x",
            Output = "y",
            Training = TinyOptions,
            SplitSeed = 5,
        };
        var full = FineTuning.Parts(data, request);
        var part = FineTuning.Parts(data, request with { TrainFraction = 0.25 });
        Assert.Equal(full.Val, part.Val);
        Assert.Equal(full.Test, part.Test);
        Assert.Subset(full.Train.ToHashSet(), part.Train.ToHashSet());
        Assert.Equal(60, part.Train.Length); // a quarter of 240
        Assert.Equal(20, part.Train.Count(i => data.LabelIndex[i] == data.Labels.ToList().IndexOf("spam")));
        Assert.Throws<SharpLMException>(() => FineTuning.Parts(data, request with { TrainFraction = 0 }));
    }

    [Fact]
    public void LabelMismatchAndMissingClassesAreReported()
    {
        var tokenizer = ToyTokenizer();
        var val = new LabelledDataset([new("x", "pos"), new("y", "meh")], "val");
        Assert.Contains(
            "labels the training data lacks: meh",
            Assert.Throws<SharpLMException>(() => Classification(Toy(20, 1), val, tokenizer, TinyOptions, new FineTuneOptions())).Message
        );
        var gpt2Like = CharTokenizer.FromTexts(["abc"]);
        Assert.Contains(
            "has none",
            Assert
                .Throws<SharpLMException>(() => Classification(Toy(20, 1), Toy(4, 2), gpt2Like, TinyOptions, new FineTuneOptions()))
                .Message
        );
        Assert.Contains(
            "freeze_layers",
            Assert
                .Throws<SharpLMException>(() =>
                    Classification(Toy(20, 1), Toy(4, 2), tokenizer, TinyOptions, new FineTuneOptions { FreezeLayers = 9 })
                )
                .Message
        );
    }
}

[Collection(TorchCollection.Name)]
public class FineTuningCliTests
{
    static Task<(int Code, string Out, string Err)> Run(params string[] args) => Cli.Run(args);

    static readonly Lazy<Task<string>> ToyClassifier = new(async () =>
    {
        var (dir, csv, tok) = await ToyCsv();
        string run = Path.Combine(dir, "reviews");
        var ft = await Run(ToyFineTune(csv, run, "--tokenizer", tok, "--eval-interval", "40"));
        Assert.True(ft.Code == 0, ft.Err);
        return run;
    });

    /// <summary>`finetune` on the toy reviews with a 2-layer, 32-wide BERT that learns them in 6 epochs, plus extra flags.</summary>
    public static string[] ToyFineTune(string csv, string output, params string[] extra) =>
        [
            "finetune",
            "--data",
            csv,
            "--text-column",
            "review",
            "--label-column",
            "sentiment",
            "--output",
            output,
            "--n-layer",
            "2",
            "--n-head",
            "2",
            "--n-embd",
            "32",
            "--block-size",
            "16",
            "--lr",
            "2e-3",
            "--epochs",
            "6",
            "--dropout",
            "0",
            "--json",
            .. extra,
        ];

    /// <summary>A BERT classifier fine-tuned on the toy reviews (pos/neg), made once per test run.</summary>
    public static Task<string> TrainedToyClassifier() => ToyClassifier.Value;

    static Task<(int Code, string Out, string Err)> RunBench(params string[] args) => Cli.RunBench(args);

    /// <summary>A 300-row review CSV (columns review, sentiment) and a WordPiece tokenizer.json trained on it.</summary>
    /// <summary>The toy reviews as a CSV (review, sentiment) with a WordPiece tokenizer trained on them, in a fresh folder.</summary>
    public static Task<(string Dir, string Csv, string Tokenizer)> ToyCsvFiles() => ToyCsv();

    static async Task<(string Dir, string Csv, string Tokenizer)> ToyCsv()
    {
        string dir = TestData.TempDir();
        var rng = new Random(3);
        string[] good = ["great", "lovely", "superb"],
            bad = ["awful", "terrible", "grim"],
            filler = ["the", "food", "was", "room", "very"];
        string Sentence(bool positive) =>
            string.Join(' ', filler.OrderBy(_ => rng.Next()).Take(3).Append((positive ? good : bad)[rng.Next(3)]));
        var rows = Enumerable.Range(0, 300).Select(i => (Text: Sentence(i % 2 == 0), Label: i % 2 == 0 ? "pos" : "neg")).ToList();
        string csv = Path.Combine(dir, "reviews.csv");
        await File.WriteAllLinesAsync(csv, ["review,sentiment", .. rows.Select(r => $"\"{r.Text}\",{r.Label}")]);
        var tokenizer = SharpLM.Tokenization.TokenizerTrainer.TrainWordPiece(
            rows.Select(r => r.Text),
            new SharpLM.Tokenization.TokenizerTrainingOptions { VocabSize = 100 }
        );
        string tok = Path.Combine(dir, "tokenizer.json");
        tokenizer.Save(tok);
        return (dir, csv, tok);
    }

    [Fact]
    public async Task TuneRanksAGridByCrossValidation()
    {
        var (dir, csv, tok) = await ToyCsv();
        var r = await Run(
            "tune",
            "--data",
            csv,
            "--text-column",
            "review",
            "--label-column",
            "sentiment",
            "--tokenizer",
            tok,
            "--output",
            Path.Combine(dir, "tune"),
            "--n-layer",
            "2",
            "--n-head",
            "2",
            "--n-embd",
            "32",
            "--block-size",
            "16",
            "--folds",
            "3",
            "--lr",
            "2e-3",
            "1e-6",
            "--epochs",
            "6",
            "--dropout",
            "0",
            "--json"
        );
        Assert.True(r.Code == 0, r.Err);
        using var doc = System.Text.Json.JsonDocument.Parse(r.Out);
        var points = doc.RootElement.GetProperty("points");
        Assert.Equal(2, points.GetArrayLength());
        Assert.Equal(3, points[0].GetProperty("folds").GetArrayLength());
        // A learning rate of 1e-6 cannot learn in 6 epochs; 2e-3 can.
        Assert.Equal(2e-3, doc.RootElement.GetProperty("best").GetProperty("parameters").GetProperty("learningRate").GetDouble());
        Assert.True(points[0].GetProperty("mean").GetDouble() > points[1].GetProperty("mean").GetDouble() + 0.2);
        Assert.Contains("combination 2/2", r.Err);
        Assert.Contains("fold 3/3", r.Err);
        Assert.True(File.Exists(Path.Combine(dir, "tune", "tune.json")));
    }

    [Fact]
    public async Task MaskedLmTrainingAndFillMaskFromTheCommandLine()
    {
        var (dir, csv, tok) = await ToyCsv();
        string jsonl = Path.Combine(dir, "split");
        Assert.Equal(
            0,
            (await Run("data", "split", "--data", csv, "--text-column", "review", "--label-column", "sentiment", "--output", jsonl)).Code
        );
        Assert.Equal(240, File.ReadAllLines(Path.Combine(jsonl, "train.jsonl")).Length);
        string data = Path.Combine(dir, "mlm-data");
        var prep = await Run(
            "prepare",
            "--input",
            Path.Combine(jsonl, "train.jsonl"),
            "--tokenizer",
            tok,
            "--output",
            data,
            "--val-fraction",
            "0.3",
            "--json"
        );
        Assert.True(prep.Code == 0, prep.Err);
        string run = Path.Combine(dir, "mlm");
        var train = await Run(
            "train",
            "--objective",
            "mlm",
            "--data",
            data,
            "--output",
            run,
            "--preset",
            "tiny",
            "--block-size",
            "16",
            "--max-steps",
            "200",
            "--eval-interval",
            "100",
            "--lr",
            "3e-3",
            "--json"
        );
        Assert.True(train.Code == 0, train.Err);
        Assert.Contains("masked accuracy", train.Err);
        var fill = await Run("fill-mask", "--model", run, "--text", "the food was [MASK]", "--top", "3", "--json");
        Assert.True(fill.Code == 0, fill.Err);
        using var doc = System.Text.Json.JsonDocument.Parse(fill.Out);
        var candidates = doc.RootElement.GetProperty("masks")[0].GetProperty("candidates");
        Assert.Equal(3, candidates.GetArrayLength());
        Assert.True(candidates[0].GetProperty("probability").GetDouble() >= candidates[1].GetProperty("probability").GetDouble());
        var eval = await Run("eval", "--model", run, "--json");
        Assert.True(eval.Code == 0, eval.Err);
        using (var e = System.Text.Json.JsonDocument.Parse(eval.Out))
        {
            // An untrained encoder scores ln V nats (V ≈ 40 here); 200 steps reach about 2.2 nats and a quarter of the masked tokens.
            double lnV = Math.Log(SharpLM.Tokenization.TokenizerJson.Load(tok).VocabSize);
            Assert.True(e.RootElement.GetProperty("loss").GetDouble() < 0.75 * lnV, e.RootElement.GetRawText());
            Assert.True(e.RootElement.GetProperty("maskedAccuracy").GetDouble() >= 0.15, e.RootElement.GetRawText());
            Assert.True(e.RootElement.GetProperty("windows").GetInt32() >= 1);
            Assert.Equal(Math.Exp(e.RootElement.GetProperty("loss").GetDouble()), e.RootElement.GetProperty("perplexity").GetDouble(), 6);
        }
        var testSplit = await Run("eval", "--model", run, "--split", "test");
        Assert.Equal(1, testSplit.Code);
        Assert.Contains("applies to classifiers", testSplit.Err);
        var noMask = await Run("fill-mask", "--model", run, "--text", "no mask here");
        Assert.Equal(1, noMask.Code);
        Assert.Contains("no [MASK] token", noMask.Err);
        var gptData = await Run("train", "--objective", "mlm", "--data", data + "-missing", "--output", Path.Combine(dir, "x"));
        Assert.Equal(1, gptData.Code);
    }

    [Fact]
    public async Task BenchClassifyScoresBothModelsOnTheSameSplit()
    {
        var (dir, csv, tok) = await ToyCsv();
        var r = await RunBench(
            "classify",
            "--data",
            csv,
            "--text-column",
            "review",
            "--label-column",
            "sentiment",
            "--tokenizer",
            tok,
            "--output",
            Path.Combine(dir, "b"),
            "--n-layer",
            "2",
            "--n-head",
            "2",
            "--n-embd",
            "32",
            "--block-size",
            "16",
            "--lr",
            "2e-3",
            "--epochs",
            "6",
            "--dropout",
            "0",
            "--json"
        );
        Assert.True(r.Code == 0, r.Err);
        using var doc = System.Text.Json.JsonDocument.Parse(r.Out);
        var scores = doc.RootElement.GetProperty("scores");
        Assert.Equal(2, scores.GetArrayLength());
        Assert.StartsWith("SharpLM", scores[0].GetProperty("name").GetString());
        Assert.StartsWith("ML.NET", scores[1].GetProperty("name").GetString());
        Assert.All(scores.EnumerateArray(), s => Assert.Equal(30, s.GetProperty("testExamples").GetInt32()));
        Assert.Equal(1.0, scores[1].GetProperty("accuracy").GetDouble()); // the sentiment word is a perfect unigram feature
        Assert.Equal(1.0, scores[0].GetProperty("accuracy").GetDouble());
    }

    [Fact]
    public async Task FinetuneAndClassifyWithAGptFromTheCommandLine()
    {
        var (dir, csv, tok) = await ToyCsv();
        string run = Path.Combine(dir, "gpt-clf");
        var ft = await Run(
            "finetune",
            "--architecture",
            "gpt2",
            "--data",
            csv,
            "--text-column",
            "review",
            "--label-column",
            "sentiment",
            "--output",
            run,
            "--tokenizer",
            tok,
            "--n-layer",
            "2",
            "--n-head",
            "2",
            "--n-embd",
            "32",
            "--block-size",
            "16",
            "--lr",
            "2e-3",
            "--epochs",
            "8",
            "--dropout",
            "0",
            "--eval-interval",
            "40",
            "--json"
        );
        Assert.True(ft.Code == 0, ft.Err);
        using var result = System.Text.Json.JsonDocument.Parse(ft.Out);
        Assert.Equal(1.0, result.RootElement.GetProperty("test").GetProperty("accuracy").GetDouble());
        var one = await Run("classify", "--model", run, "--text", "the room was superb", "--text", "very room was grim", "--json");
        Assert.True(one.Code == 0, one.Err);
        using var prediction = System.Text.Json.JsonDocument.Parse(one.Out);
        Assert.Equal(
            ["pos", "neg"],
            prediction.RootElement.GetProperty("predictions").EnumerateArray().Select(x => x.GetProperty("label").GetString())
        );
        var bad = await Run("finetune", "--architecture", "transformer", "--data", csv, "--output", Path.Combine(dir, "x"));
        Assert.Equal(2, bad.Code); // a usage error: the value is not one of the choices
        Assert.Contains("'transformer'", bad.Err);
        Assert.False(Directory.Exists(Path.Combine(dir, "x")));
    }

    [Fact]
    public async Task FinetuneClassifyAndFillMaskFromTheCommandLine()
    {
        var (dir, csv, tok) = await ToyCsv();
        string run = Path.Combine(dir, "clf");

        var bad1 = await Run("finetune", "--data", csv, "--output", run, "--tokenizer", tok);
        Assert.Equal(1, bad1.Code);
        // the library's text_column, named as the flag
        Assert.Contains("no column 'text' (--text-column); its columns are: review, sentiment", bad1.Err);

        var ft = await Run(
            "finetune",
            "--data",
            csv,
            "--text-column",
            "review",
            "--label-column",
            "sentiment",
            "--output",
            run,
            "--tokenizer",
            tok,
            "--n-layer",
            "2",
            "--n-head",
            "2",
            "--n-embd",
            "32",
            "--block-size",
            "16",
            "--lr",
            "2e-3",
            "--epochs",
            "6",
            "--dropout",
            "0",
            "--eval-interval",
            "40",
            "--json"
        );
        Assert.True(ft.Code == 0, ft.Err);
        using var result = System.Text.Json.JsonDocument.Parse(ft.Out);
        Assert.Equal(1.0, result.RootElement.GetProperty("test").GetProperty("accuracy").GetDouble());
        Assert.Equal(30, result.RootElement.GetProperty("testExamples").GetInt32());

        // eval re-scores the recorded test split: the same numbers finetune reported.
        var eval = await Run("eval", "--model", run, "--json");
        Assert.True(eval.Code == 0, eval.Err);
        using (var e = System.Text.Json.JsonDocument.Parse(eval.Out))
        {
            var report = e.RootElement.GetProperty("report");
            Assert.Equal(30, report.GetProperty("count").GetInt32());
            Assert.Equal(
                result.RootElement.GetProperty("test").GetProperty("accuracy").GetDouble(),
                report.GetProperty("accuracy").GetDouble()
            );
        }
        var resume = await Run("train", "--output", run, "--resume");
        Assert.Equal(1, resume.Code);
        Assert.Contains("sharplm finetune", resume.Err);
        var evalVal = await Run("eval", "--model", run, "--split", "val", "--json");
        Assert.Equal(
            30,
            System.Text.Json.JsonDocument.Parse(evalVal.Out).RootElement.GetProperty("report").GetProperty("count").GetInt32()
        );
        var one = await Run("classify", "--model", run, "--text", "the room was superb", "--json");
        Assert.Equal(0, one.Code);
        using var prediction = System.Text.Json.JsonDocument.Parse(one.Out);
        var first = prediction.RootElement.GetProperty("predictions")[0];
        Assert.Equal("pos", first.GetProperty("label").GetString());
        Assert.True(first.GetProperty("probabilities").GetProperty("pos").GetDouble() > 0.9);

        var labelled = await Run("classify", "--model", run, "--input", csv, "--text-column", "review", "--label-column", "sentiment");
        Assert.Equal(0, labelled.Code);
        Assert.Contains("accuracy 1.0000 on 300 examples", labelled.Out);

        string other = Path.Combine(dir, "other.csv");
        await File.WriteAllLinesAsync(other, ["text,label", "great food,pos", "meh,neutral"]);
        var mismatch = await Run("classify", "--model", run, "--input", other);
        Assert.Equal(1, mismatch.Code);
        Assert.Contains("labels the model was not trained on: neutral (the model knows neg, pos)", mismatch.Err);

        var notMlm = await Run("fill-mask", "--model", run, "--text", "the [MASK] was great"); // a classifier has no masked-LM head
        Assert.Equal(1, notMlm.Code);
    }
}
