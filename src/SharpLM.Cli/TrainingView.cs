using SharpLM.Training;
using Spectre.Console;

namespace SharpLM.Cli;

/// <summary>
/// Training progress on stderr. In a terminal: one live progress bar, with evaluation results and warnings written above
/// it through the same console, which clears and redraws the bar around them (so lines never collide with it or leave a
/// stale bar behind). Otherwise: one plain line per log interval, evaluation and message.
/// </summary>
public static class TrainingView
{
    public static string EvalLine(int step, EvalResult e) =>
        $"step {step, 6}: val loss {e.Loss:F4}" + string.Concat(e.Metrics.Select(m => $", {m.Key.Replace('_', ' ')} {m.Value:F4}"));

    public static string StepLine(TrainingProgress t) =>
        $"step {t.Step, 6}/{t.MaxSteps}: loss {t.Loss:F4}, lr {t.LearningRate:G3}, {t.TokensPerSecond:N0} tok/s, ETA {t.Eta:hh\\:mm\\:ss}";

    /// <summary>Runs <paramref name="train"/> with a progress sink that renders as described above.</summary>
    public static T Run<T>(CliContext ctx, int logInterval, Func<IProgress<TrainingProgress>, T> train) =>
        RunAsync(ctx, logInterval, progress => Task.FromResult(train(progress))).GetAwaiter().GetResult();

    public static async Task<T> RunAsync<T>(CliContext ctx, int logInterval, Func<IProgress<TrainingProgress>, Task<T>> train)
    {
        if (!ctx.Interactive)
            return await train(
                new CliApp.SyncProgress<TrainingProgress>(t =>
                {
                    if (t.Message is not null)
                        ctx.Err.WriteLine(t.Message);
                    else if (t.Eval is { } e)
                        ctx.Err.WriteLine(EvalLine(t.Step, e));
                    else if (t.Step % logInterval == 0)
                        ctx.Err.WriteLine(StepLine(t));
                })
            );
        T result = default!;
        await ctx
            .Console.Progress()
            .AutoClear(true)
            .HideCompleted(true)
            .Columns(
                new TaskDescriptionColumn { Alignment = Justify.Left },
                new ProgressBarColumn(),
                new PercentageColumn(),
                new RemainingTimeColumn()
            )
            .StartAsync(async pc =>
            {
                ProgressTask? bar = null;
                result = await train(
                    new CliApp.SyncProgress<TrainingProgress>(t =>
                    {
                        if (t.Message is not null || t.Eval is not null)
                        {
                            // Through the live display's own console: it is cleared, the line written, then redrawn below it.
                            ctx.Console.WriteLine(t.Message ?? EvalLine(t.Step, t.Eval!), Style.Plain);
                            return;
                        }
                        bar ??= pc.AddTask("training", maxValue: t.MaxSteps);
                        bar.Value = t.Step;
                        bar.Description = Markup.Escape(
                            $"step {t.Step}/{t.MaxSteps} loss {t.Loss:F3} lr {t.LearningRate:G2} {t.TokensPerSecond:N0} tok/s"
                        );
                    })
                );
                bar?.StopTask();
            });
        return result;
    }
}
