using SharpLM.Data;
using SharpLM.Runtime;
using SharpLM.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Tests;

[Collection(TorchCollection.Name)]
public class TrainingTests
{
    /// <summary>A prepared char-level data folder for <paramref name="text"/> (first 90% train, last 10% validation).</summary>
    public static async Task<string> PreparedData(string text)
    {
        string dir = TestData.TempDir();
        string input = Path.Combine(dir, "corpus.txt");
        await File.WriteAllTextAsync(input, text);
        await new CorpusPreparer(TestData.Catalog).RunAsync(
            new PrepareOptions
            {
                Inputs = [input],
                Tokenizer = "char",
                OutputDir = Path.Combine(dir, "data"),
                ValFraction = 0.1,
                Split = SplitMode.Characters,
            }
        );
        return Path.Combine(dir, "data");
    }

    static readonly Lazy<Task<string>> Periodic = new(() =>
        PreparedData(string.Concat(Enumerable.Repeat("the cat sat on the mat. ", 400)))
    );

    static TrainOptions TinyOptions => Tiny.Options with { LogInterval = 5 };

    static TrainingResult Train(
        string data,
        TrainOptions o,
        string run,
        bool resume = false,
        IProgress<TrainingProgress>? progress = null,
        CancellationToken ct = default,
        Models.ModelShape? shape = null
    )
    {
        using var task = Tiny.LanguageModel(data, o, shape);
        return Tiny.Train(task, run, resume, progress, ct);
    }

    [Fact]
    public async Task TinyModelOverfitsATinyCorpus()
    {
        string data = await Periodic.Value;
        string run = TestData.TempDir();
        var result = Train(
            data,
            TinyOptions with
            {
                MaxSteps = 300,
                LearningRate = 3e-3,
                MinLearningRate = 3e-4,
                EvalInterval = 100,
                WeightDecay = 0,
            },
            run
        );
        Assert.True(result.BestValLoss < 0.05, $"validation loss {result.BestValLoss}");
        var history = CheckpointState.Load(Path.Combine(run, "checkpoint", CheckpointState.FileName)).History;
        Assert.True(history.First(h => h.ValLoss is not null).ValLoss > 2.0); // starts near ln(vocab 12) = 2.48
        Assert.True(File.Exists(Path.Combine(run, "loss.png")));
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(run, "logs"), "events.out.tfevents.*"));
        Assert.True(File.Exists(Path.Combine(run, "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(run, "config.json")));
        Assert.True(File.Exists(Path.Combine(run, "tokenizer.json")));
    }

    [Fact]
    public async Task ResumingGivesTheSameWeightsBitForBit()
    {
        string data = await Periodic.Value;
        // Dropout and accumulation exercise the random draws and micro-batch seeding.
        var o = TinyOptions with
        {
            MaxSteps = 40,
            EvalInterval = 15,
            GradAccumulation = 2,
        };
        var shape = Tiny.Shape with { Dropout = 0.1 };
        string straight = TestData.TempDir(),
            interrupted = TestData.TempDir();
        Train(data, o, straight, shape: shape);

        using var cts = new CancellationTokenSource();
        var partial = Train(
            data,
            o,
            interrupted,
            progress: new SyncProgress(p =>
            {
                if (p.Step == 23)
                    cts.Cancel();
            }),
            ct: cts.Token,
            shape: shape
        );
        Assert.Equal("cancelled", partial.StoppedBecause);
        Assert.Equal(23, partial.Steps);
        var resumed = Train(data, o, interrupted, resume: true, shape: shape);
        Assert.Equal(40, resumed.Steps);

        foreach (var file in new[] { "checkpoint/model.safetensors", "checkpoint/optimizer.safetensors", "model.safetensors" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(straight, file)), File.ReadAllBytes(Path.Combine(interrupted, file)));
        Assert.Equal(resumed.BestValLoss, Train(data, o with { MaxSteps = 40 }, TestData.TempDir(), shape: shape).BestValLoss);
    }

    [Fact]
    public async Task ResumeRefusesAMissingOrCorruptCheckpoint()
    {
        string data = await Periodic.Value;
        var o = TinyOptions with { MaxSteps = 10, EvalInterval = 5 };
        string run = TestData.TempDir();
        Assert.Contains("no checkpoint", Assert.Throws<SharpLMException>(() => Train(data, o, run, resume: true)).Message);
        Train(data, o, run);
        Assert.Contains("already holds a run", Assert.Throws<SharpLMException>(() => Train(data, o, run)).Message);
        Assert.Contains("already finished", Assert.Throws<SharpLMException>(() => Train(data, o, run, resume: true)).Message);

        string optimizer = Path.Combine(run, "checkpoint", "optimizer.safetensors");
        var bytes = File.ReadAllBytes(optimizer);
        File.WriteAllBytes(optimizer, bytes[..(bytes.Length - 100)]);
        Assert.Contains(
            "not a valid safetensors file",
            Assert.Throws<SharpLMException>(() => Train(data, o with { MaxSteps = 20 }, run, resume: true)).Message
        );

        File.WriteAllText(Path.Combine(run, "checkpoint", CheckpointState.FileName), "{ not json");
        Assert.Contains("corrupt", Assert.Throws<SharpLMException>(() => Train(data, o with { MaxSteps = 20 }, run, resume: true)).Message);
    }

    [Fact]
    public async Task EarlyStoppingStopsWhenValidationStallsAndKeepsTheBestWeights()
    {
        string data = await Periodic.Value;
        string run = TestData.TempDir();
        // Improvements must exceed 10 nats, which never happens after the first evaluation.
        var r = Train(
            data,
            TinyOptions with
            {
                MaxSteps = 200,
                EvalInterval = 10,
                EarlyStoppingPatience = 2,
                EarlyStoppingMinDelta = 10,
            },
            run
        );
        Assert.Equal("early_stopping", r.StoppedBecause);
        Assert.Equal(20, r.Steps);
        Assert.Equal(0, r.BestStep);
    }

    [Theory]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.AdamW)]
    public async Task EveryOptimizerLearns(OptimizerKind kind)
    {
        string data = await Periodic.Value;
        var o = TinyOptions with
        {
            Optimizer = kind,
            MaxSteps = 60,
            EvalInterval = 60,
            LearningRate = kind == OptimizerKind.Sgd ? 0.3 : 3e-3,
            MinLearningRate = 0,
        };
        var r = Train(data, o, TestData.TempDir());
        Assert.True(r.BestValLoss < 2.0, $"{kind}: {r.BestValLoss}"); // ln(vocab 12) = 2.48 is where it starts
    }

    [Theory]
    [InlineData(OptimizerKind.AdamW)]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.Sgd)]
    public void OptimizerUpdatesFollowTheirFormulas(OptimizerKind kind)
    {
        // A Linear(3 → 1) whose loss is w·x + b: the gradient is x for the weight (decayed) and 1 for the bias (not).
        // Six steps are replayed here in doubles from the published algorithms (PyTorch's AdamW, Adam with L2 through
        // the gradient, SGD with momentum and dampening 0), which is what TrainingOptimizer implements.
        using var scope = NewDisposeScope();
        var linear = nn.Linear(3, 1);
        double[] w = [0.5, -0.25, 1.0],
            x = [0.3, -1.2, 2.0];
        double b = 0.1;
        using (no_grad())
        {
            linear.weight!.copy_(tensor(w.Select(v => (float)v).ToArray(), [1, 3]));
            linear.bias!.copy_(tensor(new[] { (float)b }));
        }
        var o = new TrainOptions
        {
            Optimizer = kind,
            LearningRate = 0.05,
            WeightDecay = 0.1,
            Beta1 = 0.9,
            Beta2 = 0.99,
            Momentum = 0.9,
        };
        using var optimizer = new TrainingOptimizer(linear, o);
        var input = tensor(x.Select(v => (float)v).ToArray(), [1, 3]);
        double[] p = [.. w, b],
            g0 = [.. x, 1],
            m = new double[4],
            v = new double[4];
        for (int step = 1; step <= 6; step++)
        {
            optimizer.ZeroGrad();
            linear.forward(input).sum().backward();
            optimizer.Step();
            for (int i = 0; i < 4; i++)
            {
                double decay = i < 3 ? o.WeightDecay : 0,
                    g = g0[i];
                if (kind == OptimizerKind.Sgd)
                {
                    g += decay * p[i];
                    m[i] = step == 1 ? g : o.Momentum * m[i] + g;
                    p[i] -= o.LearningRate * m[i];
                    continue;
                }
                if (kind == OptimizerKind.AdamW)
                    p[i] *= 1 - o.LearningRate * decay;
                else
                    g += decay * p[i];
                m[i] = o.Beta1 * m[i] + (1 - o.Beta1) * g;
                v[i] = o.Beta2 * v[i] + (1 - o.Beta2) * g * g;
                double mHat = m[i] / (1 - Math.Pow(o.Beta1, step)),
                    vHat = v[i] / (1 - Math.Pow(o.Beta2, step));
                p[i] -= o.LearningRate * mHat / (Math.Sqrt(vHat) + 1e-8);
            }
        }
        float[] actual = [.. linear.weight!.data<float>(), .. linear.bias!.data<float>()];
        for (int i = 0; i < 4; i++)
            Assert.Equal(p[i], actual[i], 5e-6);
        Assert.NotEqual(w[0], actual[0], 1e-3); // it moved
    }

    [Fact]
    public async Task L2PenaltyShrinksTheWeights()
    {
        string data = await Periodic.Value;
        double Norm(string run)
        {
            using var scope = NewDisposeScope();
            var (model, _) = Tiny.LoadGpt(run);
            using var m = model;
            return new TrainingOptimizerProbe(m).MatrixNorm();
        }
        var o = TinyOptions with { MaxSteps = 60, EvalInterval = 60, WeightDecay = 0 };
        string plain = TestData.TempDir(),
            l2 = TestData.TempDir(),
            l1 = TestData.TempDir();
        Train(data, o, plain);
        Train(data, o with { L2 = 0.01 }, l2);
        Train(data, o with { L1 = 1e-4 }, l1);
        Assert.True(Norm(l2) < 0.9 * Norm(plain), $"{Norm(l2)} vs {Norm(plain)}");
        Assert.True(Norm(l1) < Norm(plain));
    }

    sealed class TrainingOptimizerProbe(nn.Module m)
    {
        public double MatrixNorm() => m.parameters().Where(p => p.dim() >= 2).Sum(p => p.mul(p).sum().item<float>());
    }

    [Fact]
    public void LearningRateScheduleWarmsUpThenDecays()
    {
        var o = new TrainOptions
        {
            LearningRate = 1e-3,
            MinLearningRate = 1e-4,
            WarmupSteps = 100,
            MaxSteps = 1100,
        };
        Assert.Equal(1e-3 / 101, LearningRateSchedule.At(o, 0), 12);
        Assert.Equal(1e-3 * 100 / 101, LearningRateSchedule.At(o, 99), 12);
        Assert.Equal(1e-3, LearningRateSchedule.At(o, 100), 12);
        Assert.Equal(5.5e-4, LearningRateSchedule.At(o, 600), 12); // cosine midpoint
        Assert.Equal(1e-4, LearningRateSchedule.At(o, 1100), 12);
        Assert.Equal(5.5e-4, LearningRateSchedule.At(o with { Decay = LrDecay.Linear }, 600), 12);
        Assert.Equal(1e-3, LearningRateSchedule.At(o with { Decay = LrDecay.Constant }, 1000), 12);
    }

    [Fact]
    public void BadTrainingOptionsAreRejected()
    {
        Assert.Contains("batch_size", Assert.Throws<SharpLMException>(() => new TrainOptions { BatchSize = 0 }.Validate()).Message);
        Assert.Contains("learning_rate", Assert.Throws<SharpLMException>(() => new TrainOptions { LearningRate = -1 }.Validate()).Message);
        Assert.Contains(
            "min_learning_rate",
            Assert.Throws<SharpLMException>(() => new TrainOptions { MinLearningRate = 1 }.Validate()).Message
        );
        Assert.Contains("dropout", Assert.Throws<SharpLMException>(() => new Models.ModelShape { Dropout = 1 }.Validate()).Message);
        Assert.Contains("Unknown preset 'huge'", Assert.Throws<SharpLMException>(() => TrainingPreset.Get("huge")).Message);
    }

    [Fact]
    public async Task DataProblemsAreReportedClearly()
    {
        string data = await Periodic.Value;
        Assert.Contains(
            "fewer than one window",
            Assert.Throws<SharpLMException>(() => Tiny.LanguageModel(data, TinyOptions, Tiny.Shape with { Context = 100_000 })).Message
        );
        var config = Models.GptConfig.For(Tiny.Shape, SharpLM.Data.PreparedData.Tokenizer(data));
        Assert.Contains(
            "does not exist",
            Assert.Throws<SharpLMException>(() => new LanguageModelTask(Path.Combine(data, "nope"), config, TinyOptions)).Message
        );
        string empty = TestData.TempDir();
        File.Copy(Path.Combine(data, "tokenizer.json"), Path.Combine(empty, "tokenizer.json"));
        Assert.Contains("no train_*.bin", Assert.Throws<SharpLMException>(() => new LanguageModelTask(empty, config, TinyOptions)).Message);
    }

    [Fact]
    public async Task BatchesAreDeterministicWindowsOfTheShards()
    {
        string data = await Periodic.Value;
        using var train = TokenDataset.Open(data, "train");
        using var scope = NewDisposeScope();
        var (x1, y1) = train.RandomBatch(4, 8, 42);
        var (x2, _) = train.RandomBatch(4, 8, 42);
        var (x3, _) = train.RandomBatch(4, 8, 43);
        Assert.True(GptTests.Same(x1, x2));
        Assert.False(GptTests.Same(x1, x3));
        Assert.True(GptTests.Same(x1[.., 1..], y1[.., ..^1])); // targets are inputs shifted by one
    }

    /// <summary>
    /// A language-model task whose loss at chosen steps is made non-finite: NaN in value, or finite with an infinite gradient.
    /// </summary>
    sealed class PoisonedTask(string data, TrainOptions o, Func<int, bool> poisoned, bool infiniteGradient = false) : ITrainingTask
    {
        readonly LanguageModelTask _inner = Tiny.LanguageModel(data, o);
        public nn.Module Model => _inner.Model;
        public Models.IModelConfig ModelConfig => _inner.ModelConfig;
        public TrainOptions Options => _inner.Options;

        public MicroBatch MicroBatchLoss(int step, int micro)
        {
            var batch = _inner.MicroBatchLoss(step, micro);
            if (!poisoned(step))
                return batch;
            using var s = new Runtime.Scalars();
            if (!infiniteGradient)
                return batch with { Loss = batch.Loss.mul(s[double.NaN]) };
            var w = _inner.Model.parameters().First();
            // value + 0, gradient of sqrt at 0 = infinity
            return batch with { Loss = batch.Loss.Plus((w - w.detach()).abs().sum().sqrt()) };
        }

        public EvalResult Evaluate(CancellationToken ct) => _inner.Evaluate(ct);

        public void SaveWeights(string path) => _inner.SaveWeights(path);

        public void LoadWeights(string path) => _inner.LoadWeights(path);

        public void WriteRunFiles(RunFolder run) => _inner.WriteRunFiles(run);

        public void Dispose() => _inner.Dispose();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ANonFiniteStepIsSkippedWithoutTouchingWeightsOrOptimizerState(bool infiniteGradient)
    {
        string data = await Periodic.Value;
        // Constant learning rate without warmup, so the schedule does not depend on max_steps.
        var o = TinyOptions with
        {
            MaxSteps = 5,
            EvalInterval = 100,
            WarmupSteps = 0,
            Decay = LrDecay.Constant,
            GradClip = 0,
        };
        string clean = TestData.TempDir(),
            poisoned = TestData.TempDir();
        Train(data, o, clean);
        var messages = new List<string>();
        TrainingResult result;
        using (var task = new PoisonedTask(data, o with { MaxSteps = 6 }, step => step == 5, infiniteGradient))
            result = Tiny.Train(
                task,
                poisoned,
                progress: new SyncProgress(p =>
                {
                    if (p.Message != null)
                        messages.Add(p.Message);
                })
            );
        Assert.Equal(6, result.Steps);
        Assert.Equal(1, result.SkippedSteps);
        Assert.Contains(messages, m => m.Contains("step 5 skipped: non-finite " + (infiniteGradient ? "gradient norm" : "loss")));
        // Steps 0-4 then a skipped step 5 leave exactly what steps 0-4 alone leave: weights, moments and step counts.
        foreach (var file in new[] { "checkpoint/model.safetensors", "checkpoint/optimizer.safetensors" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(clean, file)), File.ReadAllBytes(Path.Combine(poisoned, file)));
        Assert.Equal(1, CheckpointState.Load(Path.Combine(poisoned, "checkpoint", CheckpointState.FileName)).SkippedSteps);
        Assert.Contains("\"skippedSteps\": 1", File.ReadAllText(Path.Combine(poisoned, "metrics.json")));
    }

    [Fact]
    public async Task TooManyNonFiniteStepsInARowStopTheRunAndStopModeStopsAtOnce()
    {
        string data = await Periodic.Value;
        var o = TinyOptions with { MaxSteps = 50, EvalInterval = 5, MaxNonFiniteSkips = 3 };
        string run = TestData.TempDir();
        using (var task = new PoisonedTask(data, o, step => step >= 7))
        {
            var e = Assert.Throws<SharpLMException>(() => Tiny.Train(task, run));
            Assert.Contains("3 steps in a row (up to step 9) had a non-finite loss", e.Message);
        }
        // The checkpoint holds the last good state: steps 7 and 8 were skipped, so step 10's was never written.
        Assert.Equal(5, CheckpointState.Load(Path.Combine(run, "checkpoint", CheckpointState.FileName)).Step);

        using var stopping = new PoisonedTask(data, o with { OnNonFinite = NonFiniteAction.Stop }, step => step == 2);
        var stop = Assert.Throws<SharpLMException>(() => Tiny.Train(stopping, TestData.TempDir()));
        Assert.Contains("Step 2 had a non-finite loss", stop.Message);
    }

    sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
