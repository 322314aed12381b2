namespace SharpLM.Training;

/// <summary>
/// Stops when the validation loss has not improved (by more than early_stopping_min_delta) for early_stopping_patience
/// evaluations. The count lives in the checkpoint's state, so a resumed run stops where an uninterrupted one would.
/// </summary>
public sealed class EarlyStopping : IEveryRankCallback
{
    public const string Reason = "early_stopping";

    public void OnEvaluation(TrainingContext context, int step, EvalResult eval)
    {
        var s = context.State;
        if (context.Options.EarlyStoppingPatience > 0 && s.EvalsWithoutImprovement >= context.Options.EarlyStoppingPatience)
            context.RequestStop(Reason);
    }
}
