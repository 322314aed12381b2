namespace SharpLM.Training;

/// <summary>Redraws RUN/loss.png from the history after every evaluation; a drawing failure is a warning, not a stop.</summary>
public sealed class LossPlotter : ITrainingCallback
{
    public void OnEvaluation(TrainingContext context, int step, EvalResult eval)
    {
        try
        {
            LossPlot.Write(context.Run.Plot, context.State.History, $"training loss: {context.Run.Path}");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            context.Message(step, $"warning: could not draw {context.Run.Plot} ({e.Message})");
        }
    }
}
