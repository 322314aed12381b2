using System.Diagnostics;
using SharpLM.Catalogue;
using SharpLM.Data;
using SharpLM.Kinds;
using SharpLM.Models;
using SharpLM.Training;

namespace SharpLM.Bench;

/// <summary>An evaluation during a run: the step, the wall-clock seconds since the run started, the validation loss.</summary>
public sealed record Evaluation(int Step, double Seconds, double ValLoss);

/// <summary>One model's run: its size, throughput, and validation loss after each evaluation with the wall-clock time.</summary>
public sealed record LanguageModelRun(
    string Model,
    string Shape,
    long Parameters,
    double TokensPerSecond,
    double Seconds,
    IReadOnlyList<Evaluation> Evaluations
);

public sealed record LstmComparison(LanguageModelRun Gpt, LanguageModelRun Lstm, int Steps, double EqualTimeSeconds);

/// <summary>
/// `sharplm-bench lstm`: a GPT and an LSTM language model of (nearly) the same parameter count, trained on the same
/// character-level moby-dick shards with the same trainer and options (batch, window, steps, learning-rate schedule), one
/// after the other in one process with the same threads: validation loss at equal steps and at equal wall-clock time,
/// and tokens/s.
/// </summary>
public static class LstmBenchmark
{
    public static async Task<LstmComparison> RunAsync(
        string output,
        int steps,
        int lstmLayers,
        DataCatalogClient catalog,
        IProgress<string> status,
        CancellationToken ct
    )
    {
        string data = Path.Combine(output, "data");
        if (!File.Exists(Path.Combine(data, CorpusPreparer.SummaryFile)))
        {
            status.Report("preparing moby-dick at character level");
            await new CorpusPreparer(catalog).RunAsync(
                new PrepareOptions
                {
                    Inputs = ["moby-dick"],
                    Tokenizer = "char",
                    OutputDir = data,
                }
            );
        }
        var preset = TrainingPreset.Get("baby");
        var options = preset.Training with { MaxSteps = steps, EvalInterval = Math.Max(1, steps / 10) };
        var tokenizer = PreparedData.Tokenizer(data);
        long gptParameters;
        using (var probe = new Gpt(GptConfig.For(preset.Shape, tokenizer)))
            gptParameters = probe.parameters().Sum(p => p.numel());
        // The LSTM width whose parameter count is closest to the GPT's (embeddings tied in both).
        int width = Enumerable.Range(8, 1017).MinBy(w => Math.Abs(LstmParameters(tokenizer.VocabSize, w, lstmLayers) - gptParameters));
        var lstmShape = preset.Shape with { Layers = lstmLayers, Width = width };
        status.Report($"GPT {preset.Shape.Layers}×{preset.Shape.Width} ({gptParameters:N0} parameters) against LSTM {lstmLayers}×{width}");
        var gpt = Train("gpt", preset.Shape, $"{preset.Shape.Layers} layers × {preset.Shape.Width}, {preset.Shape.Heads} heads");
        var lstm = Train("lstm", lstmShape, $"{lstmLayers} layers × {width}");
        double equal = Math.Min(gpt.Seconds, lstm.Seconds);
        return new LstmComparison(gpt, lstm, steps, equal);

        LanguageModelRun Train(string model, ModelShape shape, string description)
        {
            var run = new RunFolder(Path.Combine(output, model));
            using var locked = run.Lock("benchmark");
            if (Directory.Exists(run.Path))
                run.Clear(); // only a run folder SharpLM wrote (Clear refuses anything else)
            var evaluations = new List<Evaluation>();
            var clock = Stopwatch.StartNew();
            // Synchronous (the trainer's thread), so the clock is read when the evaluation ends.
            var progress = new Cli.CliApp.SyncProgress<TrainingProgress>(p =>
            {
                if (p.Eval is EvalResult e)
                    evaluations.Add(new Evaluation(p.Step, clock.Elapsed.TotalSeconds, e.Loss));
            });
            using var task = ModelRegistry.ForObjective("lm", model).CreatePretrainingTask(data, shape, null, options);
            long parameters = task.Model.parameters().Sum(p => p.numel());
            status.Report($"training the {model} ({parameters:N0} parameters, {steps} steps)");
            var result = Trainer.Train(task, run, resume: false, progress, ct);
            return new LanguageModelRun(model, description, parameters, result.TokensPerSecond, clock.Elapsed.TotalSeconds, evaluations);
        }
    }

    /// <summary>Tied embedding (V·W), output bias (V), and per layer the LSTM's four gates: 4·(W·W + W·W + 2·W).</summary>
    static long LstmParameters(int vocab, int width, int layers) =>
        (long)vocab * width + vocab + layers * 4L * (2L * width * width + 2L * width);
}
