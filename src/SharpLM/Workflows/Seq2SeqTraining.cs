using System.Text.Json;
using SharpLM.Data;
using SharpLM.Evaluation.TextMetrics;
using SharpLM.Generation;
using SharpLM.IO;
using SharpLM.Kinds;
using SharpLM.Models;
using SharpLM.Tokenization;
using SharpLM.Training;

namespace SharpLM.Workflows;

/// <summary>A sequence-to-sequence training job: pairs, split, tokenizer, model shape and hyperparameters.</summary>
public sealed record Seq2SeqRequest
{
    public required string Data { get; init; }
    public string SourceColumn { get; init; } = "source";
    public string TargetColumn { get; init; } = "target";
    public required string Output { get; init; }
    public double ValFraction { get; init; } = 0.1;
    public double TestFraction { get; init; } = 0.1;

    /// <summary>Seed of the split; null uses the training seed.</summary>
    public int? SplitSeed { get; init; }
    public double Epochs { get; init; } = 10;
    public bool StepsFromEpochs { get; init; } = true;
    public required TrainOptions Training { get; init; }

    /// <summary>
    /// "char" (one token per character of the pairs, the default) or "bpe" (byte-level BPE trained on the training pairs), or a
    /// tokenizer.json with &lt;pad&gt;, &lt;s&gt; and &lt;/s&gt;. Null: "char", or the BERT run's own with <see cref="From"/>.
    /// </summary>
    public string? Tokenizer { get; init; }

    /// <summary>
    /// A BERT run (masked-LM or classifier) whose weights start the encoder; its tokenizer becomes the model's and its shape
    /// the encoder's (see <see cref="Seq2SeqConfig.WithBertEncoder"/>). Null trains from scratch.
    /// </summary>
    public string? From { get; init; }

    /// <summary>Vocabulary size of a BPE tokenizer trained on the pairs.</summary>
    public int VocabSize { get; init; } = 4000;

    /// <summary>The model's shape; vocab_size and the special ids come from the tokenizer.</summary>
    public Seq2SeqConfig Model { get; init; } = new();
    public double LabelSmoothing { get; init; } = 0.1;

    /// <summary>Decoding for the test report: greedy when null.</summary>
    public BeamSearchOptions? TestBeams { get; init; }
    public bool Overwrite { get; init; }
}

public sealed record Seq2SeqResult(
    string Run,
    int TrainPairs,
    int ValPairs,
    int TestPairs,
    TrainingResult Training,
    TranslationReport? Test,
    string Decoding
);

/// <summary>
/// Trains an encoder–decoder on text pairs: a seeded train/validation/test split, a tokenizer (characters or BPE from the
/// training pairs, with &lt;pad&gt; &lt;s&gt; &lt;/s&gt;), teacher-forced training with label smoothing, then the best weights decode the
/// test pairs for BLEU, chrF and error rates.
/// </summary>
public static class Seq2SeqTraining
{
    public static Tokenizer BuildTokenizer(string spec, IEnumerable<string> texts, int vocabSize)
    {
        string[] specials = [Seq2SeqTokens.Pad, Seq2SeqTokens.Start, Seq2SeqTokens.End];
        switch (spec)
        {
            case "char":
                var chars = CharTokenizer.FromTexts(texts);
                int n = chars.Characters.Count;
                return new CharTokenizer(chars.Characters, specials.Select((s, i) => new AddedToken(n + i, s, true)));
            case "bpe":
                return TokenizerTrainer.TrainBpe(texts, new TokenizerTrainingOptions { VocabSize = vocabSize, SpecialTokens = specials });
            default:
                var tokenizer = TokenizerJson.Load(spec);
                Seq2SeqTokens.Ids(tokenizer);
                return tokenizer;
        }
    }

    public static Seq2SeqResult Run(Seq2SeqRequest r, IProgress<TrainingProgress>? progress = null, CancellationToken ct = default)
    {
        OutputFolder.Inspect(r.Output, FolderKind.Run);
        var pairs = ParallelData.Load(r.Data, r.SourceColumn, r.TargetColumn);
        int splitSeed = r.SplitSeed ?? r.Training.Seed;
        var (trainIdx, valIdx, testIdx) = ParallelSplit.Make(pairs.Count, r.ValFraction, r.TestFraction, splitSeed);
        if (trainIdx.Length == 0)
            throw new SharpLMException($"The split leaves no training pairs out of {pairs.Count}; use more pairs or smaller fractions.");
        var train = trainIdx.Select(i => pairs[i]).ToList();
        var val = valIdx.Select(i => pairs[i]).ToList();
        // A character vocabulary covers every pair's characters (else a test pair could hold one it cannot encode);
        // BPE learns from the training pairs only, and its bytes cover any text.
        BertConfig? bert = null;
        Tokenizer tokenizer;
        if (r.From is string from)
        {
            (bert, tokenizer) = PretrainedEncoder(from, r.Tokenizer);
            if (tokenizer.VocabSize != bert.VocabSize)
                throw new SharpLMException(
                    $"{from}: its tokenizer has {tokenizer.VocabSize} tokens but its model vocab_size is {bert.VocabSize}; "
                        + "the run is damaged."
                );
        }
        else
        {
            string spec = r.Tokenizer ?? "char";
            var vocabularyTexts = (spec == "char" ? pairs : train).SelectMany(p => new[] { p.Source, p.Target });
            tokenizer = BuildTokenizer(spec, vocabularyTexts, r.VocabSize);
        }
        var (pad, start, end) = Seq2SeqTokens.Ids(tokenizer);
        int longest = pairs.Max(p => Math.Max(SafeCount(tokenizer, p.Source), SafeCount(tokenizer, p.Target))) + 2;
        var config = (
            (bert is null ? r.Model : r.Model.WithBertEncoder(bert)) with
            {
                VocabSize = tokenizer.VocabSize,
                PadTokenId = pad,
                BosTokenId = start,
                EosTokenId = end,
                DecoderStartTokenId = start,
                MaxPositionEmbeddings = Math.Min(r.Model.MaxPositionEmbeddings, Math.Max(8, longest)),
            }
        )
            .WithLayout()
            .Validate();

        var o = r.Training;
        if (r.StepsFromEpochs)
            o = o with { MaxSteps = Math.Max(1, (int)Math.Ceiling(r.Epochs * train.Count / (double)(o.BatchSize * o.GradAccumulation))) };
        o.Validate();
        var run = new RunFolder(r.Output);
        using var locked = run.Lock("sequence-to-sequence training");
        if (r.Overwrite)
            run.Clear();
        TorchSharp.torch.manual_seed(o.Seed);
        TrainingResult trained;
        var model = new Seq2SeqTransformer(config);
        try
        {
            if (r.From is string pretrained)
                model.LoadBertEncoder(new RunFolder(pretrained).Weights);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        using (var task = new Seq2SeqTask(train, val, tokenizer, model, o, r.LabelSmoothing))
            trained = Trainer.Train(task, run, resume: false, progress, ct);
        new ParallelSplit(Path.GetFullPath(r.Data), r.SourceColumn, r.TargetColumn, splitSeed, trainIdx, valIdx, testIdx).Save(run.Path);

        TranslationReport? report = null;
        if (testIdx.Length > 0)
        {
            using var loaded = ModelRegistry.Load(run.Path);
            var generator = new Seq2SeqGenerator(loaded.As<Seq2SeqTransformer>("translation"), loaded.Tokenizer);
            report = Seq2SeqKind.Score(generator, testIdx.Select(i => pairs[i]).ToList(), o.BatchSize, r.TestBeams, ct: ct);
        }
        string decoding = r.TestBeams is null ? "greedy" : $"beam {r.TestBeams.NumBeams}";
        var result = new Seq2SeqResult(run.Path, train.Count, val.Count, testIdx.Length, trained, report, decoding);
        AtomicFile.WriteAllText(Path.Combine(run.Path, "test_report.json"), JsonSerializer.Serialize(result, Json.Indented));
        return result;
    }

    /// <summary>The config of the BERT run an encoder starts from, or a one-line error when the run is not a finished BERT run.</summary>
    public static BertConfig EncoderConfig(string from)
    {
        var folder = new RunFolder(from);
        var kind = ModelRegistry.ForRun(folder);
        if (ModelConfigFile.ReadSummary(folder.Config).ModelType != "bert")
            throw new SharpLMException(
                $"{from} holds a {kind.Description}; the encoder can start only from a BERT run (sharplm train --objective mlm)."
            );
        folder.RequireWeights();
        if (!ModelFolderTokenizer.Exists(folder.Path))
            throw new SharpLMException($"{from} has no tokenizer (tokenizer.json or vocab.txt); it did not finish training.");
        return BertConfig.Load(folder.Config);
    }

    /// <summary>The BERT run an encoder starts from: its config and its tokenizer (which must have [PAD], [CLS], [SEP]).</summary>
    static (BertConfig Config, Tokenizer Tokenizer) PretrainedEncoder(string from, string? tokenizerSpec)
    {
        if (tokenizerSpec is not null)
            throw new SharpLMException($"A tokenizer applies when training from scratch; {from} brings its own.");
        var config = EncoderConfig(from);
        var tokenizer = ModelFolderTokenizer.Load(new RunFolder(from).Path);
        Seq2SeqTokens.Ids(tokenizer);
        return (config, tokenizer);
    }

    /// <summary>
    /// Token count of a text, or its length in characters when the tokenizer cannot encode it (then it fails later with its own
    /// message).
    /// </summary>
    static int SafeCount(Tokenizer tokenizer, string text)
    {
        try
        {
            return tokenizer.Encode(text).Length;
        }
        catch (SharpLMException)
        {
            return text.Length;
        }
    }
}
