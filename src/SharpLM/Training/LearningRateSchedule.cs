namespace SharpLM.Training;

/// <summary>Linear warmup to the peak rate, then cosine / linear decay to the minimum (or constant), as in nanoGPT.</summary>
public static class LearningRateSchedule
{
    /// <summary>The learning rate for (0-based) <paramref name="step"/>.</summary>
    public static double At(TrainOptions o, int step)
    {
        if (step < o.WarmupSteps)
            return o.LearningRate * (step + 1) / (o.WarmupSteps + 1);
        if (o.Decay == LrDecay.Constant)
            return o.LearningRate;
        int decay = o.EffectiveDecaySteps;
        if (step >= decay)
            return o.MinLearningRate;
        double progress = (double)(step - o.WarmupSteps) / Math.Max(1, decay - o.WarmupSteps);
        double coefficient = o.Decay == LrDecay.Cosine ? 0.5 * (1 + Math.Cos(Math.PI * progress)) : 1 - progress;
        return o.MinLearningRate + coefficient * (o.LearningRate - o.MinLearningRate);
    }
}
