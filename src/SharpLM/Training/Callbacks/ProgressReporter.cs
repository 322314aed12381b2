namespace SharpLM.Training;

/// <summary>
/// Turns callbacks into <see cref="TrainingProgress"/> reports for an <see cref="IProgress{T}"/> (what front ends render).
/// </summary>
public sealed class ProgressReporter(IProgress<TrainingProgress> progress) : ITrainingCallback
{
    public void OnStep(TrainingContext context, StepReport s)
    {
        if (!s.Skipped)
            progress.Report(
                new TrainingProgress(s.Step, context.Options.MaxSteps, s.Loss, s.LearningRate, s.GradNorm, s.TokensPerSecond, s.Eta)
            );
    }

    public void OnEvaluation(TrainingContext context, int step, EvalResult eval) =>
        progress.Report(new TrainingProgress(step, context.Options.MaxSteps, double.NaN, 0, double.NaN, 0, TimeSpan.Zero, Eval: eval));

    public void OnMessage(TrainingContext context, int step, string message) =>
        progress.Report(
            new TrainingProgress(step, context.Options.MaxSteps, double.NaN, 0, double.NaN, 0, TimeSpan.Zero, Message: message)
        );

    public void OnTrainingEnd(TrainingContext context, TrainingResult result)
    {
        if (result.StoppedBecause == EarlyStopping.Reason)
            OnMessage(
                context,
                result.Steps,
                $"early stopping: validation loss has not improved for {context.State.EvalsWithoutImprovement} evaluations (best "
                    + $"{context.State.BestValLoss:F4} at step {context.State.BestStep})"
            );
    }
}
