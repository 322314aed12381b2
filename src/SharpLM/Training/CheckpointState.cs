using System.Text.Json;
using System.Text.Json.Serialization;
using SharpLM.IO;

namespace SharpLM.Training;

/// <summary>One point of the loss curves.</summary>
public sealed record HistoryPoint(
    [property: JsonPropertyName("step")] int Step,
    [property: JsonPropertyName("train_loss")] double? TrainLoss,
    [property: JsonPropertyName("val_loss")] double? ValLoss,
    [property: JsonPropertyName("lr")] double LearningRate);

/// <summary>
/// The trainer's own state in checkpoint/state.json. Random state needs no storage: every step's batch
/// and dropout draws are seeded from (seed, step), so the step number is the generator state.
/// </summary>
public sealed record CheckpointState
{
    public const string FileName = "state.json";

    /// <summary>Steps completed (the next step to run).</summary>
    [JsonPropertyName("step")] public int Step { get; init; }
    [JsonPropertyName("best_val_loss")] public double? BestValLoss { get; init; }
    [JsonPropertyName("best_step")] public int? BestStep { get; init; }
    [JsonPropertyName("evals_without_improvement")] public int EvalsWithoutImprovement { get; init; }
    [JsonPropertyName("tokens")] public long Tokens { get; init; }
    [JsonPropertyName("seconds")] public double Seconds { get; init; }
    [JsonPropertyName("history")] public List<HistoryPoint> History { get; init; } = [];

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Json.Indented));

    public static CheckpointState Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<CheckpointState>(File.ReadAllText(path), Json.Indented)
                ?? throw new SharpLMException($"{path} is empty; the checkpoint is incomplete.");
        }
        catch (JsonException e)
        {
            throw new SharpLMException($"{path} is corrupt ({e.Message.Split('.')[0]}); delete the checkpoint folder to start over.");
        }
    }
}
