using SharpLM.Catalogue;
using SharpLM.Evaluation;
using SharpLM.Models;
using SharpLM.Tokenization;
using SharpLM.Training;
using static TorchSharp.torch;

namespace SharpLM.Kinds;

/// <summary>
/// One kind of model SharpLM knows (a GPT language model, a masked-LM BERT, a classifier…): how to recognise its run
/// folder, build and train it, load it and evaluate it. Everything that depends on the kind goes through here; adding
/// a kind is one subclass and one <see cref="ModelRegistry.Register"/>.
/// </summary>
public abstract class ModelKind
{
    /// <summary>A short stable name, e.g. "gpt2-lm".</summary>
    public abstract string Name { get; }

    /// <summary>For people, e.g. "GPT language model".</summary>
    public abstract string Description { get; }

    /// <summary>The pipeline task a loaded model of this kind serves: "text-generation", "fill-mask", "text-classification".</summary>
    public abstract string Task { get; }

    /// <summary>The pretraining objective that trains this kind from prepared shards ("lm", "mlm"), or null.</summary>
    public virtual string? Objective => null;

    /// <summary>Among the kinds of one objective, the name that picks this one ("gpt", "lstm"); null for the objective's default.</summary>
    public virtual string? ModelName => null;

    /// <summary>The classifier kind that fine-tunes this kind's body (itself for a classifier), or null.</summary>
    public virtual ClassifierKind? Classifier => null;

    /// <summary>Whether a run's config.json describes this kind.</summary>
    public abstract bool Recognises(ModelConfigFile.Summary config);

    /// <summary>
    /// A pretraining task on prepared shards (<paramref name="dataDir"/>; resuming, null means the run's own): a new model
    /// of <paramref name="shape"/>, or (resuming) the model that <paramref name="existing"/> describes in its config.json.
    /// </summary>
    public virtual ITrainingTask CreatePretrainingTask(string? dataDir, ModelShape? shape, RunFolder? existing, TrainOptions options) =>
        throw new SharpLMException(
            $"A {Description} is not pretrained on prepared "
                + $"shards{(Classifier == this ? "; classifiers are trained by fine-tuning, which starts over (it has no resume)" : "")}."
        );

    /// <summary>The data folder of a pretraining task: the one given, else (resuming) the one the run recorded.</summary>
    protected static string DataFolder(string? dataDir, RunFolder? existing) =>
        dataDir ?? existing?.DataDir() ?? throw new ArgumentNullException(nameof(dataDir), "A new run needs a data folder.");

    /// <summary>Loads the run's best weights (eval mode) and tokenizer.</summary>
    public abstract LoadedModel Load(RunFolder run);

    /// <summary>The kind's own evaluation of a loaded run (loss and perplexity for a language model, a report for a classifier…).</summary>
    public abstract EvaluationOutcome Evaluate(
        LoadedModel model,
        EvaluationRequest request,
        IProgress<(int Done, int Total)>? progress = null,
        CancellationToken ct = default
    );

    /// <summary>A one-line error naming the run, for loaders.</summary>
    protected static void RequireWeights(RunFolder run)
    {
        if (!Directory.Exists(run.Path))
            throw new SharpLMException($"Run folder {run.Path} does not exist; train one first.");
        run.RequireWeights();
    }

    /// <summary>
    /// Loads <paramref name="model"/>'s best weights with <paramref name="loadWeights"/> and puts it in eval mode, with the
    /// run's tokenizer checked against <paramref name="vocabulary"/>; disposes the model if anything fails.
    /// </summary>
    protected LoadedModel Loaded(RunFolder run, nn.Module model, int vocabulary, Action<string> loadWeights, IModelConfig? config = null)
    {
        try
        {
            var tokenizer = RunTokenizer(run, vocabulary);
            loadWeights(run.Weights);
            model.eval();
            return new LoadedModel(this, run, model, tokenizer, config);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Loads a pretrained run's body weights into a new task model (disposed again if they do not fit).</summary>
    protected static T WithPretrainedBody<T>(T model, RunFolder pretrained)
        where T : ITaskModel
    {
        try
        {
            model.LoadPretrainedBody(pretrained.Weights);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>A pretrained BERT's config as a task model's body: its dropout and input limit set, its head's labels cleared.</summary>
    protected static BertConfig BertBody(RunFolder pretrained, int maxInputTokens, double dropout)
    {
        var body = BertConfig.Load(pretrained.Config);
        if (maxInputTokens > body.MaxPositionEmbeddings)
            throw new SharpLMException(
                $"block_size {maxInputTokens} is longer than the pretrained model's context ({body.MaxPositionEmbeddings} positions)."
            );
        return body.WithDropout(dropout) with { MaxInputTokens = maxInputTokens, Id2Label = null };
    }

    /// <summary>A pretrained GPT's config as a task model's body, checked against the input limit and the tokenizer.</summary>
    protected static GptConfig GptBody(RunFolder pretrained, Tokenizer tokenizer, int maxInputTokens, double dropout)
    {
        var body = GptConfig.Load(pretrained.Config);
        if (maxInputTokens > body.NPositions)
            throw new SharpLMException(
                $"block_size {maxInputTokens} is longer than the pretrained model's context ({body.NPositions} positions)."
            );
        if (tokenizer.VocabSize > body.VocabSize)
            throw new SharpLMException(
                $"The tokenizer has {tokenizer.VocabSize} tokens but the pretrained model only {body.VocabSize}; fine-tune with the "
                    + "run's own tokenizer."
            );
        return body.WithDropout(dropout) with { MaxInputTokens = maxInputTokens, Id2Label = null };
    }

    /// <summary>The run's tokenizer, checked against the model's vocabulary.</summary>
    protected static Tokenizer RunTokenizer(RunFolder run, int modelVocabulary)
    {
        var tokenizer = ModelFolderTokenizer.Load(run.Path);
        if (tokenizer.VocabSize > modelVocabulary)
            throw new SharpLMException(
                $"{run.Path}'s tokenizer has {tokenizer.VocabSize} tokens but the model only {modelVocabulary}; the files come from "
                    + "different "
                    + "runs."
            );
        return tokenizer;
    }

    public override string ToString() => Name;
}

/// <summary>A kind that is a sequence classifier on a pretrained body ("bert" or "gpt2").</summary>
public abstract class ClassifierKind : ModelKind
{
    /// <summary>The body's name as fine-tuning's architecture option gives it.</summary>
    public abstract string Architecture { get; }

    /// <summary>Other names accepted for <see cref="Architecture"/> ("gpt" for "gpt2").</summary>
    public virtual IReadOnlyList<string> Aliases => [];

    /// <summary>The tokenizer a classifier trained from scratch uses unless told otherwise.</summary>
    public abstract string DefaultTokenizer { get; }
    public override string Task => "text-classification";
    public override ClassifierKind? Classifier => this;

    /// <summary>
    /// A new classifier (torch's global generator) of <paramref name="shape"/> for <paramref name="tokenizer"/>; texts cut at
    /// shape.Context.
    /// </summary>
    public abstract ISequenceClassifier Create(ModelShape shape, Tokenizer tokenizer, string[] labels);

    /// <summary>
    /// A classifier on a pretrained run's body (its config, its body weights, a new head); texts cut at
    /// <paramref name="maxInputTokens"/>, body dropout <paramref name="dropout"/>.
    /// </summary>
    public abstract ISequenceClassifier CreateFrom(
        RunFolder pretrained,
        Tokenizer tokenizer,
        string[] labels,
        int maxInputTokens,
        double dropout
    );
}

/// <summary>
/// A run's model, loaded: best weights in eval mode, its tokenizer, kind and (when the kind gives it) config. Disposing
/// frees the model.
/// </summary>
public sealed class LoadedModel(ModelKind kind, RunFolder run, nn.Module module, Tokenizer tokenizer, IModelConfig? config = null)
    : IDisposable
{
    public ModelKind Kind { get; } = kind;
    public IModelConfig? Config { get; } = config;
    public RunFolder Run { get; } = run;
    public nn.Module Module { get; } = module;
    public Tokenizer Tokenizer { get; } = tokenizer;
    public long Parameters => Module.parameters().Sum(p => p.numel());

    /// <summary>
    /// The model as <typeparamref name="T"/> (Gpt, BertForMaskedLm, ISequenceClassifier…), or a one-line error saying what it is.
    /// </summary>
    public T As<T>(string purpose)
        where T : class =>
        Module as T ?? throw new SharpLMException($"{Run.Path} holds a {Kind.Description}, which cannot be used for {purpose}.");

    /// <summary>Computes in <paramref name="precision"/> from now on (bf16: GPT language models), or a one-line refusal.</summary>
    public void UsePrecision(Models.Layers.Precision precision) => Models.Layers.MixedPrecision.Apply(Module, precision);

    public void Dispose() => Module.Dispose();
}

/// <summary>
/// What to evaluate a run on. Unset fields take the kind's default (the data the run was trained on; the validation or test part).
/// </summary>
public sealed record EvaluationRequest
{
    /// <summary>A prepared data folder (language models) or labelled data (classifiers); null: the run's own.</summary>
    public string? Data { get; init; }

    /// <summary>"train", "val" or "test" (classifiers' recorded split).</summary>
    public string? Split { get; init; }
    public int BatchSize { get; init; } = 16;

    /// <summary>Evaluate only the first N windows (language models).</summary>
    public int? MaxWindows { get; init; }
    public string TextColumn { get; init; } = "text";
    public string LabelColumn { get; init; } = "label";

    /// <summary>Pair files (sequence-to-sequence runs): the source and target columns or fields.</summary>
    public string SourceColumn { get; init; } = "source";
    public string TargetColumn { get; init; } = "target";

    /// <summary>Sequence-to-sequence runs: decode with this many beams (null: greedy).</summary>
    public int? NumBeams { get; init; }
    public DataCatalogClient? Catalog { get; init; }
}

/// <summary>An evaluation's result: the object a JSON front end prints, tables for people, and a line saying what was scored.</summary>
public sealed record EvaluationOutcome(object Result, IReadOnlyList<ReportTable> Tables, string? Note = null);
