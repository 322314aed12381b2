using System.Text.Json.Serialization;
using SharpLM.Cli;
using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.IO;
using SharpLM.Models;
using SharpLM.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Tests;

/// <summary>
/// A kind of model is one class plus one registry line: this test-only bigram language model is trained, evaluated,
/// resumed and recognised through the unchanged CLI and library, with no edit anywhere else.
/// </summary>
[Collection(TorchCollection.Name)]
public class ModelRegistryTests
{
    /// <summary>config.json of the bigram model (model_type "bigram").</summary>
    sealed record BigramConfig : IModelConfig
    {
        [JsonPropertyName("model_type")]
        public string ModelType { get; init; } = "bigram";

        [JsonPropertyName("vocab_size")]
        public int VocabSize { get; init; }

        [JsonPropertyName("context")]
        public int Context { get; init; } = 16;

        [JsonIgnore]
        public string[]? Labels => null;

        public string Describe() => $"bigram over {VocabSize} tokens";

        public BigramConfig Validate() => VocabSize > 0 ? this : throw new SharpLMException("bigram config: vocab_size must be positive.");
    }

    /// <summary>Next-token logits from the current token only: one embedding row per token.</summary>
    sealed class Bigram : nn.Module<Tensor, Tensor>
    {
        readonly Embedding table;

        public Bigram(BigramConfig config)
            : base(nameof(Bigram))
        {
            table = nn.Embedding(config.VocabSize, config.VocabSize);
            RegisterComponents();
        }

        public override Tensor forward(Tensor ids) => table.forward(ids);
    }

    sealed class BigramTask : ITrainingTask
    {
        readonly TokenDataset _train,
            _val;
        readonly Bigram _model;
        public BigramConfig Config { get; }
        public TrainOptions Options { get; }
        public nn.Module Model => _model;
        public IModelConfig ModelConfig => Config;
        readonly string _data;

        public BigramTask(string data, BigramConfig config, TrainOptions options)
        {
            (_data, Config, Options) = (data, config, options);
            _train = TokenDataset.Open(data, "train", config.VocabSize);
            _val = TokenDataset.Open(data, "val", config.VocabSize);
            torch.manual_seed(options.Seed);
            _model = new Bigram(config);
        }

        Tensor Loss(Tensor x, Tensor y) => nn.functional.cross_entropy(_model.forward(x).view(-1, Config.VocabSize), y.view(-1));

        public MicroBatch MicroBatchLoss(int step, int micro)
        {
            var (x, y) = _train.RandomBatch(
                Options.BatchSize,
                Config.Context,
                SplitMix64.Mix((ulong)Options.Seed, (ulong)step, (ulong)micro)
            );
            return new MicroBatch(Loss(x, y), y.numel());
        }

        public EvalResult Evaluate(CancellationToken ct)
        {
            using var inference = new Runtime.InferenceScope(_model);
            using var scope = NewDisposeScope();
            var (x, y) = _val.Windows(LanguageModelEvaluator.CoveringWindows(_val, Config.Context, 8), Config.Context);
            double loss = Loss(x, y).item<float>();
            return new EvalResult(loss, new Dictionary<string, double> { ["perplexity"] = Math.Exp(loss) });
        }

        public void SaveWeights(string path) => ModuleWeights.Save(_model, path);

        public void LoadWeights(string path) => ModuleWeights.Load(_model, path);

        public void WriteRunFiles(RunFolder run)
        {
            ModelConfigFile.Save(Config, run.Config);
            PreparedData.Tokenizer(_data).Save(run.Tokenizer);
            AtomicFile.WriteAllText(run.Data, _data);
        }

        public void Dispose()
        {
            _train.Dispose();
            _val.Dispose();
            _model.Dispose();
        }
    }

    sealed class BigramKind : ModelKind
    {
        public override string Name => "bigram";
        public override string Description => "bigram language model";
        public override string Task => "bigram-scoring";
        public override string Objective => "bigram";

        public override bool Recognises(ModelConfigFile.Summary config) => config.ModelType == "bigram";

        public override ITrainingTask CreatePretrainingTask(string? dataDir, ModelShape? shape, RunFolder? existing, TrainOptions options)
        {
            dataDir = DataFolder(dataDir, existing);
            var config = existing is not null
                ? ModelConfigFile.Load<BigramConfig>(existing.Config, c => c.Validate())
                : new BigramConfig { VocabSize = PreparedData.Tokenizer(dataDir).VocabSize, Context = shape!.Context };
            return new BigramTask(dataDir, config, options);
        }

        public override LoadedModel Load(RunFolder run)
        {
            RequireWeights(run);
            var config = ModelConfigFile.Load<BigramConfig>(run.Config, c => c.Validate());
            var model = new Bigram(config);
            ModuleWeights.Load(model, run.Weights);
            return new LoadedModel(this, run, model, RunTokenizer(run, config.VocabSize));
        }

        public override EvaluationOutcome Evaluate(
            LoadedModel model,
            EvaluationRequest request,
            IProgress<(int Done, int Total)>? progress = null,
            CancellationToken ct = default
        ) =>
            new(
                new { model = model.Run.Path, parameters = model.Parameters },
                [
                    new ReportTable(
                        ["parameters"],
                        [
                            [model.Parameters.ToString()],
                        ]
                    ),
                ]
            );
    }

    static readonly Lazy<bool> Registered = new(() =>
    {
        ModelRegistry.Register(new BigramKind());
        return true;
    });

    static Task<(int Code, string Out, string Err)> Run(params string[] args) => Cli.Run(args);

    [Fact]
    public async Task ANewKindTrainsResumesAndEvaluatesThroughTheUnchangedCommandLine()
    {
        _ = Registered.Value; // the one line a new kind needs
        string data = await TrainingTests.PreparedData(string.Concat(Enumerable.Repeat("abcabcabd ", 300)));
        string run = Path.Combine(TestData.TempDir(), "run");
        var train = await Run(
            "train",
            "--objective",
            "bigram",
            "--data",
            data,
            "--output",
            run,
            "--preset",
            "tiny",
            "--block-size",
            "16",
            "--max-steps",
            "40",
            "--eval-interval",
            "20",
            "--lr",
            "0.05",
            "--json"
        );
        Assert.True(train.Code == 0, train.Err);
        Assert.Contains("model: bigram over", train.Err);
        Assert.Equal("bigram", ModelRegistry.ForRun(new RunFolder(run)).Name);
        var resumed = await Run("train", "--output", run, "--resume", "--max-steps", "60", "--json");
        Assert.True(resumed.Code == 0, resumed.Err);
        using var result = System.Text.Json.JsonDocument.Parse(resumed.Out);
        // The bigram statistics of "abcabcabd ": after 'a' always 'b' — a bigram model learns far below ln(5).
        Assert.True(result.RootElement.GetProperty("bestValLoss").GetDouble() < 1.0, resumed.Out);
        var eval = await Run("eval", "--model", run, "--json");
        Assert.True(eval.Code == 0, eval.Err);
        Assert.Contains("\"parameters\":25", eval.Out); // 5 × 5 embedding
        var pipeline = await Run("generate", "--model", run);
        Assert.Equal(1, pipeline.Code);
        Assert.Contains("bigram language model, which cannot be used for text generation", pipeline.Err);
        Assert.Contains("'bigram-scoring' has no pipeline", Assert.Throws<SharpLMException>(() => Pipeline.Load(run)).Message);
    }

    [Fact]
    public void KindsAreFoundByConfigObjectiveAndArchitecture()
    {
        Assert.Equal("gpt2-lm", ModelRegistry.ForObjective("lm").Name);
        Assert.Equal("bert-mlm", ModelRegistry.ForObjective("MLM").Name);
        Assert.Equal("gpt2-classifier", ModelRegistry.ClassifierFor("gpt").Name);
        Assert.Equal("bert-classifier", ModelRegistry.ClassifierFor("bert").Name);
        Assert.Contains("is not one of lm", Assert.Throws<SharpLMException>(() => ModelRegistry.ForObjective("seq2seq")).Message);
        Assert.Contains("Unknown architecture 'lstm'", Assert.Throws<SharpLMException>(() => ModelRegistry.ClassifierFor("lstm")).Message);
        Assert.Throws<ArgumentException>(() => ModelRegistry.Register(new GptLanguageModelKind()));
    }
}
