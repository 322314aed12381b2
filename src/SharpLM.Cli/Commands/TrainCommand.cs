using System.CommandLine;
using SharpLM.Runtime;
using SharpLM.Training;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>sharplm train: a GPT on prepared shards, from a preset with per-field overrides, or --resume.</summary>
public static class TrainCommand
{
    public static readonly Option<int?> ThreadsOption = new("--threads") { Description = "Intra-op CPU threads (default: libtorch's choice, or $SHARPLM_THREADS).", Recursive = true };

    static readonly Option<string?> Data = new("--data") { Description = "Folder written by 'sharplm prepare' (train_*.bin, val_*.bin, tokenizer.json)." };
    static readonly Option<string> Output = new("--output") { Description = "Run folder (config.json, model.safetensors, checkpoint/, logs/, loss.png).", Required = true };
    static readonly Option<string> PresetOption = new("--preset") { Description = $"Starting configuration: {string.Join(", ", TrainOptions.Presets.Keys)}.", DefaultValueFactory = _ => "baby" };
    static readonly Option<string?> Objective = new("--objective") { Description = "lm (GPT, next token; default) or mlm (BERT encoder, masked tokens; needs WordPiece shards)." };
    static readonly Option<bool> Resume = new("--resume") { Description = "Continue the run in --output from its last checkpoint (same settings; --max-steps may grow)." };

    // Every TrainOptions field can be overridden; null means "keep the preset's value".
    static readonly Option<int?> NLayer = new("--n-layer") { Description = "Transformer blocks." };
    static readonly Option<int?> NHead = new("--n-head") { Description = "Attention heads." };
    static readonly Option<int?> NEmbd = new("--n-embd") { Description = "Embedding width." };
    static readonly Option<int?> Block = new("--block-size") { Description = "Context length in tokens." };
    static readonly Option<double?> Dropout = new("--dropout") { Description = "Dropout probability." };
    static readonly Option<int?> Batch = new("--batch-size") { Description = "Sequences per micro-batch." };
    static readonly Option<int?> Accum = new("--grad-accumulation") { Description = "Micro-batches per optimiser step." };
    static readonly Option<int?> Steps = new("--max-steps") { Description = "Optimiser steps." };
    static readonly Option<string?> Optimizer = new("--optimizer") { Description = "adamw, adam or sgd." };
    static readonly Option<double?> Lr = new("--lr") { Description = "Peak learning rate." };
    static readonly Option<double?> MinLr = new("--min-lr") { Description = "Learning rate at the end of decay." };
    static readonly Option<int?> Warmup = new("--warmup-steps") { Description = "Linear warmup steps." };
    static readonly Option<int?> DecaySteps = new("--decay-steps") { Description = "Step where decay reaches --min-lr (default --max-steps)." };
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
    static readonly Option<int?> Patience = new("--patience") { Description = "Early stopping: evaluations without improvement (0 = off)." };
    static readonly Option<double?> MinDelta = new("--min-delta") { Description = "Early stopping: smallest improvement that counts." };
    static readonly Option<int?> LogInterval = new("--log-interval") { Description = "Steps between train-loss log points." };
    static readonly Option<int?> Seed = new("--seed") { Description = "Seed of initialisation, batches and dropout." };
    static readonly Option<string?> OnNonFinite = new("--on-nonfinite") { Description = "A step with a NaN/infinite loss or gradient norm: skip (default; weights and optimizer untouched) or stop." };
    static readonly Option<int?> MaxSkips = new("--max-nonfinite-skips") { Description = "Stop after this many skipped steps in a row (default 10)." };
    static readonly Option<bool> Overwrite = new("--overwrite") { Description = "Start over in --output, replacing an earlier run there (only a run folder SharpLM wrote)." };

    public static Command Build(CliContext ctx)
    {
        var cmd = new Command("train", "Pretrain a GPT on token shards; writes a run folder with checkpoints, TensorBoard logs and loss.png.");
        foreach (var o in new Option[] { Data, Output, PresetOption, Objective, Resume, NLayer, NHead, NEmbd, Block, Dropout, Batch, Accum, Steps, Optimizer, Lr, MinLr,
                     Warmup, DecaySteps, Decay, Beta1, Beta2, Momentum, WeightDecay, L1, L2, Clip, EvalInterval, EvalBatches, Patience, MinDelta, LogInterval, Seed,
                     OnNonFinite, MaxSkips, Overwrite, ThreadsOption, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(CliApp.Guard(ctx, (p, ct) =>
        {
            var run = new RunFolder(p.GetValue(Output)!);
            bool resume = p.GetValue(Resume);
            TrainOptions options;
            string data;
            if (resume)
            {
                if (!File.Exists(run.Training)) throw new SharpLMException($"{run.Path} has no training.json to resume; start a new run without --resume.");
                options = TrainOptions.Load(run.Training);
                if (options.Objective == "classify") NewTask("", options); // says how classifiers are trained
                if (p.GetValue(Steps) is int s) options = options with { MaxSteps = s };
                data = run.DataDir(p.GetValue(Data));
            }
            else
            {
                options = Overrides(p, TrainOptions.Preset(p.GetValue(PresetOption)!));
                data = p.GetValue(Data) ?? throw new SharpLMException("Pass --data DIR (a folder written by 'sharplm prepare').");
            }
            if (resume && p.GetValue(Overwrite)) throw new SharpLMException("--overwrite starts the run over and --resume continues it; give one of them.");
            var result = Run(ctx, p, data, options, run, resume, ct, overwrite: p.GetValue(Overwrite));
            if (p.GetValue(CliApp.JsonOption)) ctx.WriteJson(result);
            else Print(ctx, result, run);
            return Task.FromResult(result.StoppedBecause == "cancelled" ? 130 : 0);
        }));
        return cmd;
    }

    public static TrainOptions Overrides(ParseResult p, TrainOptions o)
    {
        T Pick<T>(Option<T?> option, T current) where T : struct => p.GetValue(option) ?? current;
        o = o with
        {
            NLayer = Pick(NLayer, o.NLayer), NHead = Pick(NHead, o.NHead), NEmbd = Pick(NEmbd, o.NEmbd), BlockSize = Pick(Block, o.BlockSize),
            Dropout = Pick(Dropout, o.Dropout), BatchSize = Pick(Batch, o.BatchSize), GradAccumulation = Pick(Accum, o.GradAccumulation),
            MaxSteps = Pick(Steps, o.MaxSteps), LearningRate = Pick(Lr, o.LearningRate), MinLearningRate = Pick(MinLr, o.MinLearningRate),
            WarmupSteps = Pick(Warmup, o.WarmupSteps), DecaySteps = p.GetValue(DecaySteps) ?? o.DecaySteps, Beta1 = Pick(Beta1, o.Beta1), Beta2 = Pick(Beta2, o.Beta2),
            Momentum = Pick(Momentum, o.Momentum), WeightDecay = Pick(WeightDecay, o.WeightDecay), L1 = Pick(L1, o.L1), L2 = Pick(L2, o.L2),
            GradClip = Pick(Clip, o.GradClip), EvalInterval = Pick(EvalInterval, o.EvalInterval), EvalBatches = Pick(EvalBatches, o.EvalBatches),
            EarlyStoppingPatience = Pick(Patience, o.EarlyStoppingPatience), EarlyStoppingMinDelta = Pick(MinDelta, o.EarlyStoppingMinDelta),
            LogInterval = Pick(LogInterval, o.LogInterval), Seed = Pick(Seed, o.Seed), MaxNonFiniteSkips = Pick(MaxSkips, o.MaxNonFiniteSkips),
        };
        if (p.GetValue(OnNonFinite) is string nf)
            o = o with { OnNonFinite = nf.ToLowerInvariant() switch { "skip" => NonFiniteAction.Skip, "stop" => NonFiniteAction.Stop, _ => throw new SharpLMException($"--on-nonfinite '{nf}' is not one of skip, stop.") } };
        if (p.GetValue(Objective) is string objective) o = o with { Objective = objective.ToLowerInvariant() };
        if (p.GetValue(Optimizer) is string opt)
            o = o with { Optimizer = opt.ToLowerInvariant() switch { "adamw" => OptimizerKind.AdamW, "adam" => OptimizerKind.Adam, "sgd" => OptimizerKind.Sgd, _ => throw new SharpLMException($"--optimizer '{opt}' is not one of adamw, adam, sgd.") } };
        if (p.GetValue(Decay) is string d)
            o = o with { Decay = d.ToLowerInvariant() switch { "cosine" => LrDecay.Cosine, "linear" => LrDecay.Linear, "constant" => LrDecay.Constant, _ => throw new SharpLMException($"--lr-decay '{d}' is not one of cosine, linear, constant.") } };
        return o.Validate();
    }

    /// <summary>Trains with live progress on stderr (a bar on a terminal, a line per log interval otherwise).</summary>
    public static TrainingResult Run(CliContext ctx, ParseResult p, string data, TrainOptions options, RunFolder run, bool resume, CancellationToken ct, bool overwrite = false)
    {
        TorchRuntime.ConfigureThreads(p.GetValue(ThreadsOption));
        options.Validate();
        using var locked = run.Lock("training"); // before any work: refuses a folder of the user's or one in use
        if (overwrite) run.Clear();
        else if (!resume && run.HasCheckpoint) throw new SharpLMException($"{run.Path} already holds a run; continue it with --resume, start over with --overwrite, or choose another --output.");
        using var task = NewTask(data, options);
        ctx.Err.WriteLine($"model: {(options.Objective == "mlm" ? "BERT (masked LM)" : "GPT")}, {task.Model.parameters().Sum(x => x.numel()):N0} parameters ({options.NLayer} layers, {options.NHead} heads, {options.NEmbd} wide, context {options.BlockSize}); " +
                          $"{options.TokensPerStep:N0} tokens per step; {TorchSharp.torch.get_num_threads()} CPU threads");
        var trainer = new Trainer(task, options, run);
        void Line(TrainingProgress t)
        {
            if (t.Message is not null) ctx.Err.WriteLine(t.Message);
            else if (t.Eval is { } e)
                ctx.Err.WriteLine($"step {t.Step,6}: val loss {e.Loss:F4}" + string.Concat(e.Metrics.Select(m => $", {m.Key.Replace('_', ' ')} {m.Value:F4}")));
            else if (t.Step % options.LogInterval == 0)
                ctx.Err.WriteLine($"step {t.Step,6}/{t.MaxSteps}: loss {t.Loss:F4}, lr {t.LearningRate:G3}, {t.TokensPerSecond:N0} tok/s, ETA {t.Eta:hh\\:mm\\:ss}");
        }
        if (!ctx.Interactive) return trainer.Run(resume, new CliApp.SyncProgress<TrainingProgress>(Line), ct);
        TrainingResult? result = null;
        ctx.Console.Progress().AutoClear(true)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(pc =>
            {
                var bar = pc.AddTask("training", maxValue: options.MaxSteps);
                result = trainer.Run(resume, new CliApp.SyncProgress<TrainingProgress>(t =>
                {
                    if (t.Eval is not null || t.Message is not null) { Line(t); return; }
                    bar.Value = t.Step;
                    bar.Description = Markup.Escape($"step {t.Step}/{t.MaxSteps} loss {t.Loss:F3} lr {t.LearningRate:G2} {t.TokensPerSecond:N0} tok/s");
                }), ct);
            });
        return result!;
    }

    static ITrainingTask NewTask(string data, TrainOptions o) => o.Objective switch
    {
        "mlm" => new MaskedLanguageModelTask(data, o),
        "classify" => throw new SharpLMException("Classifiers are trained with 'sharplm finetune --task classify' (which starts over; it has no --resume), not 'sharplm train'."),
        _ => new LanguageModelTask(data, o),
    };

    public static void Print(CliContext ctx, TrainingResult r, RunFolder run)
    {
        var metrics = r.LastEval?.Metrics ?? new Dictionary<string, double>();
        var table = new Table().AddColumns(["steps", "stopped", "best val loss", "best step", .. metrics.Keys.Select(k => "val " + k.Replace('_', ' ')), "tokens/s", "time"]);
        table.AddRow([r.Steps.ToString(), r.StoppedBecause, r.BestValLoss?.ToString("F4") ?? "-", r.BestStep?.ToString() ?? "-",
            .. metrics.Values.Select(v => v.ToString("F4")), r.TokensPerSecond.ToString("N0"), TimeSpan.FromSeconds(r.Seconds).ToString(@"hh\:mm\:ss")]);
        ctx.WriteTable(table);
        ctx.Out.WriteLine($"run: {run.Path} (best weights in model.safetensors; resume with --resume)");
        ctx.Out.WriteLine($"plot: {run.Plot}");
        ctx.Out.WriteLine($"TensorBoard: tensorboard --logdir {run.Logs}");
    }
}
