using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Evaluation.TaskMetrics;
using SharpLM.Models;
using SharpLM.Sources;
using SharpLM.Tokenization;
using SharpLM.Training;

namespace SharpLM.Kinds;

/// <summary>
/// A kind whose model is a pretrained body with a per-token head (token classification, question answering): built
/// from scratch or on a pretrained run's body, and loaded from its run.
/// </summary>
public abstract class TaskHeadKind : ModelKind
{
    /// <summary>The body: "bert" or "gpt2".</summary>
    public abstract string Architecture { get; }

    /// <summary>The tokenizer a model trained from scratch uses unless told otherwise.</summary>
    public abstract string DefaultTokenizer { get; }

    /// <summary>A new model (torch's global generator) of <paramref name="shape"/>; inputs cut at shape.Context.</summary>
    public abstract ITaskModel Create(ModelShape shape, Tokenizer tokenizer, string[] labels);

    /// <summary>A model on a pretrained run's body (its config, its body weights, a new head).</summary>
    public abstract ITaskModel CreateFrom(RunFolder pretrained, Tokenizer tokenizer, string[] labels, int maxInputTokens, double dropout);

    /// <summary>The model of a config.json (no weights yet).</summary>
    protected abstract ITaskModel FromConfig(string configPath, out int vocabulary);

    public override LoadedModel Load(RunFolder run)
    {
        RequireWeights(run);
        var model = FromConfig(run.Config, out int vocabulary);
        return Loaded(run, model.Module, vocabulary, model.LoadWeights, model.ModelConfig);
    }

    /// <summary>The data an evaluation of this kind needs, as a one-line error when it is missing.</summary>
    protected static string RequireData(EvaluationRequest r, string what, string data)
    {
        if (r.Split is not null)
            throw new SharpLMException($"A {what} run records no split; give the data to score instead ({data}).");
        return r.Data ?? throw new SharpLMException($"Evaluating a {what} needs data to score: {data}.");
    }
}

/// <summary>Token classification (named-entity recognition) on BERT or GPT: HF *ForTokenClassification.</summary>
public abstract class TokenClassifierKind : TaskHeadKind
{
    public override string Task => "token-classification";

    public override EvaluationOutcome Evaluate(
        LoadedModel loaded,
        EvaluationRequest r,
        IProgress<(int Done, int Total)>? progress = null,
        CancellationToken ct = default
    )
    {
        var tagger = loaded.As<ITokenClassifier>("token classification");
        string data = RequireData(r, "token classifier", "a CoNLL or JSONL file of tagged sentences");
        var sentences = TaggedData.Load(data);
        var (report, loss) = TokenClassifierEvaluator.Score(tagger, loaded.Tokenizer, sentences, r.BatchSize, ct: ct);
        return new EvaluationOutcome(
            new
            {
                model = loaded.Run.Path,
                data,
                sentences = sentences.Count,
                loss,
                report,
            },
            [EntityTable(report)],
            $"{sentences.Count} sentences: {data}; entity F1 {report.Micro.F1:F4} (seqeval, default mode), loss {loss:F4}"
        );
    }

    /// <summary>seqeval's report as a table: each type, then the micro, macro and weighted averages.</summary>
    public static ReportTable EntityTable(EntityReport r) =>
        new(
            ["entity", "precision", "recall", "F1", "support"],
            r.Types.Append(r.Micro)
                .Append(r.Macro)
                .Append(r.Weighted)
                .Select(s =>
                    new[] { s.Name, s.Precision.ToString("F4"), s.Recall.ToString("F4"), s.F1.ToString("F4"), s.Support.ToString() }
                )
                .ToList()
        );
}

public sealed class BertTokenClassifierKind : TokenClassifierKind
{
    public override string Name => "bert-token-classifier";
    public override string Description => "BERT token classifier";
    public override string Architecture => "bert";
    public override string DefaultTokenizer => TokenizerSource.BertBaseUncased;

    public override bool Recognises(ModelConfigFile.Summary c) => c.ModelType == "bert" && c.Has("ForTokenClassification");

    protected override ITaskModel FromConfig(string path, out int vocabulary)
    {
        var config = BertConfig.Load(path);
        vocabulary = config.VocabSize;
        return new BertTokenClassifier(config);
    }

    public override ITaskModel Create(ModelShape shape, Tokenizer tokenizer, string[] labels) =>
        new BertTokenClassifier(
            BertConfig.For(shape, tokenizer) with
            {
                Labels = labels,
                Architectures = ["BertForTokenClassification"],
                MaxInputTokens = shape.Context,
            }
        );

    public override ITaskModel CreateFrom(RunFolder pretrained, Tokenizer tokenizer, string[] labels, int maxInputTokens, double dropout) =>
        WithPretrainedBody(
            new BertTokenClassifier(
                BertBody(pretrained, maxInputTokens, dropout) with
                {
                    Labels = labels,
                    Architectures = ["BertForTokenClassification"],
                }
            ),
            pretrained
        );
}

public sealed class GptTokenClassifierKind : TokenClassifierKind
{
    public override string Name => "gpt2-token-classifier";
    public override string Description => "GPT token classifier";
    public override string Architecture => "gpt2";
    public override string DefaultTokenizer => TokenizerSource.Gpt2;

    public override bool Recognises(ModelConfigFile.Summary c) => c.ModelType == "gpt2" && c.Has("ForTokenClassification");

    protected override ITaskModel FromConfig(string path, out int vocabulary)
    {
        var config = GptConfig.Load(path);
        vocabulary = config.VocabSize;
        return new GptTokenClassifier(config);
    }

    public override ITaskModel Create(ModelShape shape, Tokenizer tokenizer, string[] labels) =>
        new GptTokenClassifier(
            GptConfig.For(shape, tokenizer) with
            {
                Labels = labels,
                Architectures = ["GPT2ForTokenClassification"],
                MaxInputTokens = shape.Context,
            }
        );

    public override ITaskModel CreateFrom(RunFolder pretrained, Tokenizer tokenizer, string[] labels, int maxInputTokens, double dropout)
    {
        return WithPretrainedBody(
            new GptTokenClassifier(
                GptBody(pretrained, tokenizer, maxInputTokens, dropout) with
                {
                    Labels = labels,
                    Architectures = ["GPT2ForTokenClassification"],
                }
            ),
            pretrained
        );
    }
}

/// <summary>Extractive question answering on BERT (HF BertForQuestionAnswering).</summary>
public sealed class BertQuestionAnsweringKind : TaskHeadKind
{
    public override string Name => "bert-question-answering";
    public override string Description => "BERT question-answering model";
    public override string Task => "question-answering";
    public override string Architecture => "bert";
    public override string DefaultTokenizer => TokenizerSource.BertBaseUncased;

    public override bool Recognises(ModelConfigFile.Summary c) => c.ModelType == "bert" && c.Has("ForQuestionAnswering");

    protected override ITaskModel FromConfig(string path, out int vocabulary)
    {
        var config = BertConfig.Load(path);
        vocabulary = config.VocabSize;
        return new BertQuestionAnswering(config);
    }

    public override ITaskModel Create(ModelShape shape, Tokenizer tokenizer, string[] labels) =>
        new BertQuestionAnswering(
            BertConfig.For(shape, tokenizer) with
            {
                Architectures = ["BertForQuestionAnswering"],
                MaxInputTokens = shape.Context,
            }
        );

    public override ITaskModel CreateFrom(RunFolder pretrained, Tokenizer tokenizer, string[] labels, int maxInputTokens, double dropout) =>
        WithPretrainedBody(
            new BertQuestionAnswering(
                BertBody(pretrained, maxInputTokens, dropout) with
                {
                    Labels = null,
                    Architectures = ["BertForQuestionAnswering"],
                }
            ),
            pretrained
        );

    public override EvaluationOutcome Evaluate(
        LoadedModel loaded,
        EvaluationRequest r,
        IProgress<(int Done, int Total)>? progress = null,
        CancellationToken ct = default
    )
    {
        var reader = loaded.As<BertQuestionAnswering>("question answering");
        string data = RequireData(r, "question-answering model", "a SQuAD 1.1 or 2.0 JSON file");
        var squad = Squad.Load(data);
        var settings = QaSettings.Of(reader);
        var (answers, loss) = QuestionAnsweringEvaluator.Answer(reader, loaded.Tokenizer, squad.Questions, settings, r.BatchSize, ct);
        var report = QuestionAnsweringEvaluator.Report(
            squad.Questions,
            answers.Select(a => QuestionAnsweringEvaluator.Prediction(a, squad.Version2, settings.NullScoreThreshold)).ToArray(),
            squad.Version2
        );
        return new EvaluationOutcome(
            new
            {
                model = loaded.Run.Path,
                data,
                loss,
                report,
            },
            [QaTable(report)],
            $"{squad.Questions.Count} questions: {data}; {report.Summary()}"
        );
    }

    /// <summary>The SQuAD scores as a table (2.0: with the answerable and unanswerable rows).</summary>
    public static ReportTable QaTable(QaReport r) =>
        new(
            ["questions", "count", "exact match", "F1"],
            new[] { ("all", (QaSplit?)new QaSplit(r.Questions, r.Exact, r.F1)), ("answerable", r.HasAnswer), ("unanswerable", r.NoAnswer) }
                .Where(x => x.Item2 is not null)
                .Select(x => new[] { x.Item1, x.Item2!.Questions.ToString(), x.Item2.Exact.ToString("F2"), x.Item2.F1.ToString("F2") })
                .ToList()
        );
}
