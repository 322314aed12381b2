using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>Validation figures of one evaluation: the loss drives best-checkpoint and early stopping; the rest is reported.</summary>
public sealed record EvalResult(double Loss, IReadOnlyDictionary<string, double> Metrics);

/// <summary>One micro-batch's mean loss and the real (non-padding) tokens it was computed on, for throughput figures.</summary>
public readonly record struct MicroBatch(Tensor Loss, long Tokens);

/// <summary>
/// What the trainer needs from a model + data pair (language modelling, masked LM, classification): its options, batches
/// and their loss, an evaluation, and how to save the model. Disposing it frees the model and data.
/// </summary>
public interface ITrainingTask : IDisposable
{
    nn.Module Model { get; }

    /// <summary>The model's config (what config.json will hold).</summary>
    Models.IModelConfig ModelConfig { get; }

    /// <summary>How the task is trained: the only place the trainer takes its options from.</summary>
    TrainOptions Options { get; }

    /// <summary>Micro-batch <paramref name="micro"/> of <paramref name="step"/>; the batch must depend only on these two numbers.</summary>
    MicroBatch MicroBatchLoss(int step, int micro);
    EvalResult Evaluate(CancellationToken ct);
    void SaveWeights(string path);
    void LoadWeights(string path);

    /// <summary>Writes config.json, tokenizer.json and anything else the run folder needs to be usable.</summary>
    void WriteRunFiles(RunFolder run);

    /// <summary>
    /// Whether the task's batches honour <see cref="TrainOptions.Parallel"/>: rank r of N takes rows r·B … (r+1)·B − 1
    /// of each global micro-batch of N·B rows, so that N ranks see exactly what one process with batch N·B sees.
    /// </summary>
    bool SupportsDataParallel => false;
}
