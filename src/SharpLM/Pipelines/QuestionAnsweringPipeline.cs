using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Kinds;
using SharpLM.Models;

namespace SharpLM.Pipelines;

/// <summary>
/// Extractive question answering with a BERT QA run: the answer is a span of the context (characters [Start, End)),
/// read from windows of the context as SQuAD fine-tuning made them. With <see cref="QaSettings.NullScoreThreshold"/>
/// set (SQuAD 2.0 models), a question the context does not answer gets an empty answer.
/// </summary>
public sealed class QuestionAnsweringPipeline : IPipeline
{
    readonly BertQuestionAnswering _reader;
    readonly Lock _gate = new();

    public QuestionAnsweringPipeline(LoadedModel model)
    {
        Model = model;
        _reader = model.As<BertQuestionAnswering>("question answering");
    }

    public static QuestionAnsweringPipeline Load(string path) => new(ModelRegistry.Load(path));

    public string Task => "question-answering";
    public LoadedModel Model { get; }

    /// <summary>The windows and answer length the run was fine-tuned with.</summary>
    public QaSettings Settings => QaSettings.Of(_reader);

    /// <summary>
    /// The answer to <paramref name="question"/> in <paramref name="context"/>; with <paramref name="allowNoAnswer"/>, an
    /// empty one when the null score wins by more than the settings' threshold.
    /// </summary>
    public QaAnswer Answer(string question, string context, QaSettings? settings = null, bool allowNoAnswer = false)
    {
        if (string.IsNullOrWhiteSpace(question))
            throw new SharpLMException("question is empty; ask something.");
        if (string.IsNullOrWhiteSpace(context))
            throw new SharpLMException("context is empty; give the text that holds the answer.");
        settings ??= Settings;
        QaAnswer answer;
        lock (_gate)
            answer = QuestionAnsweringEvaluator
                .Answer(_reader, Model.Tokenizer, [new SquadQuestion("q", question, context, 0, [])], settings, 16)
                .Answers[0];
        return allowNoAnswer && QuestionAnsweringEvaluator.Prediction(answer, true, settings.NullScoreThreshold).Length == 0
            ? answer with
            {
                Text = "",
                Start = 0,
                End = 0,
            }
            : answer;
    }

    public void Dispose() => Model.Dispose();
}
