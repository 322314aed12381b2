using System.Text.Json;
using System.Text.Json.Serialization;
using SharpLM.IO;

namespace SharpLM.Training;

/// <summary>One point of the loss curves.</summary>
public sealed record HistoryPoint(
    [property: JsonPropertyName("step")] int Step,
    [property: JsonPropertyName("train_loss")] double? TrainLoss,
    [property: JsonPropertyName("val_loss")] double? ValLoss,
    [property: JsonPropertyName("lr")] double LearningRate
);

/// <summary>
/// The trainer's own state in checkpoint/state.json. Random state needs no storage: every step's batch
/// and dropout draws are seeded from (seed, step), so the step number is the generator state.
/// </summary>
public sealed record CheckpointState
{
    public const string FileName = "state.json";

    /// <summary>Steps completed (the next step to run).</summary>
    [JsonPropertyName("step")]
    public int Step { get; init; }

    [JsonPropertyName("best_val_loss")]
    public double? BestValLoss { get; init; }

    [JsonPropertyName("best_step")]
    public int? BestStep { get; init; }

    [JsonPropertyName("evals_without_improvement")]
    public int EvalsWithoutImprovement { get; init; }

    [JsonPropertyName("tokens")]
    public long Tokens { get; init; }

    [JsonPropertyName("seconds")]
    public double Seconds { get; init; }

    /// <summary>How many data-parallel processes trained the run (1: one process); a resume must use as many.</summary>
    [JsonPropertyName("world_size")]
    public int WorldSize { get; init; } = 1;

    /// <summary>Steps skipped so far because their loss or gradient norm was not finite.</summary>
    [JsonPropertyName("skipped_steps")]
    public int SkippedSteps { get; init; }

    /// <summary>How many of the latest steps in a row were skipped.</summary>
    [JsonPropertyName("consecutive_skips")]
    public int ConsecutiveSkips { get; init; }

    [JsonPropertyName("history")]
    public List<HistoryPoint> History { get; init; } = [];

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Json.Indented));

    public static CheckpointState Load(string path)
    {
        CheckpointState? state;
        try
        {
            state = JsonSerializer.Deserialize<CheckpointState>(File.ReadAllText(path), Json.Indented);
        }
        catch (JsonException e)
        {
            throw new SharpLMException($"{path} is corrupt ({e.Message.Split('.')[0]}); delete the checkpoint folder to start over.");
        }
        if (state is null)
            throw new SharpLMException($"{path} is empty; the checkpoint is incomplete.");
        bool valid =
            state.Step >= 0
            && state.Tokens >= 0
            && state.Seconds >= 0
            && state.EvalsWithoutImprovement >= 0
            && state.SkippedSteps >= 0
            && state.ConsecutiveSkips >= 0
            && state.BestValLoss is null or (>= 0 and < double.PositiveInfinity)
            && state.BestStep is null or >= 0
            && state.History is not null
            && state.History.All(h => h is not null);
        if (!valid)
            throw new SharpLMException(
                $"{path} is corrupt (a field is missing or out of range); delete the checkpoint folder to start over."
            );
        return state;
    }
}
