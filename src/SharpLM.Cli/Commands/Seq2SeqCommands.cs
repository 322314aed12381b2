using System.CommandLine;
using SharpLM.Models;
using SharpLM.Pipelines;
using SharpLM.Training;
using SharpLM.Workflows;

namespace SharpLM.Cli.Commands;

/// <summary>finetune --task seq2seq (an encoder–decoder on text pairs) and translate (its inference).</summary>
public static class Seq2SeqCommands
{
    static readonly Option<string> SourceColumn = new("--source-column")
    {
        Description = "seq2seq: the source column / field of the pair file.",
        DefaultValueFactory = _ => "source",
    };
    static readonly Option<string> TargetColumn = new("--target-column")
    {
        Description = "seq2seq: the target column / field of the pair file.",
        DefaultValueFactory = _ => "target",
    };
    static readonly Option<double> LabelSmoothing = new("--label-smoothing")
    {
        Description = "seq2seq: label smoothing ε of the cross-entropy.",
        DefaultValueFactory = _ => 0.1,
    };
    static readonly Option<bool> PreNorm = new("--pre-norm")
    {
        Description = "seq2seq: pre-LayerNorm blocks (mBART) instead of post-LN (BART).",
    };
    static readonly Option<int> VocabSize = new("--vocab-size")
    {
        Description = "seq2seq with --tokenizer bpe: vocabulary size learned from the training pairs.",
        DefaultValueFactory = _ => 4000,
    };
    static readonly Option<int> FfnDim = new("--ffn-dim") { Description = "seq2seq: feed-forward width (default 4 × --n-embd)." };
    static readonly Option<int> WarmupSteps = new("--warmup-steps")
    {
        Description = "seq2seq: linear learning-rate warm-up steps (a from-scratch Transformer often needs hundreds).",
        DefaultValueFactory = _ => 20,
    };
    static readonly Option<int?> TestBeams = new("--test-beams")
    {
        Description = "seq2seq: decode the test split with this many beams (default greedy).",
    };

    /// <summary>Options only finetune --task seq2seq reads.</summary>
    public static IEnumerable<Option> FineTuneOptions =>
        [SourceColumn, TargetColumn, LabelSmoothing, PreNorm, VocabSize, FfnDim, WarmupSteps, TestBeams];

    /// <summary>Options only finetune --task classify reads.</summary>
    static readonly string[] ClassifyOnly =
    [
        "--text-column",
        "--label-column",
        "--architecture",
        "--freeze-embeddings",
        "--freeze-layers",
        "--class-weights",
        "--train-fraction",
        "--word-vectors",
    ];

    static T Value<T>(ParseResult p, string name) => p.GetValue<T>(name)!;

    static bool Given(ParseResult p, string name) =>
        p.CommandResult.Command.Options.FirstOrDefault(o => o.Name == name) is Option o && p.GetResult(o) is { Implicit: false };

    /// <summary>finetune --task seq2seq: reads the shared fine-tuning flags by name and this task's own.</summary>
    public static async Task<int> FineTune(CliContext ctx, ParseResult p, CancellationToken ct)
    {
        foreach (string name in ClassifyOnly)
            if (Given(p, name))
                throw new SharpLMException($"{name} applies to --task classify; drop it with --task seq2seq.");
        double vf = Value<double>(p, "--val-fraction"),
            tf = Value<double>(p, "--test-fraction");
        if (vf <= 0 || tf < 0 || vf + tf >= 1)
            throw new SharpLMException("--val-fraction must be positive, --test-fraction non-negative, and together below 1.");
        int width = Value<int>(p, "--n-embd"),
            heads = Value<int>(p, "--n-head"),
            layers = Value<int>(p, "--n-layer");
        int? ffn = p.GetValue<int?>("--ffn-dim");
        string? from = p.GetValue<string?>("--from");
        if (from is not null)
        {
            // the encoder is the BERT run's; the decoder follows it unless its own flags say otherwise
            var bert = Seq2SeqTraining.EncoderConfig(from);
            if (Given(p, "--n-embd") && width != bert.HiddenSize)
                throw new SharpLMException($"--n-embd {width} contradicts {from}, whose hidden size is {bert.HiddenSize}; leave it out.");
            if (Given(p, "--pre-norm"))
                throw new SharpLMException($"--pre-norm contradicts {from}: a BERT encoder is post-LayerNorm; leave it out.");
            width = bert.HiddenSize;
            heads = Given(p, "--n-head") ? heads : bert.NumAttentionHeads;
            layers = Given(p, "--n-layer") ? layers : bert.NumHiddenLayers;
            ffn ??= bert.IntermediateSize;
        }
        double dropout = Value<double>(p, "--dropout");
        int? steps = p.GetValue<int?>("--max-steps");
        double lr = Value<double>(p, "--lr");
        var request = new Seq2SeqRequest
        {
            Data = await Data.ParallelDataSource.ResolveAsync(Value<string>(p, "--data"), CliApp.Catalog(p), ct),
            SourceColumn = p.GetValue(SourceColumn)!,
            TargetColumn = p.GetValue(TargetColumn)!,
            Output = Value<string>(p, "--output"),
            ValFraction = vf,
            TestFraction = tf,
            SplitSeed = p.GetValue<int?>("--split-seed"),
            Epochs = Value<double>(p, "--epochs"),
            StepsFromEpochs = steps is null,
            Tokenizer = p.GetValue<string?>("--tokenizer"),
            From = from,
            VocabSize = p.GetValue(VocabSize),
            LabelSmoothing = p.GetValue(LabelSmoothing),
            Overwrite = Value<bool>(p, "--overwrite"),
            TestBeams = p.GetValue(TestBeams) is int k ? new Generation.BeamSearchOptions { NumBeams = k } : null,
            Model = new Seq2SeqConfig
            {
                DModel = width,
                EncoderLayers = layers,
                DecoderLayers = layers,
                EncoderAttentionHeads = heads,
                DecoderAttentionHeads = heads,
                EncoderFfnDim = ffn ?? 4 * width,
                DecoderFfnDim = ffn ?? 4 * width,
                MaxPositionEmbeddings = Value<int>(p, "--block-size"),
                Dropout = dropout,
                NormalizeBefore = p.GetValue(PreNorm),
            },
            Training = new TrainOptions
            {
                BatchSize = Value<int>(p, "--batch-size"),
                LearningRate = lr,
                MinLearningRate = lr / 10,
                WarmupSteps = p.GetValue(WarmupSteps),
                WeightDecay = 0.01,
                EvalInterval = Value<int>(p, "--eval-interval"),
                EarlyStoppingPatience = Value<int>(p, "--patience"),
                Seed = Value<int>(p, "--seed"),
                MaxSteps = steps ?? 1,
            },
        };
        if (request.Epochs <= 0)
            throw new SharpLMException("--epochs must be positive.");
        var result = await Task.Run(
            () => TrainingView.Run(ctx, request.Training.LogInterval, progress => Seq2SeqTraining.Run(request, progress, ct)),
            ct
        );
        if (p.GetValue(CliApp.JsonOption))
            ctx.WriteJson(result);
        else
        {
            ctx.Out.WriteLine(
                $"split (seed {request.SplitSeed ?? request.Training.Seed}): {result.TrainPairs} train, {result.ValPairs} validation, "
                    + $"{result.TestPairs} test pairs"
            );
            if (result.Test is not null)
            {
                ctx.WriteTable(result.Test.ToTable());
                ctx.Out.WriteLine($"test decoding: {result.Decoding}; BLEU signature {result.Test.BleuSignature}");
            }
            ctx.Out.WriteLine($"run: {result.Run}   translate with: sharplm translate --model {result.Run} --text \"...\"");
        }
        return 0;
    }

    public static Command Translate(CliContext ctx)
    {
        var model = new Option<string>("--model")
        {
            Description = "Run folder written by 'sharplm finetune --task seq2seq'.",
            Required = true,
        };
        var text = new Option<string[]>("--text")
        {
            Description = "Text to translate; repeat for several.",
            AllowMultipleArgumentsPerToken = false,
            DefaultValueFactory = _ => [],
        };
        var input = new Option<string?>("--input") { Description = "A text file: one source per line." };
        var maxNew = new Option<int?>("--max-new-tokens") { Description = "Longest output in tokens (default: the model's limit)." };
        var beam = new BeamOptions();
        var cmd = new Command("translate", "Translate texts with a sequence-to-sequence run (greedy, or beam search with --num-beams).");
        foreach (var o in new Option[] { model, text, input, maxNew, CliApp.JsonOption }.Concat(beam.All))
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                (p, ct) =>
                {
                    var texts = CliApp.Texts(p, text, input, "translate", "source");
                    var beams = beam.Read(p);
                    using var pipeline = TranslationPipeline.Load(p.GetValue(model)!);
                    var outputs = pipeline.Translate(texts, p.GetValue(maxNew), beams, ct);
                    if (p.GetValue(CliApp.JsonOption))
                        ctx.WriteJson(new { decoding = beams is null ? "greedy" : $"beam {beams.NumBeams}", outputs });
                    else
                        foreach (var o in outputs)
                            ctx.Out.WriteLine(beams is null || beams.NumReturnSequences == 1 ? o.Text : $"{o.Text}\t{o.Score:F4}");
                    return Task.FromResult(0);
                }
            )
        );
        return cmd;
    }
}
