using System.CommandLine;
using SharpLM.Kinds;
using SharpLM.Models;
using SharpLM.Models.Layers;
using SharpLM.Training;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>
/// sharplm train: pretrain a model on prepared shards (the objective names its kind), from a preset with per-field overrides, or --resume.
/// </summary>
public static class TrainCommand
{
    static readonly Option<string?> Data = new("--data")
    {
        Description = "Folder written by 'sharplm prepare' (train_*.bin, val_*.bin, tokenizer.json).",
    };
    static readonly Option<string> Output = new("--output")
    {
        Description = "Run folder (config.json, model.safetensors, checkpoint/, logs/, loss.png).",
        Required = true,
    };
    static readonly Option<string> PresetOption = new("--preset")
    {
        Description = $"Starting configuration: {string.Join(", ", TrainingPreset.All.Keys)}.",
        DefaultValueFactory = _ => "baby",
    };
    static readonly Option<string?> Objective = new("--objective")
    {
        Description = "lm (GPT, next token; default) or mlm (BERT encoder, masked tokens; needs WordPiece shards).",
    };
    static readonly Option<string?> ModelOption = new("--model")
    {
        Description = "With --objective lm: gpt (default) or lstm (embedding → LSTM → linear, truncated back-propagation).",
    };
    static readonly Option<bool> Resume = new("--resume")
    {
        Description = "Continue the run in --output from its last checkpoint (same settings; --max-steps may grow).",
    };
    static readonly Option<bool> Overwrite = new("--overwrite")
    {
        Description = "Start over in --output, replacing an earlier run there (only a run folder SharpLM wrote).",
    };

    // The model's shape (a new run only: a resumed run keeps its config.json).
    static readonly Option<int?> NLayer = new("--n-layer") { Description = "Transformer blocks." };
    static readonly Option<int?> NHead = new("--n-head") { Description = "Attention heads." };
    static readonly Option<int?> NEmbd = new("--n-embd") { Description = "Embedding width." };
    static readonly Option<int?> Block = new("--block-size") { Description = "Context length in tokens." };
    static readonly Option<double?> Dropout = new("--dropout") { Description = "Dropout probability." };

    // Every TrainOptions field can be overridden; null means "keep the preset's value".
    static readonly Option<int?> Batch = new("--batch-size") { Description = "Sequences per micro-batch." };
    static readonly Option<int?> Accum = new("--grad-accumulation") { Description = "Micro-batches per optimiser step." };
    static readonly Option<int?> Steps = new("--max-steps") { Description = "Optimiser steps." };
    static readonly Option<string?> Optimizer = new("--optimizer") { Description = "adamw, adam or sgd." };
    static readonly CliApp.DistributedOptions DistributedFlags = new();
    static readonly Option<string?> PrecisionFlag = CliApp.PrecisionOption(
        "fp32 (default) or bf16: mixed precision, bf16 matrix products with fp32 weights, optimizer state and loss (GPT)."
    );
    static readonly Option<double?> Lr = new("--lr") { Description = "Peak learning rate." };
    static readonly Option<double?> MinLr = new("--min-lr") { Description = "Learning rate at the end of decay." };
    static readonly Option<int?> Warmup = new("--warmup-steps") { Description = "Linear warmup steps." };
    static readonly Option<int?> DecaySteps = new("--decay-steps")
    {
        Description = "Step where decay reaches --min-lr (default --max-steps).",
    };
    static readonly Option<string?> Decay = new("--lr-decay") { Description = "cosine, linear or constant." };
    static readonly Option<double?> Beta1 = new("--beta1") { Description = "Adam β1." };
    static readonly Option<double?> Beta2 = new("--beta2") { Description = "Adam β2." };
    static readonly Option<double?> Momentum = new("--momentum") { Description = "SGD momentum." };
    static readonly Option<double?> WeightDecay = new("--weight-decay") { Description = "Weight decay on matrices (decoupled for AdamW)." };
    static readonly Option<double?> L1 = new("--l1") { Description = "L1 penalty λ·Σ|w| on matrices." };
    static readonly Option<double?> L2 = new("--l2") { Description = "L2 penalty λ·Σw² on matrices." };
    static readonly Option<double?> Clip = new("--grad-clip") { Description = "Max global gradient norm (0 = off)." };
    static readonly Option<int?> EvalInterval = new("--eval-interval") { Description = "Steps between evaluations and checkpoints." };
    static readonly Option<int?> EvalBatches = new("--eval-batches") { Description = "Validation batches per evaluation." };
    static readonly Option<int?> Patience = new("--patience")
    {
        Description = "Early stopping: evaluations without improvement (0 = off).",
    };
    static readonly Option<double?> MinDelta = new("--min-delta") { Description = "Early stopping: smallest improvement that counts." };
    static readonly Option<int?> LogInterval = new("--log-interval") { Description = "Steps between train-loss log points." };
    static readonly Option<int?> Seed = new("--seed") { Description = "Seed of initialisation, batches and dropout." };
    static readonly Option<string?> OnNonFinite = new("--on-nonfinite")
    {
        Description = "A step with a NaN/infinite loss or gradient norm: skip (default; weights and optimizer untouched) or stop.",
    };
    static readonly Option<int?> MaxSkips = new("--max-nonfinite-skips")
    {
        Description = "Stop after this many skipped steps in a row (default 10).",
    };

    public static Command Build(CliContext ctx)
    {
        var cmd = new Command(
            "train",
            "Pretrain a GPT (or, with --objective mlm, a BERT encoder) on token shards; writes a run folder with checkpoints, "
                + "TensorBoard logs and loss.png."
        );
        foreach (
            var o in new Option[]
            {
                Data,
                Output,
                PresetOption,
                Objective,
                ModelOption,
                Resume,
                Overwrite,
                NLayer,
                NHead,
                NEmbd,
                Block,
                Dropout,
                Batch,
                Accum,
                Steps,
                Optimizer,
                PrecisionFlag,
                Lr,
                MinLr,
                Warmup,
                DecaySteps,
                Decay,
                Beta1,
                Beta2,
                Momentum,
                WeightDecay,
                L1,
                L2,
                Clip,
                EvalInterval,
                EvalBatches,
                Patience,
                MinDelta,
                LogInterval,
                Seed,
                OnNonFinite,
                MaxSkips,
                CliApp.JsonOption,
            }
        )
            cmd.Options.Add(o);
        foreach (var o in DistributedFlags.All)
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                (p, ct) =>
                {
                    var run = new RunFolder(p.GetValue(Output)!);
                    bool resume = p.GetValue(Resume);
                    var parallel = DistributedFlags.Read(p);
                    if (resume && p.GetValue(Overwrite))
                        throw new SharpLMException("--overwrite starts the run over and --resume continues it; give one of them.");
                    TrainingResult result;
                    if (resume)
                    {
                        if (!File.Exists(run.Training))
                            throw new SharpLMException($"{run.Path} has no training.json to resume; start a new run without --resume.");
                        var kind = ModelRegistry.ForRun(run);
                        if (kind.Objective is null)
                            throw new SharpLMException(
                                $"{run.Path} holds a {kind.Description}; classifiers are trained with 'sharplm finetune --task "
                                    + "classify' (which starts over; it has no --resume), not 'sharplm train'."
                            );
                        var options = TrainOptions.Load(run.Training) with { Parallel = parallel };
                        if (p.GetValue(Steps) is int s)
                            options = options with { MaxSteps = s };
                        if (CliApp.ReadPrecision(p, PrecisionFlag) is { } asked && asked != options.Precision)
                            throw new SharpLMException(
                                $"--precision {asked.Name()} contradicts the run's training.json ({options.Precision.Name()}); "
                                    + "a resumed run "
                                    + "keeps its precision so that it continues exactly. Leave --precision out."
                            );
                        result = Run(
                            ctx,
                            run,
                            resume: true,
                            overwrite: false,
                            () => kind.CreatePretrainingTask(p.GetValue(Data), null, run, options),
                            ct
                        );
                    }
                    else
                    {
                        var preset = TrainingPreset.Get(p.GetValue(PresetOption)!);
                        var shape = ShapeOverrides(p, preset.Shape);
                        var options = Overrides(p, preset.Training) with { Parallel = parallel };
                        var kind = ModelRegistry.ForObjective(p.GetValue(Objective) ?? "lm", p.GetValue(ModelOption));
                        string data =
                            p.GetValue(Data) ?? throw new SharpLMException("Pass --data DIR (a folder written by 'sharplm prepare').");
                        result = Run(
                            ctx,
                            run,
                            resume: false,
                            p.GetValue(Overwrite),
                            () => kind.CreatePretrainingTask(data, shape, null, options),
                            ct
                        );
                    }
                    if (parallel is { Rank: > 0 })
                    {
                        // rank 0 reports for the run; each rank says that its replica matches
                        ctx.Err.WriteLine($"rank {parallel.Rank} of {parallel.Size}: weights digest {result.WeightsDigest}");
                        return Task.FromResult(0);
                    }
                    if (parallel is not null)
                        ctx.Err.WriteLine($"rank 0 of {parallel.Size}: weights digest {result.WeightsDigest}");
                    if (p.GetValue(CliApp.JsonOption))
                        ctx.WriteJson(result);
                    else
                        Print(ctx, result, run);
                    return Task.FromResult(result.StoppedBecause == "cancelled" ? ExitCodes.Cancelled : 0);
                }
            )
        );
        return cmd;
    }

    public static ModelShape ShapeOverrides(ParseResult p, ModelShape s) =>
        new ModelShape
        {
            Layers = p.GetValue(NLayer) ?? s.Layers,
            Heads = p.GetValue(NHead) ?? s.Heads,
            Width = p.GetValue(NEmbd) ?? s.Width,
            Context = p.GetValue(Block) ?? s.Context,
            Dropout = p.GetValue(Dropout) ?? s.Dropout,
        }.Validate();

    public static TrainOptions Overrides(ParseResult p, TrainOptions o)
    {
        T Pick<T>(Option<T?> option, T current)
            where T : struct => p.GetValue(option) ?? current;
        o = o with
        {
            BatchSize = Pick(Batch, o.BatchSize),
            GradAccumulation = Pick(Accum, o.GradAccumulation),
            MaxSteps = Pick(Steps, o.MaxSteps),
            LearningRate = Pick(Lr, o.LearningRate),
            MinLearningRate = Pick(MinLr, o.MinLearningRate),
            WarmupSteps = Pick(Warmup, o.WarmupSteps),
            DecaySteps = p.GetValue(DecaySteps) ?? o.DecaySteps,
            Beta1 = Pick(Beta1, o.Beta1),
            Beta2 = Pick(Beta2, o.Beta2),
            Momentum = Pick(Momentum, o.Momentum),
            WeightDecay = Pick(WeightDecay, o.WeightDecay),
            L1 = Pick(L1, o.L1),
            L2 = Pick(L2, o.L2),
            GradClip = Pick(Clip, o.GradClip),
            EvalInterval = Pick(EvalInterval, o.EvalInterval),
            EvalBatches = Pick(EvalBatches, o.EvalBatches),
            EarlyStoppingPatience = Pick(Patience, o.EarlyStoppingPatience),
            EarlyStoppingMinDelta = Pick(MinDelta, o.EarlyStoppingMinDelta),
            LogInterval = Pick(LogInterval, o.LogInterval),
            Seed = Pick(Seed, o.Seed),
            MaxNonFiniteSkips = Pick(MaxSkips, o.MaxNonFiniteSkips),
            Precision = CliApp.ReadPrecision(p, PrecisionFlag) ?? o.Precision,
        };
        if (p.GetValue(OnNonFinite) is string nf)
            o = o with
            {
                OnNonFinite = nf.ToLowerInvariant() switch
                {
                    "skip" => NonFiniteAction.Skip,
                    "stop" => NonFiniteAction.Stop,
                    _ => throw new SharpLMException($"--on-nonfinite '{nf}' is not one of skip, stop."),
                },
            };
        if (p.GetValue(Optimizer) is string opt)
            o = o with
            {
                Optimizer = opt.ToLowerInvariant() switch
                {
                    "adamw" => OptimizerKind.AdamW,
                    "adam" => OptimizerKind.Adam,
                    "sgd" => OptimizerKind.Sgd,
                    _ => throw new SharpLMException($"--optimizer '{opt}' is not one of adamw, adam, sgd."),
                },
            };
        if (p.GetValue(Decay) is string d)
            o = o with
            {
                Decay = d.ToLowerInvariant() switch
                {
                    "cosine" => LrDecay.Cosine,
                    "linear" => LrDecay.Linear,
                    "constant" => LrDecay.Constant,
                    _ => throw new SharpLMException($"--lr-decay '{d}' is not one of cosine, linear, constant."),
                },
            };
        return o.Validate();
    }

    /// <summary>
    /// Trains with live progress on stderr. The run folder is claimed and locked before the task is built (a folder of
    /// the user's, or one in use, is refused before any work); <paramref name="overwrite"/> first clears an earlier run.
    /// </summary>
    public static TrainingResult Run(
        CliContext ctx,
        RunFolder run,
        bool resume,
        bool overwrite,
        Func<ITrainingTask> createTask,
        CancellationToken ct
    )
    {
        using var task = createTask();
        var parallel = task.Options.Parallel;
        if (parallel is { Rank: > 0 })
            // Rank 0 claims, clears and checks the folder and reports progress; the trainer keeps the ranks in step.
            return Trainer.Train(task, run, resume, null, ct);
        using var locked = run.Lock("training");
        if (overwrite)
            run.Clear();
        else if (!resume && run.HasCheckpoint)
            throw new SharpLMException(
                $"{run.Path} already holds a run; continue it with --resume, start over with --overwrite, or choose another --output."
            );
        string ranks = parallel is null ? "" : $" × {parallel.Size} data-parallel processes";
        ctx.Err.WriteLine($"model: {ModelSummary(task)}{ranks}; {TorchSharp.torch.get_num_threads()} CPU threads");
        return TrainingView.Run(ctx, task.Options.LogInterval, progress => Trainer.Train(task, run, resume, progress, ct));
    }

    static string ModelSummary(ITrainingTask task) =>
        $"{task.ModelConfig.Describe()}, {task.Model.parameters().Sum(x => x.numel()):N0} parameters; "
        + $"{(long)task.Options.BatchSize * task.Options.GradAccumulation * task.ModelConfig.Context:N0} tokens per step";

    public static void Print(CliContext ctx, TrainingResult r, RunFolder run)
    {
        var metrics = r.LastEval?.Metrics ?? new Dictionary<string, double>();
        var table = new Table().AddColumns([
            "steps",
            "stopped",
            "best val loss",
            "best step",
            .. metrics.Keys.Select(k => "val " + k.Replace('_', ' ')),
            "tokens/s",
            "time",
        ]);
        table.AddRow([
            r.Steps.ToString(),
            r.StoppedBecause,
            r.BestValLoss?.ToString("F4") ?? "-",
            r.BestStep?.ToString() ?? "-",
            .. metrics.Values.Select(v => v.ToString("F4")),
            r.TokensPerSecond.ToString("N0"),
            TimeSpan.FromSeconds(r.Seconds).ToString(@"hh\:mm\:ss"),
        ]);
        ctx.WriteTable(table);
        if (r.SkippedSteps > 0)
            ctx.Out.WriteLine($"skipped steps (non-finite loss or gradient): {r.SkippedSteps}");
        ctx.Out.WriteLine($"run: {run.Path} (best weights in model.safetensors; resume with --resume)");
        ctx.Out.WriteLine($"plot: {run.Plot}");
        ctx.Out.WriteLine($"TensorBoard: tensorboard --logdir {run.Logs}");
    }
}
