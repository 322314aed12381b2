using System.CommandLine;
using SharpLM.Evaluation;
using SharpLM.Models;
using SharpLM.Training;
using SharpLM.Workflows;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>sharplm finetune --task classify: a classification head on a pretrained (or fresh) BERT or GPT.</summary>
public static class FineTuneCommand
{
    /// <summary>The options that describe a fine-tuning job (shared by finetune and bench classify) and their parser.</summary>
    public static (Option[] Options, Func<ParseResult, FineTuneRequest> Parse) RequestOptions(string defaultOutput)
    {
        var taskOption = new Option<string>("--task") { Description = "Fine-tuning task.", DefaultValueFactory = _ => "classify" };
        taskOption.AcceptOnlyFromAmong("classify", "seq2seq", "ner", "qa");
        var data = ClassifierOptions.Data();
        var textColumn = ClassifierOptions.TextColumn();
        var labelColumn = ClassifierOptions.LabelColumn();
        var output = new Option<string>("--output")
        {
            Description = "Run folder for the classifier.",
            DefaultValueFactory = _ => defaultOutput,
            Required = defaultOutput.Length == 0,
        };
        var from = ClassifierOptions.From();
        var architecture = ClassifierOptions.Architecture();
        var tokenizer = ClassifierOptions.Tokenizer();
        var epochs = new Option<double>("--epochs") { Description = "Passes over the training split.", DefaultValueFactory = _ => 3 };
        var steps = new Option<int?>("--max-steps") { Description = "Optimiser steps (overrides --epochs)." };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate (typical 2e-5 … 1e-3).", DefaultValueFactory = _ => 5e-4 };
        var batch = new Option<int>("--batch-size") { Description = "Examples per step.", DefaultValueFactory = _ => 16 };
        var block = ClassifierOptions.BlockSize();
        var dropout = new Option<double>("--dropout")
        {
            Description = "Dropout in the body (and before BERT's classifier).",
            DefaultValueFactory = _ => 0.1,
        };
        var layers = ClassifierOptions.Layers();
        var heads = ClassifierOptions.Heads();
        var width = ClassifierOptions.Width();
        var freezeEmbeddings = new Option<bool>("--freeze-embeddings") { Description = "Keep the embeddings fixed." };
        var wordVectors = new Option<string?>("--word-vectors")
        {
            Description =
                "mlp / bilstm: a word2vec or GloVe text file (or a folder with vectors.txt) whose vectors start the embeddings; "
                + "without --tokenizer its words are the vocabulary, and the width is the vectors' dimension.",
        };
        var freezeLayers = new Option<int>("--freeze-layers")
        {
            Description = "Keep the first k layers fixed.",
            DefaultValueFactory = _ => 0,
        };
        var weights = new Option<string>("--class-weights")
        {
            Description = "none or balanced (n / (classes · n_class)).",
            DefaultValueFactory = _ => "none",
        };
        weights.AcceptOnlyFromAmong("none", "balanced");
        var val = new Option<double>("--val-fraction")
        {
            Description = "Validation share of the stratified split.",
            DefaultValueFactory = _ => 0.1,
        };
        var test = new Option<double>("--test-fraction")
        {
            Description = "Test share of the stratified split.",
            DefaultValueFactory = _ => 0.1,
        };
        var evalInterval = new Option<int>("--eval-interval")
        {
            Description = "Steps between validation evaluations.",
            DefaultValueFactory = _ => 50,
        };
        var patience = new Option<int>("--patience")
        {
            Description = "Early stopping after this many evaluations without improvement (0 = off).",
            DefaultValueFactory = _ => 0,
        };
        var seed = ClassifierOptions.Seed();
        var trainFraction = new Option<double>("--train-fraction")
        {
            Description = "Fine-tune on this share of the training split (stratified; validation and test unchanged).",
            DefaultValueFactory = _ => 1,
        };
        var splitSeed = new Option<int?>("--split-seed")
        {
            Description = "Seed of the split only (default: --seed); fix it to repeat training seeds on the same test split.",
        };
        var overwrite = new Option<bool>("--overwrite")
        {
            Description = "Replace an earlier run in --output (only a run folder SharpLM wrote).",
        };
        Option[] options =
        [
            overwrite,
            taskOption,
            data,
            textColumn,
            labelColumn,
            output,
            from,
            architecture,
            tokenizer,
            epochs,
            steps,
            lr,
            batch,
            block,
            dropout,
            layers,
            heads,
            width,
            freezeEmbeddings,
            wordVectors,
            freezeLayers,
            weights,
            val,
            test,
            evalInterval,
            patience,
            seed,
            splitSeed,
            trainFraction,
        ];
        FineTuneRequest Parse(ParseResult p)
        {
            double vf = p.GetValue(val),
                tf = p.GetValue(test);
            if (vf <= 0 || tf < 0 || vf + tf >= 1)
                throw new SharpLMException("--val-fraction must be positive, --test-fraction non-negative, and together below 1.");
            if (p.GetValue(epochs) <= 0)
                throw new SharpLMException("--epochs must be positive.");
            if (!(p.GetValue(trainFraction) is > 0 and <= 1))
                throw new SharpLMException("--train-fraction must be in (0, 1].");
            var training = new TrainOptions
            {
                BatchSize = p.GetValue(batch),
                LearningRate = p.GetValue(lr),
                MinLearningRate = p.GetValue(lr) / 10,
                WarmupSteps = 20,
                WeightDecay = 0.01,
                EvalInterval = p.GetValue(evalInterval),
                EarlyStoppingPatience = p.GetValue(patience),
                Seed = p.GetValue(seed),
                MaxSteps = p.GetValue(steps) ?? 1,
            };
            var shape = new ModelShape
            {
                Layers = p.GetValue(layers),
                Heads = p.GetValue(heads),
                Width = p.GetValue(width),
                Context = p.GetValue(block),
                Dropout = p.GetValue(dropout),
            }.Validate();
            return new FineTuneRequest
            {
                Overwrite = p.GetValue(overwrite),
                Data = p.GetValue(data)!,
                TextColumn = p.GetValue(textColumn)!,
                LabelColumn = p.GetValue(labelColumn)!,
                Output = p.GetValue(output)!,
                ValFraction = vf,
                TestFraction = tf,
                SplitSeed = p.GetValue(splitSeed),
                TrainFraction = p.GetValue(trainFraction),
                Epochs = p.GetValue(epochs),
                StepsFromEpochs = p.GetValue(steps) is null,
                Training = training,
                Shape = shape,
                FineTune = new FineTuneOptions
                {
                    Pretrained = p.GetValue(from),
                    Architecture = p.GetValue(architecture),
                    Tokenizer = p.GetValue(tokenizer),
                    FreezeEmbeddings = p.GetValue(freezeEmbeddings),
                    WordVectors = p.GetValue(wordVectors) is string v ? Embeddings.WordVectors.FilePath(v) : null,
                    FreezeLayers = p.GetValue(freezeLayers),
                    BalancedClassWeights = p.GetValue(weights) == "balanced",
                },
            };
        }
        return (options, Parse);
    }

    static readonly CliApp.DistributedOptions DistributedFlags = new();

    public static Command Build(CliContext ctx)
    {
        var (options, parse) = RequestOptions("");
        var cmd = new Command(
            "finetune",
            "Fine-tune a text classifier on labelled data (--task classify: accuracy, P/R/F1, confusion matrix on the test split), "
                + "train an encoder-decoder on text pairs (--task seq2seq: BLEU, chrF and error rates), a named-entity tagger on CoNLL or "
                + "JSONL sentences (--task ner: seqeval entity F1) or an extractive question-answering model on a SQuAD file (--task qa: "
                + "exact match and F1)."
        );
        foreach (
            var o in options
                .Append(CliApp.JsonOption)
                .Concat(Seq2SeqCommands.FineTuneOptions)
                .Concat(TaskHeadCommands.FineTuneOptions)
                .Concat(DistributedFlags.All)
        )
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                async (p, ct) =>
                {
                    string task = p.GetValue<string>("--task")!;
                    foreach (var o in TaskHeadCommands.FineTuneOptions)
                        if (task is "classify" or "seq2seq" && p.GetResult(o) is { Implicit: false })
                            throw new SharpLMException($"{o.Name} applies to --task ner or qa; drop it with --task {task}.");
                    if (task == "seq2seq")
                        return await Seq2SeqCommands.FineTune(ctx, p, ct);
                    foreach (var o in Seq2SeqCommands.FineTuneOptions)
                        if (p.GetResult(o) is { Implicit: false })
                            throw new SharpLMException($"{o.Name} applies to --task seq2seq; drop it with --task {task}.");
                    if (task is "ner" or "qa")
                    {
                        var shared = parse(p);
                        return await TaskHeadCommands.FineTune(
                            ctx,
                            p,
                            shared with
                            {
                                Training = shared.Training with { Parallel = DistributedFlags.Read(p) },
                            },
                            task,
                            ct
                        );
                    }
                    var request = parse(p);
                    var parallel = DistributedFlags.Read(p);
                    request = request with { Training = request.Training with { Parallel = parallel } };
                    var training = request.Training;
                    if (parallel is { Rank: > 0 })
                    {
                        await FineTuning.RunAsync(request, CliApp.Catalog(p), null, ct);
                        return 0; // rank 0 reports for the run
                    }
                    var result = await Train(ctx, request, CliApp.Catalog(p), ct);
                    if (p.GetValue(CliApp.JsonOption))
                        ctx.WriteJson(result);
                    else
                    {
                        ctx.Out.WriteLine(
                            $"split (stratified, seed {request.SplitSeed ?? training.Seed}): {result.TrainExamples} train, "
                                + $"{result.ValExamples} validation, {result.TestExamples} test"
                        );
                        PrintReport(ctx, result.Test);
                        ctx.Out.WriteLine($"run: {result.Run}   classify with: sharplm classify --model {result.Run} --text \"...\"");
                    }
                    return 0;
                }
            )
        );
        return cmd;
    }

    /// <summary>Fine-tunes with the same progress display as train (a live bar in a terminal, lines otherwise).</summary>
    public static Task<FineTuneResult> Train(
        CliContext ctx,
        FineTuneRequest request,
        Catalogue.DataCatalogClient catalog,
        CancellationToken ct
    ) => TrainingView.RunAsync(ctx, request.Training.LogInterval, progress => FineTuning.RunAsync(request, catalog, progress, ct));

    /// <summary>Per-class table, averages, confusion matrix and AUC.</summary>
    public static void PrintReport(CliContext ctx, ClassificationReport r)
    {
        foreach (var table in r.ToTables())
            ctx.WriteTable(table);
        ctx.Out.WriteLine(r.Summary());
    }
}
