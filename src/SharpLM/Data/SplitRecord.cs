using System.Text.Json;
using SharpLM.IO;

namespace SharpLM.Data;

/// <summary>
/// split.json of a fine-tuned classifier: the labelled data it was trained on, its columns, and the indices of the
/// train / validation / test parts, so that a report can be repeated on exactly the same examples.
/// </summary>
public sealed record SplitRecord(
    string Data,
    string TextColumn,
    string LabelColumn,
    int Seed,
    double TrainFraction,
    double[] Fractions,
    int[] Train,
    int[] Val,
    int[] Test
)
{
    public const string FileName = "split.json";

    public void Save(string runDir) =>
        AtomicFile.WriteAllText(
            Path.Combine(runDir, FileName),
            JsonSerializer.Serialize(
                new
                {
                    data = Data,
                    textColumn = TextColumn,
                    labelColumn = LabelColumn,
                    seed = Seed,
                    trainFraction = TrainFraction,
                    fractions = Fractions,
                    train = Train,
                    val = Val,
                    test = Test,
                },
                Json.Compact
            )
        );

    /// <summary>The labelled examples of one part ("train", "val" or "test") of the split recorded in <paramref name="runDir"/>.</summary>
    public static (IReadOnlyList<LabelledExample> Examples, string Source) Part(string runDir, string part)
    {
        string path = Path.Combine(runDir, FileName);
        if (!File.Exists(path))
            throw new SharpLMException(
                $"{runDir} has no {FileName} (it was not written by fine-tuning); give labelled data to score instead."
            );
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            string data = root.GetProperty("data").GetString()!;
            string Column(string name, string fallback) => root.TryGetProperty(name, out var c) ? c.GetString() ?? fallback : fallback;
            if (!File.Exists(data) && !Directory.Exists(data))
                throw new SharpLMException($"{data}, the data {runDir} was fine-tuned on, is gone; give labelled data to score instead.");
            var dataset = LabelledDataset.Load(data, Column("textColumn", "text"), Column("labelColumn", "label"));
            var indices = root.GetProperty(part).EnumerateArray().Select(i => i.GetInt32()).ToArray();
            if (indices.Any(i => i < 0 || i >= dataset.Examples.Count))
                throw new SharpLMException(
                    $"{path} does not match {data} any more (an index is out of range); give labelled data to score instead."
                );
            return (indices.Select(i => dataset.Examples[i]).ToArray(), $"the {part} split of {data}");
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new SharpLMException(
                $"{path} is not a valid split record ({e.Message.Split('.')[0]}); give labelled data to score instead."
            );
        }
    }
}
