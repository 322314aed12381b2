using System.CommandLine;
using SharpLM.Evaluation;
using SharpLM.Pipelines;
using SharpLM.Workflows;

namespace SharpLM.Cli.Commands;

/// <summary>finetune --task ner|qa, and their inference: sharplm ner (entities with offsets) and sharplm qa (answer spans).</summary>
public static class TaskHeadCommands
{
    static readonly Option<string?> TestData = new("--test-data")
    {
        Description = "ner / qa: a separate test file (CoNLL/JSONL or SQuAD); --data is then split into training and validation only.",
    };

    static Option<int> DocStride() =>
        new("--doc-stride")
        {
            Description = "qa: context tokens between the starts of consecutive windows.",
            DefaultValueFactory = _ => 128,
        };

    static Option<int> MaxQuestionTokens() =>
        new("--max-question-tokens") { Description = "qa: questions are cut to this many tokens.", DefaultValueFactory = _ => 64 };

    static Option<int> MaxAnswerTokens() =>
        new("--max-answer-tokens") { Description = "qa: the longest answer, in tokens.", DefaultValueFactory = _ => 30 };

    static readonly Option<int> FineTuneDocStride = DocStride();
    static readonly Option<int> FineTuneMaxQuestion = MaxQuestionTokens();
    static readonly Option<int> FineTuneMaxAnswer = MaxAnswerTokens();

    /// <summary>Options only finetune --task ner|qa reads.</summary>
    public static IEnumerable<Option> FineTuneOptions => [TestData, FineTuneDocStride, FineTuneMaxQuestion, FineTuneMaxAnswer];

    static readonly string[] QaOnly = ["--doc-stride", "--max-question-tokens", "--max-answer-tokens"];

    /// <summary>Classification's options that mean nothing for a per-token head.</summary>
    static readonly string[] ClassifyOnly = ["--text-column", "--label-column", "--class-weights", "--word-vectors"];

    static bool Given(ParseResult p, Option o) => p.GetResult(o) is { Implicit: false };

    static bool Given(ParseResult p, string name) =>
        p.CommandResult.Command.Options.FirstOrDefault(o => o.Name == name) is Option o && Given(p, o);

    /// <summary>finetune --task ner|qa: the shared fine-tuning request plus this task's options.</summary>
    public static async Task<int> FineTune(CliContext ctx, ParseResult p, FineTuneRequest shared, string task, CancellationToken ct)
    {
        foreach (string name in ClassifyOnly)
            if (Given(p, name))
                throw new SharpLMException($"{name} applies to --task classify; drop it with --task {task}.");
        if (task == TaskHeadFineTuning.Ner)
            foreach (string name in QaOnly)
                if (Given(p, name))
                    throw new SharpLMException($"{name} applies to --task qa; drop it with --task ner.");
        var request = shared with
        {
            TestData = p.GetValue(TestData),
            Qa = new QaSettings
            {
                DocStride = p.GetValue(FineTuneDocStride),
                MaxQuestionTokens = p.GetValue(FineTuneMaxQuestion),
                MaxAnswerTokens = p.GetValue(FineTuneMaxAnswer),
                MaxLength = shared.Shape.Context,
            },
        };
        if (request.TestData is not null)
        {
            if (Given(p, "--test-fraction") && request.TestFraction != 0)
                throw new SharpLMException("--test-data replaces the test part of the split; drop --test-fraction.");
            request = request with { TestFraction = 0 };
        }
        if (request.Training.Parallel is { Rank: > 0 })
        {
            await TaskHeadFineTuning.RunAsync(task, request, CliApp.Catalog(p), null, ct);
            return 0; // rank 0 reports for the run
        }
        var result = await TrainingView.RunAsync(
            ctx,
            request.Training.LogInterval,
            progress => TaskHeadFineTuning.RunAsync(task, request, CliApp.Catalog(p), progress, ct)
        );
        if (p.GetValue(CliApp.JsonOption))
        {
            ctx.WriteJson(result);
            return 0;
        }
        string unit = task == TaskHeadFineTuning.Ner ? "sentences" : "questions";
        ctx.Out.WriteLine(
            $"split (seed {request.SplitSeed ?? request.Training.Seed}{(task == TaskHeadFineTuning.Qa ? ", by paragraph" : "")}): "
                + $"{result.TrainExamples} train, {result.ValExamples} validation, {result.TestExamples} test {unit}"
                + (request.TestData is string t ? $" (test: {t})" : "")
        );
        foreach (var table in result.Tables)
            ctx.WriteTable(table);
        ctx.Out.WriteLine($"test: {result.Summary}");
        ctx.Out.WriteLine(
            task == TaskHeadFineTuning.Ner
                ? $"run: {result.Run}   tag with: sharplm ner --model {result.Run} --text \"...\""
                : $"run: {result.Run}   ask with: sharplm qa --model {result.Run} --question \"...\" --context \"...\""
        );
        return 0;
    }

    public static Command Ner(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "Run folder written by 'sharplm finetune --task ner'.", Required = true };
        var text = new Option<string[]>("--text") { Description = "Text to tag; repeat for several.", DefaultValueFactory = _ => [] };
        var input = new Option<string?>("--input") { Description = "A text file: one text per line." };
        var words = new Option<bool>("--words") { Description = "Also print every word with its tag." };
        var cmd = new Command("ner", "Find named entities in texts with a token-classification run: type, text and character offsets.");
        foreach (var o in new Option[] { model, text, input, words, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                (p, ct) =>
                {
                    var texts = CliApp.Texts(p, text, input, "tag", "text");
                    using var pipeline = TokenClassificationPipeline.Load(p.GetValue(model)!);
                    var tagged = pipeline.Tag(texts, ct: ct);
                    if (p.GetValue(CliApp.JsonOption))
                    {
                        ctx.WriteJson(
                            texts.Select(
                                (t, i) =>
                                    new
                                    {
                                        text = t,
                                        entities = tagged[i]
                                            .Entities.Select(e => new
                                            {
                                                type = e.Type,
                                                text = e.Text,
                                                start = e.Start,
                                                end = e.End,
                                                score = e.Score,
                                            }),
                                        words = p.GetValue(words)
                                            ? tagged[i]
                                                .Words.Select(w => new
                                                {
                                                    word = w.Word.Text,
                                                    start = w.Word.Start,
                                                    end = w.Word.End,
                                                    tag = w.Tag,
                                                })
                                            : null,
                                    }
                            )
                        );
                        return Task.FromResult(0);
                    }
                    for (int i = 0; i < texts.Count; i++)
                    {
                        if (texts.Count > 1)
                            ctx.Out.WriteLine(texts[i]);
                        if (tagged[i].Entities.Count == 0)
                            ctx.Out.WriteLine("(no entities)");
                        else
                            ctx.WriteTable(
                                new ReportTable(
                                    ["type", "text", "start", "end", "score"],
                                    tagged[i]
                                        .Entities.Select(e =>
                                            new[] { e.Type, e.Text, e.Start.ToString(), e.End.ToString(), e.Score.ToString("F3") }
                                        )
                                        .ToList()
                                )
                            );
                        if (p.GetValue(words))
                            ctx.Out.WriteLine(string.Join(" ", tagged[i].Words.Select(w => $"{w.Word.Text}/{w.Tag}")));
                    }
                    return Task.FromResult(0);
                }
            )
        );
        return cmd;
    }

    public static Command Qa(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "Run folder written by 'sharplm finetune --task qa'.", Required = true };
        var question = new Option<string>("--question") { Description = "The question.", Required = true };
        var context = new Option<string?>("--context") { Description = "The text that holds the answer." };
        var contextFile = new Option<string?>("--context-file") { Description = "A file holding the context (instead of --context)." };
        var noAnswer = new Option<bool>("--allow-no-answer")
        {
            Description = "SQuAD 2.0 models: answer nothing when the context does not answer the question.",
        };
        var threshold = new Option<double>("--null-threshold")
        {
            Description = "With --allow-no-answer: answer nothing when the null score beats the best span's by more than this.",
            DefaultValueFactory = _ => 0,
        };
        var stride = new Option<int?>("--doc-stride") { Description = "Context tokens between window starts (default: the run's)." };
        var maxQuestion = new Option<int?>("--max-question-tokens")
        {
            Description = "Questions are cut to this many tokens (default: the run's).",
        };
        var maxAnswer = new Option<int?>("--max-answer-tokens") { Description = "The longest answer in tokens (default: the run's)." };
        var cmd = new Command(
            "qa",
            "Answer a question from a context with an extractive QA run: the answer span and its character offsets."
        );
        foreach (
            var o in new Option[]
            {
                model,
                question,
                context,
                contextFile,
                noAnswer,
                threshold,
                stride,
                maxQuestion,
                maxAnswer,
                CliApp.JsonOption,
            }
        )
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                (p, ct) =>
                {
                    string text = (p.GetValue(context), p.GetValue(contextFile)) switch
                    {
                        (string c, null) => c,
                        (null, string f) => File.Exists(f)
                            ? File.ReadAllText(f)
                            : throw new SharpLMException($"--context-file '{f}' does not exist."),
                        (null, null) => throw new SharpLMException("Give the text to answer from: --context or --context-file."),
                        _ => throw new SharpLMException("Give --context or --context-file, not both."),
                    };
                    if (Given(p, threshold) && !p.GetValue(noAnswer))
                        throw new SharpLMException("--null-threshold applies with --allow-no-answer; add it or drop the threshold.");
                    using var pipeline = QuestionAnsweringPipeline.Load(p.GetValue(model)!);
                    var run = pipeline.Settings;
                    var settings = run with
                    {
                        DocStride = p.GetValue(stride) ?? run.DocStride,
                        MaxQuestionTokens = p.GetValue(maxQuestion) ?? run.MaxQuestionTokens,
                        MaxAnswerTokens = p.GetValue(maxAnswer) ?? run.MaxAnswerTokens,
                        NullScoreThreshold = p.GetValue(threshold),
                    };
                    var a = pipeline.Answer(p.GetValue(question)!, text, settings, p.GetValue(noAnswer));
                    if (p.GetValue(CliApp.JsonOption))
                        ctx.WriteJson(
                            new
                            {
                                answer = a.Text,
                                start = a.Start,
                                end = a.End,
                                score = a.Score,
                                null_score = a.NullScore,
                            }
                        );
                    else
                        ctx.Out.WriteLine(
                            a.Text.Length == 0
                                ? $"(no answer)   null score {a.NullScore:F3}, best span {a.Score:F3}"
                                : $"{a.Text}   [{a.Start}, {a.End})   score {a.Score:F3}, null score {a.NullScore:F3}"
                        );
                    return Task.FromResult(0);
                }
            )
        );
        return cmd;
    }
}
