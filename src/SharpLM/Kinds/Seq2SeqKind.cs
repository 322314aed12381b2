using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Evaluation.TextMetrics;
using SharpLM.Generation;
using SharpLM.Models;
using SharpLM.Training;

namespace SharpLM.Kinds;

/// <summary>An encoder–decoder Transformer (BART/mBART layout) trained on text pairs by finetune --task seq2seq.</summary>
public sealed class Seq2SeqKind : ModelKind
{
    public override string Name => "seq2seq";
    public override string Description => "encoder–decoder Transformer";
    public override string Task => "translation";

    public override bool Recognises(ModelConfigFile.Summary c) => c.ModelType is "bart" or "mbart";

    public override LoadedModel Load(RunFolder run)
    {
        RequireWeights(run);
        var config = Seq2SeqConfig.Load(run.Config);
        var model = new Seq2SeqTransformer(config);
        return Loaded(run, model, config.VocabSize, model.LoadWeights, config);
    }

    static string Resolve(string data, EvaluationRequest r) =>
        r.Catalog is null ? data : ParallelDataSource.ResolveAsync(data, r.Catalog).GetAwaiter().GetResult();

    /// <summary>
    /// Outputs (greedy, or beam search) for the pairs of a split (default test) or of a pair file, scored by BLEU, chrF and
    /// error rates.
    /// </summary>
    public override EvaluationOutcome Evaluate(
        LoadedModel loaded,
        EvaluationRequest r,
        IProgress<(int Done, int Total)>? progress = null,
        CancellationToken ct = default
    )
    {
        var model = loaded.As<Seq2SeqTransformer>("sequence-to-sequence evaluation");
        var (pairs, source) = r.Data is string file
            ? (ParallelData.Load(Resolve(file, r), r.SourceColumn, r.TargetColumn), file)
            : ParallelSplit.Part(loaded.Run.Path, r.Split ?? "test");
        if (pairs.Count == 0)
            throw new SharpLMException($"{source} has no pairs to evaluate.");
        var generator = new Seq2SeqGenerator(model, loaded.Tokenizer);
        var beams = r.NumBeams is int k ? new BeamSearchOptions { NumBeams = k } : null;
        string decoding = beams is null ? "greedy" : $"beam {beams.NumBeams}";
        var report = Score(generator, pairs, r.BatchSize, beams, progress, ct);
        return new EvaluationOutcome(
            new
            {
                model = loaded.Run.Path,
                data = source,
                decoding,
                report,
            },
            [report.ToTable()],
            $"{decoding} outputs for {source}"
        );
    }

    /// <summary>
    /// Each pair's best output (greedy, or the best beam), <paramref name="batchSize"/> sources at a time, scored against
    /// the targets by BLEU, chrF and error rates.
    /// </summary>
    public static TranslationReport Score(
        Seq2SeqGenerator generator,
        IReadOnlyList<TextPair> pairs,
        int batchSize,
        BeamSearchOptions? beams = null,
        IProgress<(int Done, int Total)>? progress = null,
        CancellationToken ct = default
    )
    {
        var best = beams is null ? null : beams with { NumReturnSequences = 1 };
        var outputs = new List<string>(pairs.Count);
        for (int i = 0; i < pairs.Count; i += batchSize)
        {
            var sources = pairs.Skip(i).Take(batchSize).Select(p => p.Source).ToList();
            outputs.AddRange(generator.Generate(sources, generator.MaxNewTokens, best, ct: ct).Select(o => o.Text));
            progress?.Report((Math.Min(i + batchSize, pairs.Count), pairs.Count));
        }
        return TranslationReport.Score(outputs, pairs.Select(p => p.Target).ToList());
    }
}
