using TorchSharp;
using TorchSharp.Modules;

namespace SharpLM.Training;

/// <summary>TensorBoard event files in RUN/logs: train/loss, lr, grad_norm, tokens/s, skipped steps, and every validation metric.</summary>
public sealed class TensorBoardLogger : ITrainingCallback
{
    SummaryWriter? _writer;

    public void OnTrainingStart(TrainingContext context) =>
        _writer = torch.utils.tensorboard.SummaryWriter(context.Run.Logs, createRunName: false);

    public void OnLog(TrainingContext context, StepReport s)
    {
        _writer!.add_scalar("train/loss", (float)s.Loss, s.Step);
        _writer.add_scalar("train/lr", (float)s.LearningRate, s.Step);
        _writer.add_scalar("train/grad_norm", (float)s.GradNorm, s.Step);
        _writer.add_scalar("train/tokens_per_second", (float)s.TokensPerSecond, s.Step);
        _writer.add_scalar("train/skipped_steps", context.State.SkippedSteps, s.Step);
    }

    public void OnEvaluation(TrainingContext context, int step, EvalResult eval)
    {
        _writer!.add_scalar("val/loss", (float)eval.Loss, step);
        foreach (var (k, v) in eval.Metrics)
            _writer.add_scalar($"val/{k}", (float)v, step);
    }
}
