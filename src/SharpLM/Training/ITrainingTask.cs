using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>Validation figures of one evaluation: the loss drives best-checkpoint and early stopping; the rest is reported.</summary>
public sealed record EvalResult(double Loss, IReadOnlyDictionary<string, double> Metrics);

/// <summary>
/// What the trainer needs from a model + data pair (language modelling now; masked LM and
/// classification): batches, a loss, an evaluation and how to save the model. Disposing it frees the model and data.
/// </summary>
public interface ITrainingTask : IDisposable
{
    nn.Module Model { get; }
    /// <summary>Tokens (or examples) per micro-batch, for throughput figures.</summary>
    long TokensPerMicroBatch { get; }
    /// <summary>The loss of micro-batch <paramref name="micro"/> of <paramref name="step"/>; the batch must depend only on these two numbers.</summary>
    Tensor MicroBatchLoss(int step, int micro);
    EvalResult Evaluate(CancellationToken ct);
    void SaveWeights(string path);
    void LoadWeights(string path);
    /// <summary>Writes config.json, tokenizer.json and anything else the run folder needs to be usable.</summary>
    void WriteRunFiles(RunFolder run);
}
