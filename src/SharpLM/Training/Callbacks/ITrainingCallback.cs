namespace SharpLM.Training;

/// <summary>What the trainer reports while it runs (the CLI renders it; tests may ignore it).</summary>
public sealed record TrainingProgress(
    int Step,
    int MaxSteps,
    double Loss,
    double LearningRate,
    double GradNorm,
    double TokensPerSecond,
    TimeSpan Eta,
    EvalResult? Eval = null,
    string? Message = null
);

/// <summary>One optimizer step, as callbacks see it (<see cref="Skipped"/>: its loss or gradient norm was not finite).</summary>
public sealed record StepReport(
    int Step,
    double Loss,
    double LearningRate,
    double GradNorm,
    double TokensPerSecond,
    TimeSpan Eta,
    bool Skipped
);

/// <summary>What callbacks can read of a running training, and how one asks it to stop.</summary>
public sealed class TrainingContext(RunFolder run, TrainOptions options)
{
    public RunFolder Run { get; } = run;
    public TrainOptions Options { get; } = options;

    /// <summary>The trainer's state: step, best validation loss, history, skipped steps (what a checkpoint holds).</summary>
    public CheckpointState State { get; internal set; } = new();
    public string? StopReason { get; private set; }

    /// <summary>Asks the trainer to stop after the current step (it saves a checkpoint first); the first reason given wins.</summary>
    public void RequestStop(string reason) => StopReason ??= reason;

    internal Action<int, string>? MessageSink { get; set; }

    /// <summary>Sends a message (a warning, say) to every callback's <see cref="ITrainingCallback.OnMessage"/>.</summary>
    public void Message(int step, string message) => MessageSink?.Invoke(step, message);
}

/// <summary>
/// A hook into the training loop, as Keras and Lightning callbacks are: TensorBoard, the loss plot, metrics.json, early
/// stopping and progress are callbacks, and a user can add their own. Every method has an empty default.
/// </summary>
public interface ITrainingCallback
{
    /// <summary>Once, before the first step (after a resumed run has loaded its checkpoint).</summary>
    void OnTrainingStart(TrainingContext context) { }

    /// <summary>After every step, whether it was applied or skipped.</summary>
    void OnStep(TrainingContext context, StepReport step) { }

    /// <summary>Every log_interval steps (and at the last).</summary>
    void OnLog(TrainingContext context, StepReport step) { }

    /// <summary>After each evaluation; <see cref="TrainingContext.State"/> already says whether it improved.</summary>
    void OnEvaluation(TrainingContext context, int step, EvalResult eval) { }

    /// <summary>For messages (warnings, "resuming from step k").</summary>
    void OnMessage(TrainingContext context, int step, string message) { }

    /// <summary>Once, after the last step (also when stopped early or cancelled).</summary>
    void OnTrainingEnd(TrainingContext context, TrainingResult result) { }
}

/// <summary>
/// A callback that decides rather than writes (early stopping): in data-parallel training it runs on every rank, so that
/// every rank stops at the same step. Other callbacks run on rank 0 only.
/// </summary>
public interface IEveryRankCallback : ITrainingCallback { }
