using System.Text.Json;
using System.Text.RegularExpressions;
using SharpLM.Evaluation.TextMetrics;

namespace SharpLM.Evaluation.TaskMetrics;

/// <summary>
/// Extractive question answering scored exactly as the official SQuAD evaluation scripts do. Answers are normalised
/// (Python's lower(); ASCII punctuation removed; the articles a, an, the removed as whole words; whitespace collapsed);
/// exact match compares the normalised strings and F1 their token bags; each question takes its best score over its
/// gold answers. Version 1.1 counts a question without a prediction as 0; version 2.0 (unanswerable questions, whose
/// only gold answer is the empty string) leaves it out, splits the scores into HasAns and NoAns, applies a no-answer
/// probability threshold, and finds the best threshold. Written by hand to mirror those scripts rule for rule; their
/// numbers are what the community reports.
/// </summary>
public static class SquadEvaluation
{
    static readonly Regex Articles = new(@"(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])", RegexOptions.CultureInvariant);
    const string AsciiPunctuation = """!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~""";

    public static string Normalize(string text)
    {
        string lower = PythonText.Lower(text);
        var noPunctuation = new System.Text.StringBuilder(lower.Length);
        foreach (char c in lower)
            if (AsciiPunctuation.IndexOf(c) < 0)
                noPunctuation.Append(c);
        return PythonText.NormalizeSpaces(Articles.Replace(noPunctuation.ToString(), " "));
    }

    public static bool ExactMatch(string prediction, string gold) => Normalize(prediction) == Normalize(gold);

    /// <summary>Token F1; <paramref name="version2"/> scores an empty side 1 if both are empty, else 0 (v1.1: 0).</summary>
    public static double F1(string prediction, string gold, bool version2)
    {
        var predicted = version2 && prediction.Length == 0 ? [] : PythonText.Split(Normalize(prediction));
        var truth = version2 && gold.Length == 0 ? [] : PythonText.Split(Normalize(gold));
        if (version2 && (predicted.Count == 0 || truth.Count == 0))
            return predicted.SequenceEqual(truth) ? 1 : 0;
        var counts = truth.GroupBy(t => t, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        int same = 0;
        foreach (var token in predicted)
            if (counts.TryGetValue(token, out int left) && left > 0)
            {
                counts[token] = left - 1;
                same++;
            }
        if (same == 0)
            return 0;
        double precision = (double)same / predicted.Count,
            recall = (double)same / truth.Count;
        return 2 * precision * recall / (precision + recall);
    }

    /// <summary>
    /// One question's exact match and F1 (0 or 1, and 0…1): the best over its gold answers. Version 2.0 drops answers that
    /// normalise to nothing and scores an unanswerable question (no gold left) against the empty string.
    /// </summary>
    public static (double Exact, double F1) QuestionScores(string prediction, IReadOnlyList<string> answers, bool version2)
    {
        if (!version2)
            return answers.Count == 0
                ? (0, 0)
                : (answers.Any(a => ExactMatch(prediction, a)) ? 1 : 0, answers.Max(a => F1(prediction, a, false)));
        var gold = answers.Where(a => Normalize(a).Length > 0).ToArray();
        if (gold.Length == 0)
            gold = [""];
        return (gold.Any(a => Normalize(a) == Normalize(prediction)) ? 1 : 0, gold.Max(a => F1(prediction, a, version2: true)));
    }

    sealed record Question(string Id, string[] Answers, bool HasAnswer);

    /// <summary>The questions of a SQuAD file (data → paragraphs → qas), in file order, and whether it is version 2.0.</summary>
    static (List<Question> Questions, bool Version2) ReadDataset(string path)
    {
        if (!File.Exists(path))
            throw new SharpLMException($"SQuAD file {path} does not exist.");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            if (
                root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("data", out var data)
                || data.ValueKind != JsonValueKind.Array
            )
                throw new SharpLMException($"{path} is not a SQuAD file: it has no \"data\" array.");
            string version = root.TryGetProperty("version", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";
            bool impossible = false;
            var questions = new List<Question>();
            foreach (var article in data.EnumerateArray())
            foreach (var paragraph in article.GetProperty("paragraphs").EnumerateArray())
            foreach (var qa in paragraph.GetProperty("qas").EnumerateArray())
            {
                var answers = qa.GetProperty("answers").EnumerateArray().Select(a => a.GetProperty("text").GetString() ?? "").ToArray();
                impossible |= qa.TryGetProperty("is_impossible", out var im) && im.ValueKind == JsonValueKind.True;
                questions.Add(new Question(qa.GetProperty("id").GetString()!, answers, answers.Length > 0));
            }
            return (questions, version.StartsWith("v2", StringComparison.Ordinal) || version.StartsWith('2') || impossible);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new SharpLMException(
                $"{path} is not a SQuAD file ({e.Message.Split('.')[0]}); it needs data → paragraphs → qas with id and answers."
            );
        }
    }

    /// <summary>A JSON object of strings (predictions) or numbers (no-answer probabilities), in file order.</summary>
    static List<KeyValuePair<string, T>> ReadMap<T>(string path, string what, Func<JsonElement, T?> read)
    {
        if (!File.Exists(path))
            throw new SharpLMException($"{what} file {path} does not exist.");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new SharpLMException($"{path} is not a JSON object of question id → {what}.");
            return doc
                .RootElement.EnumerateObject()
                .Select(p => new KeyValuePair<string, T>(
                    p.Name,
                    read(p.Value) ?? throw new SharpLMException($"{path}: '{p.Name}' is not a {what}.")
                ))
                .ToList();
        }
        catch (JsonException e)
        {
            throw new SharpLMException($"{path} is not valid JSON ({e.Message.Split('.')[0]}).");
        }
    }

    /// <summary>
    /// The official script's output for a SQuAD file and predictions (question id → answer text): v1.1 exact_match and
    /// f1; v2.0 exact, f1 and total, the HasAns and NoAns splits, and with no-answer probabilities the best thresholds.
    /// </summary>
    public static Dictionary<string, object> Evaluate(
        string datasetPath,
        string predictionsPath,
        string? naProbPath = null,
        double naProbThreshold = 1.0
    )
    {
        var (questions, v2) = ReadDataset(datasetPath);
        var predictions = ReadMap(predictionsPath, "answer", e => e.ValueKind == JsonValueKind.String ? e.GetString() : null)
            .GroupBy(p => p.Key)
            .ToDictionary(g => g.Key, g => g.Last().Value);
        if (!v2)
        {
            if (naProbPath is not null)
                throw new SharpLMException("no-answer probabilities apply to SQuAD 2.0 files; this is a 1.1 file.");
            double exact = 0,
                f1 = 0;
            foreach (var q in questions)
                if (predictions.TryGetValue(q.Id, out var prediction) && q.Answers.Length > 0)
                {
                    var (e, f) = QuestionScores(prediction, q.Answers, version2: false);
                    (exact, f1) = (exact + e, f1 + f);
                }
            if (questions.Count == 0)
                throw new SharpLMException($"{datasetPath} has no questions.");
            return new()
            {
                ["version"] = "1.1",
                ["exact_match"] = 100.0 * exact / questions.Count,
                ["f1"] = 100.0 * f1 / questions.Count,
            };
        }

        var exactRaw = new Dictionary<string, double>();
        var f1Raw = new Dictionary<string, double>();
        var hasAnswer = new Dictionary<string, bool>();
        foreach (var q in questions)
        {
            hasAnswer[q.Id] = q.HasAnswer;
            if (!predictions.TryGetValue(q.Id, out var prediction))
                continue; // the official 2.0 script leaves a question without a prediction out
            (exactRaw[q.Id], f1Raw[q.Id]) = QuestionScores(prediction, q.Answers, version2: true);
        }
        if (exactRaw.Count == 0)
            throw new SharpLMException($"{predictionsPath} answers none of the questions in {datasetPath}.");
        var naProbs = naProbPath is null
            ? predictions.Keys.Select(k => new KeyValuePair<string, double>(k, 0.0)).ToList()
            : ReadMap<double?>(naProbPath, "probability", e => e.ValueKind == JsonValueKind.Number ? e.GetDouble() : null)
                .Select(p => new KeyValuePair<string, double>(p.Key, p.Value!.Value))
                .ToList();
        var naProb = naProbs.GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Last().Value);
        Dictionary<string, double> Thresholded(Dictionary<string, double> raw) =>
            raw.ToDictionary(
                p => p.Key,
                p =>
                    (
                        naProb.TryGetValue(p.Key, out double prob)
                            ? prob
                            : throw new SharpLMException($"No no-answer probability for '{p.Key}'.")
                    ) > naProbThreshold
                        ? (hasAnswer[p.Key] ? 0.0 : 1.0)
                        : p.Value
            );
        var exactScores = Thresholded(exactRaw);
        var f1Scores = Thresholded(f1Raw);
        var result = new Dictionary<string, object>
        {
            ["version"] = "2.0",
            ["exact"] = 100.0 * exactScores.Values.Sum() / exactScores.Count,
            ["f1"] = 100.0 * f1Scores.Values.Sum() / f1Scores.Count,
            ["total"] = exactScores.Count,
        };
        foreach (var (name, wanted) in new[] { ("HasAns", true), ("NoAns", false) })
        {
            var ids = questions.Where(q => q.HasAnswer == wanted && exactScores.ContainsKey(q.Id)).Select(q => q.Id).ToList();
            if (ids.Count == 0)
                continue;
            result[$"{name}_exact"] = 100.0 * ids.Sum(id => exactScores[id]) / ids.Count;
            result[$"{name}_f1"] = 100.0 * ids.Sum(id => f1Scores[id]) / ids.Count;
            result[$"{name}_total"] = ids.Count;
        }
        if (naProbPath is not null)
            foreach (var (name, raw) in new[] { ("exact", exactRaw), ("f1", f1Raw) })
            {
                var (best, threshold) = BestThreshold(predictions, raw, naProbs, hasAnswer);
                result[$"best_{name}"] = best;
                result[$"best_{name}_thresh"] = threshold;
            }
        result["exact_match"] = result["exact"];
        return result;
    }

    /// <summary>
    /// The no-answer threshold that maximises the score: questions in order of their no-answer probability (a stable
    /// sort of the probabilities file's order), each one moved from "no answer" to "answered" in turn.
    /// </summary>
    static (double Score, double Threshold) BestThreshold(
        Dictionary<string, string> predictions,
        Dictionary<string, double> scores,
        List<KeyValuePair<string, double>> naProbs,
        Dictionary<string, bool> hasAnswer
    )
    {
        double current = hasAnswer.Values.Count(h => !h);
        double best = current,
            threshold = 0;
        foreach (var (id, prob) in naProbs.OrderBy(p => p.Value))
        {
            if (!scores.TryGetValue(id, out double score))
                continue;
            current +=
                hasAnswer[id] ? score
                : predictions[id].Length > 0 ? -1
                : 0;
            if (current > best)
                (best, threshold) = (current, prob);
        }
        return (100.0 * best / scores.Count, threshold);
    }
}
