using System.Diagnostics;
using SharpLM.IO;
using SharpLM.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>What the trainer reports while it runs (the CLI renders it; tests may ignore it).</summary>
public sealed record TrainingProgress(
    int Step, int MaxSteps, double Loss, double LearningRate, double GradNorm, double TokensPerSecond, TimeSpan Eta,
    EvalResult? Eval = null, string? Message = null);

public sealed record TrainingResult(
    string Run, int Steps, string StoppedBecause, double? BestValLoss, int? BestStep, EvalResult? LastEval,
    long Tokens, double Seconds, double TokensPerSecond, int SkippedSteps = 0);

/// <summary>
/// The training loop shared by every model: accumulation, clipping, learning-rate schedule, L1/L2,
/// periodic evaluation, best-weights tracking, early stopping, atomic checkpoints, TensorBoard and a
/// loss plot. Each step runs in its own dispose scope so memory stays flat over long runs.
/// </summary>
public sealed class Trainer(ITrainingTask task, TrainOptions options, RunFolder run)
{
    readonly TrainOptions _o = options.Validate();

    /// <summary>
    /// Trains to max_steps (or early stopping, or cancellation, which saves a checkpoint first). The run folder is claimed
    /// and locked for the duration: a folder holding someone else's files, or one another process is training in, is
    /// refused. A process killed at any moment loses at most the work since the last evaluation: --resume continues from
    /// the last complete checkpoint and ends with the same weights, bit for bit.
    /// </summary>
    public TrainingResult Run(bool resume, IProgress<TrainingProgress>? progress = null, CancellationToken ct = default)
    {
        using var locked = run.HeldLock is null ? run.Lock("training") : null;
        run.RecoverInterruptedCheckpointSwap();
        IO.OutputFolder.RemoveTemporaryLeftovers(run.Path);
        var model = task.Model;
        using var optimizer = new TrainingOptimizer(model, _o);
        var state = new CheckpointState();
        if (resume && !run.HasCheckpoint && File.Exists(run.Training))
        {
            // Killed before its first checkpoint: nothing is lost by starting the same run again.
            progress?.Report(new TrainingProgress(0, _o.MaxSteps, double.NaN, 0, double.NaN, 0, TimeSpan.Zero,
                Message: $"{run.Path} has no checkpoint yet (the run stopped before its first one); starting it from step 0."));
            resume = false;
        }
        if (resume)
        {
            if (!run.HasCheckpoint) throw new SharpLMException($"{run.Path} has no checkpoint to resume from; start without resuming.");
            state = LoadCheckpoint(optimizer);
            if (state.Step >= _o.MaxSteps) throw new SharpLMException($"The run already finished {state.Step} steps (max_steps {_o.MaxSteps}); give a larger max_steps to continue it.");
            progress?.Report(new TrainingProgress(state.Step, _o.MaxSteps, double.NaN, 0, double.NaN, 0, TimeSpan.Zero, Message: $"resuming from step {state.Step}"));
        }
        else
        {
            if (run.HasCheckpoint) throw new SharpLMException($"{run.Path} already holds a run; resume it or choose another output folder.");
            task.WriteRunFiles(run);
        }
        _o.Save(run.Training);

        var tensorboard = torch.utils.tensorboard.SummaryWriter(run.Logs, createRunName: false);
        var history = state.History;
        EvalResult? lastEval = null;
        string stopped = "max_steps";
        var clock = Stopwatch.StartNew();
        double secondsBefore = state.Seconds;
        long tokens = state.Tokens;
        int step = state.Step;
        var window = Stopwatch.StartNew();
        long windowTokens = 0;
        double tokensPerSecond = 0;

        if (!resume)
        {
            lastEval = Evaluate(0, double.NaN, ref state, history, tensorboard, progress, ct);
            SaveCheckpoint(optimizer, state with { Step = 0, History = history, Seconds = 0 }, history);
        }

        model.train();
        while (step < _o.MaxSteps)
        {
            if (ct.IsCancellationRequested) { stopped = "cancelled"; break; }
            double lr = LearningRateSchedule.At(_o, step);
            double loss, norm;
            bool skipped = false;
            using (var scope = NewDisposeScope())
            {
                optimizer.SetLearningRate(lr);
                optimizer.ZeroGrad();
                double sum = 0;
                for (int micro = 0; micro < _o.GradAccumulation; micro++)
                {
                    // Dropout draws depend only on (seed, step, micro): the step number is the whole RNG state.
                    torch.manual_seed((long)(Data.SplitMix64.Mix((ulong)_o.Seed, (ulong)step, (ulong)micro, 0xD0) >> 1));
                    var l = task.MicroBatchLoss(step, micro);
                    sum += l.item<float>();
                    var objective = l;
                    if (_o.L1 > 0 || _o.L2 > 0) objective = objective + Penalty(optimizer.Matrices);
                    (objective / _o.GradAccumulation).backward();
                }
                loss = sum / _o.GradAccumulation;
                norm = _o.GradClip > 0 ? nn.utils.clip_grad_norm_(optimizer.Parameters, _o.GradClip) : GradientNorm(optimizer.Parameters);
                if (double.IsFinite(loss) && double.IsFinite(norm))
                {
                    optimizer.Step();
                    state = state with { ConsecutiveSkips = 0 };
                }
                else
                {
                    string what = double.IsFinite(loss) ? $"gradient norm {norm}" : $"loss {loss}";
                    if (_o.OnNonFinite == NonFiniteAction.Stop)
                        throw new SharpLMException($"Step {step} had a non-finite {what}; lower the learning rate (now {lr:G3}) or clip gradients. The last good checkpoint is in {run.Checkpoint}.");
                    // Skipped: no optimizer step, so neither the weights nor the optimizer's moments or step count change.
                    skipped = true;
                    state = state with { SkippedSteps = state.SkippedSteps + 1, ConsecutiveSkips = state.ConsecutiveSkips + 1 };
                    progress?.Report(new TrainingProgress(step, _o.MaxSteps, loss, lr, norm, tokensPerSecond, TimeSpan.Zero,
                        Message: $"warning: step {step} skipped: non-finite {what} ({state.SkippedSteps} skipped so far, {state.ConsecutiveSkips} in a row)"));
                    if (state.ConsecutiveSkips >= _o.MaxNonFiniteSkips)
                        throw new SharpLMException($"{state.ConsecutiveSkips} steps in a row (up to step {step}) had a non-finite loss or gradient norm, so training stopped; lower the learning rate (now {lr:G3}) or check the data. The last good checkpoint is in {run.Checkpoint}.");
                }
            }
            step++;
            tokens += _o.TokensPerStep;
            windowTokens += _o.TokensPerStep;

            if (step % _o.LogInterval == 0 || step == _o.MaxSteps)
            {
                tokensPerSecond = windowTokens / Math.Max(1e-9, window.Elapsed.TotalSeconds);
                window.Restart();
                windowTokens = 0;
                history.Add(new HistoryPoint(step, double.IsFinite(loss) ? loss : null, null, lr));
                tensorboard.add_scalar("train/loss", (float)loss, step);
                tensorboard.add_scalar("train/lr", (float)lr, step);
                tensorboard.add_scalar("train/grad_norm", (float)norm, step);
                tensorboard.add_scalar("train/tokens_per_second", (float)tokensPerSecond, step);
                tensorboard.add_scalar("train/skipped_steps", state.SkippedSteps, step);
            }
            var eta = TimeSpan.FromSeconds(tokensPerSecond > 0 ? (double)(_o.MaxSteps - step) * _o.TokensPerStep / tokensPerSecond : 0);
            if (!skipped) progress?.Report(new TrainingProgress(step, _o.MaxSteps, loss, lr, norm, tokensPerSecond, eta));

            if (step % _o.EvalInterval == 0 || step == _o.MaxSteps)
            {
                lastEval = Evaluate(step, loss, ref state, history, tensorboard, progress, ct);
                window.Restart(); // keep evaluation time out of the throughput figure
                windowTokens = 0;
                state = state with { Step = step, Tokens = tokens, Seconds = secondsBefore + clock.Elapsed.TotalSeconds, History = history };
                SaveCheckpoint(optimizer, state, history);
                if (_o.EarlyStoppingPatience > 0 && state.EvalsWithoutImprovement >= _o.EarlyStoppingPatience)
                {
                    stopped = "early_stopping";
                    progress?.Report(new TrainingProgress(step, _o.MaxSteps, loss, lr, norm, tokensPerSecond, TimeSpan.Zero,
                        Message: $"early stopping: validation loss has not improved for {state.EvalsWithoutImprovement} evaluations (best {state.BestValLoss:F4} at step {state.BestStep})"));
                    break;
                }
            }
        }
        if (state.Step != step)
        {
            // Cancelled between evaluations: keep the work done so far resumable.
            state = state with { Step = step, Tokens = tokens, Seconds = secondsBefore + clock.Elapsed.TotalSeconds, History = history };
            SaveCheckpoint(optimizer, state, history);
        }
        double seconds = secondsBefore + clock.Elapsed.TotalSeconds;
        var result = new TrainingResult(run.Path, step, stopped, state.BestValLoss, state.BestStep, lastEval, tokens, seconds, tokens / Math.Max(1e-9, seconds),
            state.SkippedSteps);
        AtomicFile.WriteAllText(run.Metrics, System.Text.Json.JsonSerializer.Serialize(result, Json.Indented));
        return result;
    }

    /// <summary>The global L2 norm of the gradients (what clipping would measure), to detect non-finite gradients without clipping.</summary>
    static double GradientNorm(IReadOnlyList<Parameter> parameters)
    {
        using var scope = NewDisposeScope();
        var norms = parameters.Where(p => p.grad is not null).Select(p => p.grad!.norm()).ToArray();
        return norms.Length == 0 ? 0 : stack(norms).norm().item<float>();
    }

    Tensor Penalty(IReadOnlyList<Parameter> matrices)
    {
        Tensor total = zeros(1);
        foreach (var p in matrices)
        {
            if (_o.L1 > 0) total = total + _o.L1 * p.abs().sum();
            if (_o.L2 > 0) total = total + _o.L2 * p.pow(2).sum();
        }
        return total;
    }

    EvalResult Evaluate(int step, double trainLoss, ref CheckpointState state, List<HistoryPoint> history, SummaryWriter tensorboard,
        IProgress<TrainingProgress>? progress, CancellationToken ct)
    {
        var eval = task.Evaluate(ct);
        double lr = LearningRateSchedule.At(_o, Math.Max(0, step - 1));
        bool finite = double.IsFinite(eval.Loss);
        history.Add(new HistoryPoint(step, double.IsFinite(trainLoss) ? trainLoss : null, finite ? eval.Loss : null, lr));
        tensorboard.add_scalar("val/loss", (float)eval.Loss, step);
        foreach (var (k, v) in eval.Metrics) tensorboard.add_scalar($"val/{k}", (float)v, step);
        bool improved = finite && (state.BestValLoss is not double best || eval.Loss < best - _o.EarlyStoppingMinDelta);
        if (improved)
        {
            task.SaveWeights(run.Weights);
            state = state with { BestValLoss = eval.Loss, BestStep = step, EvalsWithoutImprovement = 0 };
        }
        else state = state with { EvalsWithoutImprovement = state.EvalsWithoutImprovement + 1 };
        try
        {
            LossPlot.Write(run.Plot, history, $"training loss: {run.Path}");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            progress?.Report(new TrainingProgress(step, _o.MaxSteps, trainLoss, lr, double.NaN, 0, TimeSpan.Zero, Message: $"warning: could not draw {run.Plot} ({e.Message})"));
        }
        progress?.Report(new TrainingProgress(step, _o.MaxSteps, trainLoss, lr, double.NaN, 0, TimeSpan.Zero, Eval: eval));
        return eval;
    }

    /// <summary>Writes checkpoint.tmp/ completely, then swaps it in: a crash never leaves a half-written checkpoint.</summary>
    void SaveCheckpoint(TrainingOptimizer optimizer, CheckpointState state, List<HistoryPoint> history)
    {
        // Both folders sit inside the locked run folder and only ever hold the trainer's own files.
        string tmp = run.Checkpoint + ".tmp", old = run.Checkpoint + ".old";
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        Directory.CreateDirectory(tmp);
        task.SaveWeights(Path.Combine(tmp, "model.safetensors"));
        FailPoint.Hit("checkpoint.weights-written");
        optimizer.Save(Path.Combine(tmp, "optimizer.safetensors"));
        FailPoint.Hit("checkpoint.optimizer-written");
        (state with { History = history }).Save(Path.Combine(tmp, CheckpointState.FileName)); // last: its presence marks a complete checkpoint
        FailPoint.Hit("checkpoint.state-written");
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
        if (Directory.Exists(run.Checkpoint)) Directory.Move(run.Checkpoint, old);
        FailPoint.Hit("checkpoint.moved-aside");
        Directory.Move(tmp, run.Checkpoint);
        FailPoint.Hit("checkpoint.swapped");
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
    }

    CheckpointState LoadCheckpoint(TrainingOptimizer optimizer)
    {
        var state = CheckpointState.Load(Path.Combine(run.Checkpoint, CheckpointState.FileName));
        task.LoadWeights(Path.Combine(run.Checkpoint, "model.safetensors"));
        optimizer.Load(Path.Combine(run.Checkpoint, "optimizer.safetensors"));
        return state;
    }
}
