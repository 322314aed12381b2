using System.Text.Json;
using System.Text.Json.Serialization;
using SharpLM.IO;
using SharpLM.Models;

namespace SharpLM.Training;

public enum OptimizerKind
{
    AdamW,
    Adam,
    Sgd,
}

public enum LrDecay
{
    Cosine,
    Linear,
    Constant,
}

/// <summary>What a step with a non-finite loss or gradient norm does.</summary>
public enum NonFiniteAction
{
    /// <summary>Skip it: weights and optimizer state stay as they were; the run stops after too many in a row.</summary>
    Skip,

    /// <summary>Stop the run (the last checkpoint is kept).</summary>
    Stop,
}

/// <summary>
/// How a model is optimised: batches, steps, optimizer, schedule, regularisation, evaluation, seed. The model's shape
/// is not here — it belongs to the model's config (built from a <see cref="ModelShape"/> or a pretrained run). Saved as
/// training.json in the run folder, so that a resumed run continues with exactly the same settings.
/// </summary>
public sealed record TrainOptions
{
    // batches and length
    [JsonPropertyName("batch_size")]
    public int BatchSize { get; init; } = 12;

    [JsonPropertyName("grad_accumulation")]
    public int GradAccumulation { get; init; } = 1;

    [JsonPropertyName("max_steps")]
    public int MaxSteps { get; init; } = 2000;

    // optimiser and schedule
    [JsonPropertyName("optimizer")]
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.AdamW;

    [JsonPropertyName("learning_rate")]
    public double LearningRate { get; init; } = 1e-3;

    [JsonPropertyName("min_learning_rate")]
    public double MinLearningRate { get; init; } = 1e-4;

    [JsonPropertyName("warmup_steps")]
    public int WarmupSteps { get; init; } = 100;

    /// <summary>Step at which decay reaches the minimum; null means max_steps.</summary>
    [JsonPropertyName("decay_steps")]
    public int? DecaySteps { get; init; }

    [JsonPropertyName("lr_decay")]
    public LrDecay Decay { get; init; } = LrDecay.Cosine;

    [JsonPropertyName("beta1")]
    public double Beta1 { get; init; } = 0.9;

    [JsonPropertyName("beta2")]
    public double Beta2 { get; init; } = 0.99;

    [JsonPropertyName("momentum")]
    public double Momentum { get; init; } = 0.9;

    /// <summary>Decoupled (AdamW) or coupled (Adam, SGD) weight decay, applied to matrices only.</summary>
    [JsonPropertyName("weight_decay")]
    public double WeightDecay { get; init; } = 0.1;

    /// <summary>Adds l1·Σ|w| over the matrices to the loss.</summary>
    [JsonPropertyName("l1")]
    public double L1 { get; init; }

    /// <summary>Adds l2·Σw² over the matrices to the loss.</summary>
    [JsonPropertyName("l2")]
    public double L2 { get; init; }

    /// <summary>Maximum global gradient norm; 0 disables clipping.</summary>
    [JsonPropertyName("grad_clip")]
    public double GradClip { get; init; } = 1.0;

    // evaluation and checkpoints
    [JsonPropertyName("eval_interval")]
    public int EvalInterval { get; init; } = 250;

    [JsonPropertyName("eval_batches")]
    public int EvalBatches { get; init; } = 20;

    /// <summary>Stop after this many evaluations without improvement; 0 disables early stopping.</summary>
    [JsonPropertyName("early_stopping_patience")]
    public int EarlyStoppingPatience { get; init; }

    [JsonPropertyName("early_stopping_min_delta")]
    public double EarlyStoppingMinDelta { get; init; }

    [JsonPropertyName("log_interval")]
    public int LogInterval { get; init; } = 10;

    [JsonPropertyName("seed")]
    public int Seed { get; init; } = 1337;

    /// <summary>A step whose loss or gradient norm is NaN or infinite is skipped (default) or stops the run.</summary>
    [JsonPropertyName("on_nonfinite")]
    public NonFiniteAction OnNonFinite { get; init; } = NonFiniteAction.Skip;

    /// <summary>With <see cref="NonFiniteAction.Skip"/>: stop after this many skipped steps in a row.</summary>
    [JsonPropertyName("max_nonfinite_skips")]
    public int MaxNonFiniteSkips { get; init; } = 10;

    /// <summary>
    /// Data-parallel training over several processes (null: this process alone): each rank trains on its own part of
    /// every global batch of batch_size × ranks rows, and gradients are averaged over the ranks. Not saved with the
    /// options: a resumed run is launched on its ranks again.
    /// </summary>
    [JsonIgnore]
    public Distributed.DataParallel? Parallel { get; init; }

    /// <summary>fp32, or bf16 mixed precision (fp32 master weights and optimizer state; models that support it).</summary>
    [JsonPropertyName("precision")]
    public Models.Layers.Precision Precision { get; init; } = Models.Layers.Precision.Fp32;

    [JsonIgnore]
    public int EffectiveDecaySteps => DecaySteps ?? MaxSteps;

    public TrainOptions Validate()
    {
        static void AtLeast(string name, double value, double min)
        {
            if (!(value >= min))
                throw new SharpLMException($"Training option {name} must be at least {min} (got {value}).");
        }
        AtLeast("batch_size", BatchSize, 1);
        AtLeast("grad_accumulation", GradAccumulation, 1);
        AtLeast("max_steps", MaxSteps, 1);
        AtLeast("warmup_steps", WarmupSteps, 0);
        AtLeast("eval_interval", EvalInterval, 1);
        AtLeast("eval_batches", EvalBatches, 1);
        AtLeast("log_interval", LogInterval, 1);
        AtLeast("weight_decay", WeightDecay, 0);
        AtLeast("l1", L1, 0);
        AtLeast("l2", L2, 0);
        AtLeast("grad_clip", GradClip, 0);
        AtLeast("early_stopping_patience", EarlyStoppingPatience, 0);
        AtLeast("max_nonfinite_skips", MaxNonFiniteSkips, 1);
        // Upper bounds far above any real run, so that a corrupt training.json gives a message rather than a huge allocation.
        if (BatchSize > 1 << 20)
            throw new SharpLMException($"Training option batch_size must be at most {1 << 20} (got {BatchSize}).");
        if ((long)EvalBatches * BatchSize > 1 << 24)
            throw new SharpLMException(
                $"Training options eval_batches × batch_size ({(long)EvalBatches * BatchSize}) must be at most {1 << 24} windows."
            );
        if (GradAccumulation > 1 << 20)
            throw new SharpLMException($"Training option grad_accumulation must be at most {1 << 20} (got {GradAccumulation}).");
        if (!(LearningRate > 0 && LearningRate < 10))
            throw new SharpLMException($"Training option learning_rate must be in (0, 10) (got {LearningRate}).");
        if (!(MinLearningRate >= 0 && MinLearningRate <= LearningRate))
            throw new SharpLMException(
                $"Training option min_learning_rate must be between 0 and learning_rate {LearningRate} (got {MinLearningRate})."
            );
        foreach (var (name, b) in new[] { ("beta1", Beta1), ("beta2", Beta2), ("momentum", Momentum) })
            if (!(b >= 0 && b < 1))
                throw new SharpLMException($"Training option {name} must be in [0, 1) (got {b}).");
        if (DecaySteps is int d && d < WarmupSteps)
            throw new SharpLMException($"Training option decay_steps ({d}) must not be smaller than warmup_steps ({WarmupSteps}).");
        return this;
    }

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, JsonOptions));

    /// <summary>
    /// Reads training.json; files written before the model shape moved to config.json still load (the extra fields are ignored).
    /// </summary>
    public static TrainOptions Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<TrainOptions>(File.ReadAllText(path), JsonOptions)?.Validate()
                ?? throw new SharpLMException($"{path} is empty.");
        }
        catch (JsonException e)
        {
            throw new SharpLMException($"{path} is not a valid training.json ({e.Message.Split('.')[0]}).");
        }
    }

    static readonly JsonSerializerOptions JsonOptions = new(Json.Indented)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };
}

/// <summary>A named starting point: a model shape and how to train it. Flags override single fields.</summary>
public sealed record TrainingPreset(ModelShape Shape, TrainOptions Training)
{
    public static IReadOnlyDictionary<string, TrainingPreset> All { get; } =
        new Dictionary<string, TrainingPreset>
        {
            // nanoGPT's README CPU configuration for character-level Shakespeare.
            ["baby"] = new(new ModelShape(), new TrainOptions()),
            // nanoGPT's config/train_shakespeare_char.py: 64 sequences per step, here as 4 micro-batches of 16 (the same
            // averaged gradient). At batch 64 the activations exceed glibc's 32 MB mmap ceiling, so every step maps and
            // page-faults fresh memory: measured 1.4x slower (bench train) than micro-batches of 16.
            ["small"] = new(
                new ModelShape
                {
                    Layers = 6,
                    Heads = 6,
                    Width = 384,
                    Context = 256,
                    Dropout = 0.2,
                },
                new TrainOptions
                {
                    BatchSize = 16,
                    GradAccumulation = 4,
                    MaxSteps = 5000,
                    EvalBatches = 200,
                }
            ),
            // For tests and smoke runs: seconds, not minutes.
            ["tiny"] = new(
                new ModelShape
                {
                    Layers = 2,
                    Heads = 2,
                    Width = 32,
                    Context = 32,
                },
                new TrainOptions
                {
                    BatchSize = 8,
                    MaxSteps = 200,
                    WarmupSteps = 10,
                    EvalInterval = 50,
                    EvalBatches = 4,
                }
            ),
        };

    public static TrainingPreset Get(string name) =>
        All.TryGetValue(name, out var p)
            ? p
            : throw new SharpLMException($"Unknown preset '{name}'; choose one of: {string.Join(", ", All.Keys)}.");
}
