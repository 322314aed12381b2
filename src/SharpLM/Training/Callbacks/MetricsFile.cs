using System.Text.Json;
using SharpLM.IO;

namespace SharpLM.Training;

/// <summary>Writes RUN/metrics.json (the <see cref="TrainingResult"/>) when training ends.</summary>
public sealed class MetricsFile : ITrainingCallback
{
    public void OnTrainingEnd(TrainingContext context, TrainingResult result) =>
        AtomicFile.WriteAllText(context.Run.Metrics, JsonSerializer.Serialize(result, Json.Indented));
}
