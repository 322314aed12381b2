using SharpLM.Data;
using SharpLM.Models;
using SharpLM.Tokenization;
using SharpLM.Training;

namespace SharpLM.Tests;

/// <summary>The tiny preset and shortcuts the tests share.</summary>
public static class Tiny
{
    public static ModelShape Shape => TrainingPreset.Get("tiny").Shape;
    public static TrainOptions Options => TrainingPreset.Get("tiny").Training;

    /// <summary>A GPT language-model task on a prepared folder, of the tiny shape unless told otherwise.</summary>
    public static LanguageModelTask LanguageModel(string data, TrainOptions o, ModelShape? shape = null) =>
        new(data, GptConfig.For(shape ?? Shape, PreparedData.Tokenizer(data)), o);

    public static TrainingResult Train(
        ITrainingTask task,
        string run,
        bool resume = false,
        IProgress<TrainingProgress>? progress = null,
        CancellationToken ct = default
    ) => Trainer.Train(task, new RunFolder(run), resume, progress, ct);

    /// <summary>A GPT run's model and tokenizer (dispose the model).</summary>
    public static (Gpt Model, Tokenizer Tokenizer) LoadGpt(string run)
    {
        var loaded = ModelRegistry.Load(run);
        return (loaded.As<Gpt>("a test"), loaded.Tokenizer);
    }
}
