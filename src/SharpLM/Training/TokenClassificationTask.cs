using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Evaluation.TaskMetrics;
using SharpLM.Models;
using SharpLM.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>
/// Fine-tunes a token classifier (<see cref="BertTokenClassifier"/> or <see cref="GptTokenClassifier"/>) on tagged
/// sentences: each word's first sub-word carries its tag, the other sub-words and the specials are left out of the loss
/// (Hugging Face's recipe). Sentences are visited in a seeded shuffle per epoch, so training resumes exactly.
/// Evaluation reports the loss and seqeval's (default mode) micro precision, recall and F1 on the validation sentences.
/// The task owns (and disposes) the model.
/// </summary>
public sealed class TokenClassificationTask : ITrainingTask
{
    readonly TaggedInput[] _train,
        _val;
    readonly IReadOnlyList<TaggedSentence> _valSentences;
    readonly EpochShuffle _shuffle;
    public ITokenClassifier Tagger { get; }
    public Tokenizer Tokenizer { get; }
    public TrainOptions Options { get; }
    public IModelConfig ModelConfig => Tagger.ModelConfig;
    public nn.Module Model => Tagger.Module;

    public TokenClassificationTask(
        IReadOnlyList<TaggedSentence> train,
        IReadOnlyList<TaggedSentence> val,
        Tokenizer tokenizer,
        ITokenClassifier tagger,
        TrainOptions options,
        FineTuneOptions f
    )
    {
        Options = options.Validate();
        Tokenizer = tokenizer;
        Tagger = tagger;
        try
        {
            // A tag only the validation sentences use stays out of the loss; seqeval counts its entities as missed.
            f.Freeze(tagger);
            _train = TokenClassifierEvaluator.Encode(tagger, tokenizer, train, labelled: true);
            _val = TokenClassifierEvaluator.Encode(tagger, tokenizer, val, labelled: true);
            _valSentences = val;
            _shuffle = new EpochShuffle(_train.Length, Options.Seed, 0x7A66);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The tag set of training sentences: "O" first, then the others in ordinal order (a fixed order for a seed).</summary>
    public static string[] TagSet(IEnumerable<TaggedSentence> sentences)
    {
        var tags = sentences.SelectMany(s => s.Tags).Distinct().Order(StringComparer.Ordinal).ToList();
        if (tags.Remove("O"))
            tags.Insert(0, "O");
        if (tags.Count < 2)
            throw new SharpLMException(
                $"The training sentences use {tags.Count} tag; token classification needs at least two (e.g. O and B-PER)."
            );
        return [.. tags];
    }

    public MicroBatch MicroBatchLoss(int step, int micro)
    {
        var picked = _shuffle.Batch(step, micro, Options).Select(i => _train[i]).ToArray();
        var (ids, attend) = ClassifierEvaluator.Pad(picked.Select(p => p.Ids).ToArray(), Tagger.PadId);
        var labels = TokenClassifierEvaluator.PadLabels(picked);
        var logits = Tagger.TagLogits(ids, attend);
        return new MicroBatch(
            nn.functional.cross_entropy(logits.view(-1, logits.shape[^1]), labels.view(-1), ignore_index: TokenClassifierEvaluator.Ignore),
            picked.Sum(p => (long)p.Ids.Length)
        );
    }

    public bool SupportsDataParallel => true;

    public EvalResult Evaluate(CancellationToken ct)
    {
        var (predicted, loss) = TokenClassifierEvaluator.Predict(Tagger, _val, Options.BatchSize, ct);
        var report = Seqeval.Report(_valSentences.Select(s => s.Tags).ToArray(), predicted);
        return new EvalResult(
            loss,
            new Dictionary<string, double>
            {
                ["precision"] = report.Micro.Precision,
                ["recall"] = report.Micro.Recall,
                ["f1"] = report.Micro.F1,
            }
        );
    }

    public void SaveWeights(string path) => Tagger.SaveWeights(path);

    public void LoadWeights(string path) => Tagger.LoadWeights(path);

    public void WriteRunFiles(RunFolder run)
    {
        Tagger.SaveConfig(run.Config);
        Tokenizer.Save(run.Tokenizer);
    }

    public void Dispose() => Tagger.Dispose();
}
