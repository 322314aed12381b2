using System.Text.Json;
using SharpLM.Catalogue;
using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.IO;
using SharpLM.Kinds;
using SharpLM.Models;
using SharpLM.Sources;
using SharpLM.Tokenization;
using SharpLM.Training;

namespace SharpLM.Workflows;

/// <summary>What fine-tuning a token classifier or a question-answering model reports: the split, training, the test scores.</summary>
public sealed record TaskHeadResult(
    string Run,
    string Task,
    IReadOnlyList<string>? Labels,
    int TrainExamples,
    int ValExamples,
    int TestExamples,
    TrainingResult Training,
    object Test,
    string Summary
)
{
    /// <summary>The test scores as tables for people.</summary>
    public IReadOnlyList<ReportTable> Tables =>
        Test switch
        {
            Evaluation.TaskMetrics.EntityReport e => [TokenClassifierKind.EntityTable(e)],
            QaReport q => [BertQuestionAnsweringKind.QaTable(q)],
            _ => [],
        };
}

/// <summary>
/// Fine-tunes a per-token head on a pretrained body (or from scratch): named-entity recognition on CoNLL or JSONL tagged
/// sentences ("ner", scored with seqeval's entity F1) and extractive question answering on SQuAD files ("qa", scored
/// with SQuAD's exact match and F1). The data is split by seed into training, validation and test parts — sentences for
/// NER, whole paragraphs for QA (so no context is both trained and tested on) — unless a test file is given.
/// </summary>
public static class TaskHeadFineTuning
{
    public const string Ner = "ner",
        Qa = "qa";

    /// <summary>The kind a request trains: the task's head on the pretrained run's body, else on the named body, else BERT.</summary>
    public static TaskHeadKind KindOf(string task, FineTuneOptions f)
    {
        string head = task switch
        {
            Ner => "token-classification",
            Qa => "question-answering",
            _ => throw new SharpLMException($"task '{task}' is not ner or qa."),
        };
        if (f.Pretrained is string run)
        {
            var folder = new RunFolder(run);
            ModelRegistry.ForRun(folder); // a one-line error for a missing or unknown run
            var body = ModelConfigFile.ReadSummary(folder.Config).ModelType;
            if (
                f.Architecture is string a
                && !string.Equals(ModelRegistry.TaskHeadFor(head, a).Architecture, body, StringComparison.Ordinal)
            )
                throw new SharpLMException($"architecture {a} contradicts {run}, which holds a {body} model; leave the architecture out.");
            return ModelRegistry.TaskHeadFor(head, body);
        }
        return ModelRegistry.TaskHeadFor(head, f.Architecture ?? "bert");
    }

    public static async Task<TaskHeadResult> RunAsync(
        string task,
        FineTuneRequest r,
        DataCatalogClient catalog,
        IProgress<TrainingProgress>? progress = null,
        CancellationToken ct = default
    )
    {
        var parallel = r.Training.Parallel;
        bool lead = parallel is null || parallel.Rank == 0;
        if (lead)
            OutputFolder.Inspect(r.Output, FolderKind.Run);
        var kind = KindOf(task, r.FineTune);
        if (r.TestData is not null && r.TestFraction != 0)
            throw new SharpLMException("test_data replaces the test part of the split; set test_fraction to 0 with it.");
        var tokenizer = r.FineTune.Pretrained is string from
            ? r.FineTune.Tokenizer is null
                ? ModelFolderTokenizer.Load(new RunFolder(from).Path)
                : throw new SharpLMException($"A tokenizer applies when training from scratch; {from} brings its own.")
            : await TokenizerSource.LoadAsync(r.FineTune.Tokenizer ?? kind.DefaultTokenizer, catalog);
        var run = new RunFolder(r.Output);
        return task == Ner
            ? TrainTagger(kind, r, tokenizer, run, lead, progress, ct)
            : TrainReader(kind, r, tokenizer, run, lead, progress, ct);
    }

    /// <summary>
    /// The request's parts of <paramref name="count"/> items: its seeded split, or (with a test file) training and
    /// validation only.
    /// </summary>
    static (int[] Train, int[] Val, int[] Test) Parts(int count, FineTuneRequest r)
    {
        if (!(r.TrainFraction > 0 && r.TrainFraction <= 1))
            throw new SharpLMException($"train_fraction must be in (0, 1] (got {r.TrainFraction}).");
        var (train, val, test) = FineTuning.Split(new int[count], r.ValFraction, r.TestFraction, r.SplitSeed ?? r.Training.Seed);
        if (r.TrainFraction < 1)
        {
            var kept = CrossValidation.StratifiedSplit(
                new int[train.Length],
                [r.TrainFraction, 1 - r.TrainFraction],
                r.SplitSeed ?? r.Training.Seed
            )[0];
            train = kept.Select(k => train[k]).Order().ToArray();
        }
        if (train.Length == 0 || val.Length == 0)
            throw new SharpLMException(
                "The split leaves no training or validation examples; use more data or other validation/test fractions."
            );
        return (train, val, test);
    }

    static TrainOptions Steps(FineTuneRequest r, int examples)
    {
        var o = r.Training;
        if (r.StepsFromEpochs)
            o = o with
            {
                MaxSteps = Math.Max(
                    1,
                    (int)Math.Ceiling(r.Epochs * examples / (double)(o.BatchSize * o.GradAccumulation * (o.Parallel?.Size ?? 1)))
                ),
            };
        return o.Validate();
    }

    static TaskHeadResult TrainTagger(
        TaskHeadKind kind,
        FineTuneRequest r,
        Tokenizer tokenizer,
        RunFolder run,
        bool lead,
        IProgress<TrainingProgress>? progress,
        CancellationToken ct
    )
    {
        var sentences = TaggedData.Load(r.Data);
        var (trainIdx, valIdx, testIdx) = Parts(sentences.Count, r);
        var train = trainIdx.Select(i => sentences[i]).ToList();
        var val = valIdx.Select(i => sentences[i]).ToList();
        var test = r.TestData is string t ? TaggedData.Load(t) : testIdx.Select(i => sentences[i]).ToList();
        var labels = TokenClassificationTask.TagSet(train);
        var o = Steps(r, train.Count);
        TrainingResult trained;
        using (var locked = lead ? run.Lock("fine-tuning") : null)
        {
            if (lead && r.Overwrite)
                run.Clear();
            var model = (ITokenClassifier)Create(kind, r, tokenizer, labels, o.Seed);
            using var taskRun = new TokenClassificationTask(train, val, tokenizer, model, o, r.FineTune);
            trained = Trainer.Train(taskRun, run, resume: false, progress, ct);
        }
        r.Training.Parallel?.Communicator.Barrier();
        using var loaded = kind.Load(run);
        var tagger = loaded.As<ITokenClassifier>("token classification");
        object report;
        string summary;
        if (test.Count > 0)
        {
            var (entities, loss) = TokenClassifierEvaluator.Score(tagger, loaded.Tokenizer, test, o.BatchSize, ct: ct);
            (report, summary) = (
                entities,
                $"entity F1 {entities.Micro.F1:F4} (P {entities.Micro.Precision:F4}, R {entities.Micro.Recall:F4}), loss {loss:F4}"
            );
        }
        else
            (report, summary) = (new { }, "no test sentences");
        var result = new TaskHeadResult(run.Path, Ner, labels, train.Count, val.Count, test.Count, trained, report, summary);
        if (lead)
            AtomicFile.WriteAllText(Path.Combine(run.Path, "test_report.json"), JsonSerializer.Serialize(result, Json.Indented));
        return result;
    }

    static TaskHeadResult TrainReader(
        TaskHeadKind kind,
        FineTuneRequest r,
        Tokenizer tokenizer,
        RunFolder run,
        bool lead,
        IProgress<TrainingProgress>? progress,
        CancellationToken ct
    )
    {
        var squad = Squad.Load(r.Data);
        // Split whole paragraphs, so that no context is both trained and tested on.
        var paragraphs = squad.Questions.Select(q => q.Paragraph).Distinct().ToArray();
        var (trainP, valP, testP) = Parts(paragraphs.Length, r);
        List<SquadQuestion> Of(int[] part)
        {
            var set = part.Select(i => paragraphs[i]).ToHashSet();
            return squad.Questions.Where(q => set.Contains(q.Paragraph)).ToList();
        }
        var train = Of(trainP);
        var val = Of(valP);
        var testSet = r.TestData is string t ? Squad.Load(t) : new SquadDataset(Of(testP), squad.Version2);
        bool version2 = squad.Version2 || testSet.Version2;
        var settings = r.Qa with { MaxLength = Math.Min(r.Qa.MaxLength, r.Shape.Context) };
        var trainWindows = QuestionAnsweringTask.Windows(train, tokenizer, settings);
        var o = Steps(r, trainWindows.Count);
        TrainingResult trained;
        using (var locked = lead ? run.Lock("fine-tuning") : null)
        {
            if (lead && r.Overwrite)
                run.Clear();
            var model = (BertQuestionAnswering)Create(kind, r, tokenizer, [], o.Seed);
            using var taskRun = new QuestionAnsweringTask(trainWindows, val, version2, tokenizer, model, settings, o, r.FineTune);
            trained = Trainer.Train(taskRun, run, resume: false, progress, ct);
        }
        r.Training.Parallel?.Communicator.Barrier();
        using var loaded = kind.Load(run);
        var reader = loaded.As<BertQuestionAnswering>("question answering");
        object report;
        string summary;
        if (testSet.Questions.Count > 0)
        {
            var (answers, _) = QuestionAnsweringEvaluator.Answer(reader, loaded.Tokenizer, testSet.Questions, settings, o.BatchSize, ct);
            var qa = QuestionAnsweringEvaluator.Report(
                testSet.Questions,
                answers.Select(a => QuestionAnsweringEvaluator.Prediction(a, version2, settings.NullScoreThreshold)).ToArray(),
                version2
            );
            (report, summary) = (qa, qa.Summary());
        }
        else
            (report, summary) = (new { }, "no test questions");
        var result = new TaskHeadResult(run.Path, Qa, null, train.Count, val.Count, testSet.Questions.Count, trained, report, summary);
        if (lead)
            AtomicFile.WriteAllText(Path.Combine(run.Path, "test_report.json"), JsonSerializer.Serialize(result, Json.Indented));
        return result;
    }

    static ITaskModel Create(TaskHeadKind kind, FineTuneRequest r, Tokenizer tokenizer, string[] labels, int seed)
    {
        TorchSharp.torch.manual_seed(seed);
        return r.FineTune.Pretrained is string from
            ? kind.CreateFrom(new RunFolder(from), tokenizer, labels, r.Shape.Context, r.Shape.Dropout)
            : kind.Create(r.Shape, tokenizer, labels);
    }
}
