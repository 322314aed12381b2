using SharpLM.Data;
using SharpLM.Evaluation.TaskMetrics;
using SharpLM.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Evaluation;

/// <summary>How questions are cut into windows and answers read back (the defaults are BERT's SQuAD settings).</summary>
public sealed record QaSettings
{
    /// <summary>Tokens per window, question and specials included (at most the model's input limit).</summary>
    public int MaxLength { get; init; } = 384;

    /// <summary>Context tokens between the starts of consecutive windows.</summary>
    public int DocStride { get; init; } = 128;
    public int MaxQuestionTokens { get; init; } = 64;

    /// <summary>The longest answer, in tokens.</summary>
    public int MaxAnswerTokens { get; init; } = 30;

    /// <summary>SQuAD 2.0: answer "" when the null score beats the best span's by more than this.</summary>
    public double NullScoreThreshold { get; init; }

    /// <summary>The settings for a model: windows no longer than its input limit.</summary>
    public QaSettings For(ITaskModel model) => this with { MaxLength = Math.Min(MaxLength, model.MaxInputTokens) };

    public QaWindows Windows(Tokenization.Tokenizer tokenizer) => new(tokenizer, MaxLength, DocStride, MaxQuestionTokens);

    /// <summary>The settings a QA run was fine-tuned with (its config's qa_windows), else the defaults.</summary>
    public static QaSettings Of(BertQuestionAnswering model) =>
        model.Config.QaWindows is { } w
            ? new QaSettings
            {
                DocStride = w.DocStride,
                MaxQuestionTokens = w.MaxQuestionTokens,
                MaxAnswerTokens = w.MaxAnswerTokens,
            }
            : new QaSettings();

    /// <summary>These settings as a config records them.</summary>
    public QaWindowConfig ToConfig() => new(DocStride, MaxQuestionTokens, MaxAnswerTokens);
}

/// <summary>Exact match and F1 (percent) as the official SQuAD scripts compute them, with 2.0's HasAns / NoAns split.</summary>
public sealed record QaReport(int Questions, bool Version2, double Exact, double F1, QaSplit? HasAnswer, QaSplit? NoAnswer)
{
    public string Summary() =>
        $"exact match {Exact:F2}, F1 {F1:F2} over {Questions} questions"
        + (HasAnswer is { } h ? $"; answerable {h.Exact:F2} / {h.F1:F2} ({h.Questions})" : "")
        + (NoAnswer is { } n ? $"; unanswerable {n.Exact:F2} / {n.F1:F2} ({n.Questions})" : "");
}

public sealed record QaSplit(int Questions, double Exact, double F1);

/// <summary>An extractive QA model's answers and their SQuAD scores.</summary>
public static class QuestionAnsweringEvaluator
{
    /// <summary>Right-padded ids, attend and segments [B, T] of windows.</summary>
    public static (Tensor Ids, Tensor Attend, Tensor Segments) Pad(IReadOnlyList<QaWindow> windows, long pad)
    {
        var (ids, attend) = ClassifierEvaluator.Pad(windows.Select(w => w.Ids).ToArray(), pad);
        var (segments, sameMask) = ClassifierEvaluator.Pad(windows.Select(w => w.Segments).ToArray(), 0);
        sameMask.Dispose();
        return (ids, attend, segments);
    }

    /// <summary>Mean of the start and end cross-entropies against the windows' labels.</summary>
    public static Tensor Loss(Tensor start, Tensor end, IReadOnlyList<QaWindow> windows)
    {
        var startLabels = tensor(windows.Select(w => (long)w.StartLabel).ToArray());
        var endLabels = tensor(windows.Select(w => (long)w.EndLabel).ToArray());
        using var s = new Runtime.Scalars();
        return nn.functional.cross_entropy(start, startLabels).add(nn.functional.cross_entropy(end, endLabels), s[1.0]).mul(s[0.5]);
    }

    /// <summary>
    /// The answer to every question (windows of <paramref name="settings"/>) and the mean loss over windows of answerable
    /// and unanswerable questions alike. Eval mode, no gradients.
    /// </summary>
    public static (QaAnswer[] Answers, double Loss) Answer(
        BertQuestionAnswering model,
        Tokenization.Tokenizer tokenizer,
        IReadOnlyList<SquadQuestion> questions,
        QaSettings settings,
        int batch,
        CancellationToken ct = default
    )
    {
        settings = settings.For(model);
        var encoder = settings.Windows(tokenizer);
        var windows = questions.AsParallel().AsOrdered().SelectMany((q, i) => encoder.Encode(q, i, labelled: true)).ToList();
        using var inference = new Runtime.InferenceScope(model.Module);
        var starts = new float[windows.Count][];
        var ends = new float[windows.Count][];
        double nats = 0;
        for (int i = 0; i < windows.Count; i += batch)
        {
            ct.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var chunk = windows.Skip(i).Take(batch).ToArray();
            var (ids, attend, segments) = Pad(chunk, model.PadId);
            var (start, end) = model.forward(ids, attend, segments);
            nats += Loss(start, end, chunk).item<float>() * chunk.Length;
            for (int b = 0; b < chunk.Length; b++)
            {
                starts[i + b] = start[b].data<float>().ToArray();
                ends[i + b] = end[b].data<float>().ToArray();
            }
        }
        var answers = new QaAnswer[questions.Count];
        var byQuestion = Enumerable.Range(0, windows.Count).GroupBy(w => windows[w].Question).ToDictionary(g => g.Key, g => g.ToArray());
        for (int q = 0; q < questions.Count; q++)
        {
            var mine = byQuestion[q];
            var answer = QaWindows.Best(
                questions[q].Context,
                mine.Select(w => windows[w]).ToArray(),
                mine.Select(w => starts[w]).ToArray(),
                mine.Select(w => ends[w]).ToArray(),
                settings.MaxAnswerTokens
            );
            answers[q] = answer;
        }
        return (answers, nats / Math.Max(1, windows.Count));
    }

    /// <summary>The text to report: SQuAD 2.0 answers "" when the null score beats the best span's by more than the threshold.</summary>
    public static string Prediction(QaAnswer a, bool version2, double threshold) =>
        version2 && a.NullScore - a.Score > threshold ? "" : a.Text;

    /// <summary>Exact match and F1 of answers to questions (in percent; 2.0 also split by answerable and unanswerable).</summary>
    public static QaReport Report(IReadOnlyList<SquadQuestion> questions, IReadOnlyList<string> predictions, bool version2)
    {
        var scores = questions
            .Select((q, i) => SquadEvaluation.QuestionScores(predictions[i], q.Answers.Select(a => a.Text).ToArray(), version2))
            .ToArray();
        QaSplit? Split(bool has)
        {
            var picked = Enumerable.Range(0, questions.Count).Where(i => questions[i].HasAnswer == has).ToArray();
            return picked.Length == 0
                ? null
                : new QaSplit(picked.Length, 100 * picked.Average(i => scores[i].Exact), 100 * picked.Average(i => scores[i].F1));
        }
        return new QaReport(
            questions.Count,
            version2,
            100 * scores.Average(s => s.Exact),
            100 * scores.Average(s => s.F1),
            version2 ? Split(true) : null,
            version2 ? Split(false) : null
        );
    }
}
