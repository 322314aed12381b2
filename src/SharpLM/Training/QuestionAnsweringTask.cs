using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Models;
using SharpLM.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>
/// Fine-tunes <see cref="BertQuestionAnswering"/> on SQuAD questions: every window of every training question is an
/// example whose targets are the answer's start and end tokens ([CLS] when the answer is not wholly inside the window
/// or the question has none); the loss is the mean of the two cross-entropies. Windows are visited in a seeded shuffle
/// per epoch, so training resumes exactly. Evaluation answers the validation questions and reports the window loss,
/// exact match and F1 as the official SQuAD script computes them. The task owns (and disposes) the model.
/// </summary>
public sealed class QuestionAnsweringTask : ITrainingTask
{
    readonly IReadOnlyList<QaWindow> _train;
    readonly IReadOnlyList<SquadQuestion> _val;
    readonly bool _version2;
    readonly EpochShuffle _shuffle;
    public BertQuestionAnswering Reader { get; }
    public Tokenizer Tokenizer { get; }
    public QaSettings Settings { get; }
    public TrainOptions Options { get; }
    public IModelConfig ModelConfig => Reader.ModelConfig;
    public nn.Module Model => Reader.Module;

    /// <summary>
    /// A task on training windows (<see cref="Windows"/> of the training questions, made with <paramref name="settings"/>)
    /// and validation questions.
    /// </summary>
    public QuestionAnsweringTask(
        IReadOnlyList<QaWindow> train,
        IReadOnlyList<SquadQuestion> val,
        bool version2,
        Tokenizer tokenizer,
        BertQuestionAnswering reader,
        QaSettings settings,
        TrainOptions options,
        FineTuneOptions f
    )
    {
        Options = options.Validate();
        Tokenizer = tokenizer;
        Reader = reader;
        try
        {
            Settings = settings.For(reader);
            f.Freeze(reader);
            if (train.Any(w => w.Ids.Length > Settings.MaxLength))
                throw new ArgumentException("The training windows are longer than the model's input.", nameof(train));
            _train = train;
            _val = val;
            _version2 = version2;
            _shuffle = new EpochShuffle(_train.Count, Options.Seed, 0x5A0D);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The labelled windows of <paramref name="questions"/>: the examples a task trains on.</summary>
    public static List<QaWindow> Windows(IReadOnlyList<SquadQuestion> questions, Tokenizer tokenizer, QaSettings settings)
    {
        var windows = settings.Windows(tokenizer);
        return questions.AsParallel().AsOrdered().SelectMany((q, i) => windows.Encode(q, i, labelled: true)).ToList();
    }

    public MicroBatch MicroBatchLoss(int step, int micro)
    {
        var picked = _shuffle.Batch(step, micro, Options).Select(i => _train[i]).ToArray();
        var (ids, attend, segments) = QuestionAnsweringEvaluator.Pad(picked, Reader.PadId);
        var (start, end) = Reader.forward(ids, attend, segments);
        return new MicroBatch(QuestionAnsweringEvaluator.Loss(start, end, picked), picked.Sum(w => (long)w.Ids.Length));
    }

    public bool SupportsDataParallel => true;

    public EvalResult Evaluate(CancellationToken ct)
    {
        var (answers, loss) = QuestionAnsweringEvaluator.Answer(Reader, Tokenizer, _val, Settings, Options.BatchSize, ct);
        var report = QuestionAnsweringEvaluator.Report(
            _val,
            answers.Select(a => QuestionAnsweringEvaluator.Prediction(a, _version2, Settings.NullScoreThreshold)).ToArray(),
            _version2
        );
        return new EvalResult(loss, new Dictionary<string, double> { ["exact"] = report.Exact, ["f1"] = report.F1 });
    }

    public void SaveWeights(string path) => Reader.SaveWeights(path);

    public void LoadWeights(string path) => Reader.LoadWeights(path);

    public void WriteRunFiles(RunFolder run)
    {
        (Reader.Config with { QaWindows = Settings.ToConfig() }).Save(run.Config);
        Tokenizer.Save(run.Tokenizer);
    }

    public void Dispose() => Reader.Dispose();
}
