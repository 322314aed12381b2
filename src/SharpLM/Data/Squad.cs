using System.Text.Json;

namespace SharpLM.Data;

/// <summary>A gold answer: its text and the character where it starts in the context.</summary>
public readonly record struct SquadAnswer(string Text, int Start);

/// <summary>One SQuAD question with its context; <see cref="Answers"/> is empty for an unanswerable (v2.0) question.</summary>
public sealed record SquadQuestion(string Id, string Question, string Context, int Paragraph, IReadOnlyList<SquadAnswer> Answers)
{
    public bool HasAnswer => Answers.Count > 0;
}

/// <summary>A SQuAD file: its questions in file order, and whether it is version 2.0 (unanswerable questions allowed).</summary>
public sealed record SquadDataset(IReadOnlyList<SquadQuestion> Questions, bool Version2);

/// <summary>
/// Reads SQuAD v1.1 and v2.0 JSON (data → paragraphs → context, qas → id, question, answers → text, answer_start;
/// v2.0's is_impossible). Every answer must be found at its answer_start in the context; one that is not (a file
/// edited without its offsets, another context's answer) is a one-line error naming the question.
/// </summary>
public static class Squad
{
    public static SquadDataset Load(string path)
    {
        if (!File.Exists(path))
            throw new SharpLMException($"SQuAD file {path} does not exist.");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new SharpLMException($"{path} is not valid JSON ({e.Message.Split('.')[0]}).");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (
                root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("data", out var data)
                || data.ValueKind != JsonValueKind.Array
            )
                throw new SharpLMException($"{path} is not a SQuAD file: it has no \"data\" array.");
            string version = root.TryGetProperty("version", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";
            bool v2 = version.StartsWith("v2", StringComparison.Ordinal) || version.StartsWith('2');
            var questions = new List<SquadQuestion>();
            var ids = new HashSet<string>(StringComparer.Ordinal);
            int paragraphNo = 0;
            foreach (var article in data.EnumerateArray())
            foreach (var paragraph in Array(article, "paragraphs", path, "an article"))
            {
                string context = Text(paragraph, "context", path, "a paragraph");
                foreach (var qa in Array(paragraph, "qas", path, "a paragraph"))
                {
                    string id = Text(qa, "id", path, "a question");
                    if (!ids.Add(id))
                        throw new SharpLMException($"{path}: question id '{id}' appears twice; ids must be unique.");
                    string question = Text(qa, "question", path, $"question '{id}'");
                    bool impossible = qa.TryGetProperty("is_impossible", out var im) && im.ValueKind == JsonValueKind.True;
                    v2 |= impossible;
                    var answers = new List<SquadAnswer>();
                    foreach (var a in Array(qa, "answers", path, $"question '{id}'"))
                    {
                        string text = Text(a, "text", path, $"an answer of question '{id}'");
                        if (!a.TryGetProperty("answer_start", out var s) || !s.TryGetInt32(out int start))
                            throw new SharpLMException($"{path}: an answer of question '{id}' has no integer answer_start.");
                        if (
                            start < 0
                            || start + text.Length > context.Length
                            || string.CompareOrdinal(context, start, text, 0, text.Length) != 0
                        )
                        {
                            int from = Math.Clamp(start, 0, context.Length);
                            string there = context.Substring(from, Math.Min(text.Length, context.Length - from));
                            throw new SharpLMException(
                                $"{path}: question '{id}' has answer \"{Short(text)}\" at answer_start {start}, but the context has "
                                    + $"\"{Short(there)}\" there; fix the offset (it counts characters of the context from 0)."
                            );
                        }
                        answers.Add(new SquadAnswer(text, start));
                    }
                    if (impossible && answers.Count > 0)
                        throw new SharpLMException($"{path}: question '{id}' is_impossible but has answers; give one or the other.");
                    if (!impossible && answers.Count == 0 && !v2)
                        throw new SharpLMException(
                            $"{path}: question '{id}' has no answers; a SQuAD 1.1 file needs one (2.0 files mark is_impossible)."
                        );
                    questions.Add(new SquadQuestion(id, question, context, paragraphNo, answers));
                }
                paragraphNo++;
            }
            if (questions.Count == 0)
                throw new SharpLMException($"{path} has no questions.");
            return new SquadDataset(questions, v2);
        }
    }

    static string Short(string s) => s.Length <= 40 ? s : s[..37] + "...";

    static JsonElement.ArrayEnumerator Array(JsonElement e, string name, string path, string what) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var a) && a.ValueKind == JsonValueKind.Array
            ? a.EnumerateArray()
            : throw new SharpLMException($"{path}: {what} has no \"{name}\" array (SQuAD: data → paragraphs → qas → answers).");

    static string Text(JsonElement e, string name, string path, string what) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var t) && t.ValueKind == JsonValueKind.String
            ? t.GetString()!
            : throw new SharpLMException($"{path}: {what} has no \"{name}\" string.");

    /// <summary>Writes questions as a SQuAD file (grouped by paragraph), atomically.</summary>
    public static void Save(string path, IEnumerable<SquadQuestion> questions, bool version2, string title = "sharplm")
    {
        var paragraphs = questions
            .GroupBy(q => (q.Paragraph, q.Context))
            .Select(g => new
            {
                context = g.Key.Context,
                qas = g.Select(q =>
                        (object)(
                            version2
                                ? new
                                {
                                    id = q.Id,
                                    question = q.Question,
                                    answers = q.Answers.Select(a => new { text = a.Text, answer_start = a.Start }),
                                    is_impossible = !q.HasAnswer,
                                }
                                : new
                                {
                                    id = q.Id,
                                    question = q.Question,
                                    answers = q.Answers.Select(a => new { text = a.Text, answer_start = a.Start }),
                                }
                        )
                    )
                    .ToList(),
            });
        var file = new { version = version2 ? "v2.0" : "1.1", data = new[] { new { title, paragraphs } } };
        IO.AtomicFile.WriteAllText(path, JsonSerializer.Serialize(file, IO.Json.Indented));
    }
}
