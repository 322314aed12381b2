using System.Diagnostics;
using SharpLM.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Training;

public sealed record TrainingResult(
    string Run,
    int Steps,
    string StoppedBecause,
    double? BestValLoss,
    int? BestStep,
    EvalResult? LastEval,
    long Tokens,
    double Seconds,
    double TokensPerSecond,
    int SkippedSteps = 0,
    string? WeightsDigest = null,
    double? AllreduceSeconds = null
);

/// <summary>
/// The training loop shared by every model: accumulation, clipping, learning-rate schedule, L1/L2, non-finite steps,
/// periodic evaluation, best-weights tracking and atomic checkpoints. What is reported or decided around the loop —
/// TensorBoard, the loss plot, metrics.json, early stopping, progress — are <see cref="ITrainingCallback"/>s
/// (<see cref="DefaultCallbacks"/> unless others are given). Each step runs in its own dispose scope so memory stays flat
/// over long runs. The options come from the task.
/// </summary>
public sealed class Trainer(ITrainingTask task, RunFolder run, IEnumerable<ITrainingCallback>? callbacks = null)
{
    readonly TrainOptions _o = task.Options.Validate();
    readonly List<ITrainingCallback> _callbacks = (callbacks ?? DefaultCallbacks()).ToList();

    /// <summary>TensorBoard, loss plot, metrics.json and early stopping, plus progress reports when a sink is given.</summary>
    public static List<ITrainingCallback> DefaultCallbacks(IProgress<TrainingProgress>? progress = null)
    {
        var list = new List<ITrainingCallback> { new TensorBoardLogger(), new LossPlotter(), new MetricsFile(), new EarlyStopping() };
        if (progress is not null)
            list.Add(new ProgressReporter(progress));
        return list;
    }

    /// <summary>Trains with the default callbacks and progress reported to <paramref name="progress"/>.</summary>
    public static TrainingResult Train(
        ITrainingTask task,
        RunFolder run,
        bool resume,
        IProgress<TrainingProgress>? progress = null,
        CancellationToken ct = default
    ) => new Trainer(task, run, DefaultCallbacks(progress)).Run(resume, ct);

    /// <summary>
    /// Trains to max_steps (or until a callback stops it, or cancellation, which saves a checkpoint first). The run folder
    /// is claimed and locked for the duration: a folder holding someone else's files, or one another process is training
    /// in, is refused. A process killed at any moment loses at most the work since the last evaluation: a resumed run
    /// continues from the last complete checkpoint and ends with the same weights, bit for bit.
    /// </summary>
    public TrainingResult Run(bool resume, CancellationToken ct = default)
    {
        // Data-parallel: every rank trains; rank 0 alone writes the run folder (lock, files, checkpoints, logs).
        var parallel = _o.Parallel;
        bool lead = parallel is null || parallel.Rank == 0;
        if (parallel is not null && !task.SupportsDataParallel)
            throw new SharpLMException(
                "distributed training runs GPT language-model pretraining and classification fine-tuning; this task trains in one "
                    + "process."
            );
        var callbacks = lead ? _callbacks : _callbacks.Where(c => c is IEveryRankCallback).ToList();
        using var locked = lead && run.HeldLock is null ? run.Lock("training") : null;
        if (lead)
        {
            run.RecoverInterruptedCheckpointSwap();
            IO.OutputFolder.RemoveTemporaryLeftovers(run.Path);
        }
        parallel?.Communicator.Barrier();
        var context = new TrainingContext(run, _o);
        context.MessageSink = (step, message) => Message(callbacks, context, step, message);
        var model = task.Model;
        Models.Layers.MixedPrecision.Apply(model, _o.Precision);
        using var optimizer = new TrainingOptimizer(model, _o);
        if (resume && !run.HasCheckpoint && File.Exists(run.Training))
        {
            // Killed before its first checkpoint: nothing is lost by starting the same run again.
            Message(
                callbacks,
                context,
                0,
                $"{run.Path} has no checkpoint yet (the run stopped before its first one); starting it from step 0."
            );
            resume = false;
        }
        if (resume)
        {
            if (!run.HasCheckpoint)
                throw new SharpLMException($"{run.Path} has no checkpoint to resume from; start a new run instead.");
            context.State = LoadCheckpoint(optimizer);
            if (context.State.WorldSize != (parallel?.Size ?? 1))
                throw new SharpLMException(
                    $"{run.Path} was trained by {context.State.WorldSize} data-parallel process(es); resume it with as many "
                        + $"(mpiexec -n {context.State.WorldSize}), not {parallel?.Size ?? 1}, so that it continues exactly."
                );
            if (context.State.Step >= _o.MaxSteps)
                throw new SharpLMException(
                    $"The run already finished {context.State.Step} steps (max_steps {_o.MaxSteps}); give a larger max_steps to "
                        + "continue it."
                );
            Message(callbacks, context, context.State.Step, $"resuming from step {context.State.Step}");
        }
        else if (run.HasCheckpoint)
            throw new SharpLMException($"{run.Path} already holds a run; resume it or choose another output folder.");
        // Every rank has checked the folder before rank 0 writes to it, and starts from rank 0's weights.
        parallel?.Communicator.Barrier();
        parallel?.Broadcast(model.parameters());
        context.State = context.State with { WorldSize = parallel?.Size ?? 1 };
        if (lead)
        {
            if (!resume)
                task.WriteRunFiles(run);
            _o.Save(run.Training);
        }
        foreach (var c in callbacks)
            c.OnTrainingStart(context);

        EvalResult? lastEval = null;
        var clock = Stopwatch.StartNew();
        double secondsBefore = context.State.Seconds;
        long tokens = context.State.Tokens;
        int step = context.State.Step;
        var window = Stopwatch.StartNew();
        long windowTokens = 0;
        int windowSteps = 0;
        double tokensPerSecond = 0,
            secondsPerStep = 0;
        string? stopped = null;

        if (!resume)
        {
            lastEval = Evaluate(callbacks, lead, context, 0, double.NaN, ct);
            if (lead)
                SaveCheckpoint(optimizer, context.State with { Step = 0, Seconds = 0 });
        }

        model.train();
        while (step < _o.MaxSteps)
        {
            if (ct.IsCancellationRequested)
            {
                stopped = "cancelled";
                break;
            }
            double lr = LearningRateSchedule.At(_o, step);
            var (loss, norm, stepTokens) = TakeStep(optimizer, step, lr);
            bool skipped = !(double.IsFinite(loss) && double.IsFinite(norm));
            if (skipped)
                Skip(callbacks, context, step, loss, norm, lr);
            else
                context.State = context.State with { ConsecutiveSkips = 0 };
            step++;
            tokens += stepTokens;
            windowTokens += stepTokens;
            windowSteps++;

            bool log = step % _o.LogInterval == 0 || step == _o.MaxSteps;
            if (log)
            {
                tokensPerSecond = windowTokens / Math.Max(1e-9, window.Elapsed.TotalSeconds);
                secondsPerStep = window.Elapsed.TotalSeconds / Math.Max(1, windowSteps);
                window.Restart();
                windowTokens = 0;
                windowSteps = 0;
                context.State.History.Add(new HistoryPoint(step, double.IsFinite(loss) ? loss : null, null, lr));
            }
            var report = new StepReport(
                step,
                loss,
                lr,
                norm,
                tokensPerSecond,
                TimeSpan.FromSeconds((_o.MaxSteps - step) * secondsPerStep),
                skipped
            );
            foreach (var c in callbacks)
                c.OnStep(context, report);
            if (log)
                foreach (var c in callbacks)
                    c.OnLog(context, report);

            if (step % _o.EvalInterval == 0 || step == _o.MaxSteps)
            {
                lastEval = Evaluate(callbacks, lead, context, step, loss, ct);
                window.Restart(); // keep evaluation time out of the throughput figure
                windowTokens = 0;
                windowSteps = 0;
                context.State = context.State with { Step = step, Tokens = tokens, Seconds = secondsBefore + clock.Elapsed.TotalSeconds };
                if (lead)
                    SaveCheckpoint(optimizer, context.State);
            }
            if (context.StopReason is string reason)
            {
                stopped = reason;
                break;
            }
        }
        if (context.State.Step != step)
        {
            // Stopped between evaluations: keep the work done so far resumable.
            context.State = context.State with
            {
                Step = step,
                Tokens = tokens,
                Seconds = secondsBefore + clock.Elapsed.TotalSeconds,
            };
            if (lead)
                SaveCheckpoint(optimizer, context.State);
        }
        var s = context.State;
        double seconds = secondsBefore + clock.Elapsed.TotalSeconds;
        // Data-parallel replicas must end identical; every rank checks every other's digest.
        string? digest = parallel?.VerifyIdentical(model.parameters());
        var result = new TrainingResult(
            run.Path,
            step,
            stopped ?? "max_steps",
            s.BestValLoss,
            s.BestStep,
            lastEval,
            tokens,
            seconds,
            tokens / Math.Max(1e-9, seconds),
            s.SkippedSteps,
            digest,
            parallel?.ReduceSeconds
        );
        foreach (var c in callbacks)
            c.OnTrainingEnd(context, result);
        return result;
    }

    static void Message(List<ITrainingCallback> callbacks, TrainingContext context, int step, string message)
    {
        foreach (var c in callbacks)
            c.OnMessage(context, step, message);
    }

    /// <summary>One optimizer step (gradient accumulation included), unless the loss or the gradient norm is not finite.</summary>
    (double Loss, double Norm, long Tokens) TakeStep(TrainingOptimizer optimizer, int step, double lr)
    {
        using var scope = NewDisposeScope();
        using var s = new Runtime.Scalars();
        optimizer.SetLearningRate(lr);
        optimizer.ZeroGrad();
        double sum = 0;
        long tokens = 0;
        for (int micro = 0; micro < _o.GradAccumulation; micro++)
        {
            // Dropout draws depend only on (seed, step, micro): the step number is the whole RNG state.
            torch.manual_seed((long)(Data.SplitMix64.Mix((ulong)_o.Seed, (ulong)step, (ulong)micro, 0xD0) >> 1));
            var batch = task.MicroBatchLoss(step, micro);
            sum += batch.Loss.item<float>();
            tokens += batch.Tokens;
            var objective = batch.Loss;
            if (_o.L1 > 0 || _o.L2 > 0)
                objective = objective.Plus(Penalty(optimizer.Matrices));
            objective.div(s[(long)_o.GradAccumulation]).backward();
        }
        double loss = sum / _o.GradAccumulation;
        if (_o.Parallel is { } parallel)
        {
            // Averaged before clipping, so every rank clips, checks and steps with the same gradient.
            parallel.AverageGradients(optimizer.Parameters);
            loss = parallel.Average(loss);
            tokens = parallel.Sum(tokens);
        }
        double norm = _o.GradClip > 0 ? nn.utils.clip_grad_norm_(optimizer.Parameters, _o.GradClip) : GradientNorm(optimizer.Parameters);
        // A skipped step takes no optimizer step, so neither the weights nor the optimizer's moments or step count change.
        if (double.IsFinite(loss) && double.IsFinite(norm))
            optimizer.Step();
        return (loss, norm, tokens);
    }

    void Skip(List<ITrainingCallback> callbacks, TrainingContext context, int step, double loss, double norm, double lr)
    {
        string what = double.IsFinite(loss) ? $"gradient norm {norm}" : $"loss {loss}";
        if (_o.OnNonFinite == NonFiniteAction.Stop)
            throw new SharpLMException(
                $"Step {step} had a non-finite {what}; lower the learning rate (now {lr:G3}) or clip gradients. The last good "
                    + $"checkpoint is in {run.Checkpoint}."
            );
        var s = context.State = context.State with
        {
            SkippedSteps = context.State.SkippedSteps + 1,
            ConsecutiveSkips = context.State.ConsecutiveSkips + 1,
        };
        Message(
            callbacks,
            context,
            step,
            $"warning: step {step} skipped: non-finite {what} ({s.SkippedSteps} skipped so far, {s.ConsecutiveSkips} in a row)"
        );
        if (s.ConsecutiveSkips >= _o.MaxNonFiniteSkips)
            throw new SharpLMException(
                $"{s.ConsecutiveSkips} steps in a row (up to step {step}) had a non-finite loss or gradient norm, so training stopped; "
                    + $"lower the learning rate (now {lr:G3}) or check the data. The last good checkpoint is in {run.Checkpoint}."
            );
    }

    /// <summary>
    /// The global L2 norm of the gradients (what clipping would measure), to detect non-finite gradients without clipping.
    /// </summary>
    static double GradientNorm(IReadOnlyList<Parameter> parameters)
    {
        using var scope = NewDisposeScope();
        var norms = parameters.Where(p => p.grad is not null).Select(p => p.grad!.norm()).ToArray();
        return norms.Length == 0 ? 0 : stack(norms).norm().item<float>();
    }

    Tensor Penalty(IReadOnlyList<Parameter> matrices)
    {
        using var s = new Runtime.Scalars();
        Tensor total = zeros(1);
        foreach (var p in matrices)
        {
            if (_o.L1 > 0)
                total = total.Plus(p.abs().sum().mul(s[_o.L1]));
            if (_o.L2 > 0)
                total = total.Plus(p.pow(s[2L]).sum().mul(s[_o.L2]));
        }
        return total;
    }

    EvalResult Evaluate(
        List<ITrainingCallback> callbacks,
        bool lead,
        TrainingContext context,
        int step,
        double trainLoss,
        CancellationToken ct
    )
    {
        var eval = task.Evaluate(ct);
        double lr = LearningRateSchedule.At(_o, Math.Max(0, step - 1));
        bool finite = double.IsFinite(eval.Loss);
        var s = context.State;
        s.History.Add(new HistoryPoint(step, double.IsFinite(trainLoss) ? trainLoss : null, finite ? eval.Loss : null, lr));
        bool improved = finite && (s.BestValLoss is not double best || eval.Loss < best - _o.EarlyStoppingMinDelta);
        if (improved)
        {
            if (lead)
                task.SaveWeights(run.Weights);
            context.State = s with { BestValLoss = eval.Loss, BestStep = step, EvalsWithoutImprovement = 0 };
        }
        else
            context.State = s with { EvalsWithoutImprovement = s.EvalsWithoutImprovement + 1 };
        foreach (var c in callbacks)
            c.OnEvaluation(context, step, eval);
        return eval;
    }

    /// <summary>Writes checkpoint.tmp/ completely, then swaps it in: a crash never leaves a half-written checkpoint.</summary>
    void SaveCheckpoint(TrainingOptimizer optimizer, CheckpointState state)
    {
        // Both folders sit inside the locked run folder and only ever hold the trainer's own files.
        string tmp = run.Checkpoint + ".tmp",
            old = run.Checkpoint + ".old";
        if (Directory.Exists(tmp))
            Directory.Delete(tmp, recursive: true);
        Directory.CreateDirectory(tmp);
        task.SaveWeights(Path.Combine(tmp, "model.safetensors"));
        FailPoint.Hit("checkpoint.weights-written");
        optimizer.Save(Path.Combine(tmp, "optimizer.safetensors"));
        FailPoint.Hit("checkpoint.optimizer-written");
        state.Save(Path.Combine(tmp, CheckpointState.FileName)); // last: its presence marks a complete checkpoint
        FailPoint.Hit("checkpoint.state-written");
        if (Directory.Exists(old))
            Directory.Delete(old, recursive: true);
        if (Directory.Exists(run.Checkpoint))
            Directory.Move(run.Checkpoint, old);
        FailPoint.Hit("checkpoint.moved-aside");
        Directory.Move(tmp, run.Checkpoint);
        FailPoint.Hit("checkpoint.swapped");
        if (Directory.Exists(old))
            Directory.Delete(old, recursive: true);
    }

    CheckpointState LoadCheckpoint(TrainingOptimizer optimizer)
    {
        var state = CheckpointState.Load(Path.Combine(run.Checkpoint, CheckpointState.FileName));
        task.LoadWeights(Path.Combine(run.Checkpoint, "model.safetensors"));
        optimizer.Load(Path.Combine(run.Checkpoint, "optimizer.safetensors"));
        return state;
    }
}
