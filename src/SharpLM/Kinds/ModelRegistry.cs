using SharpLM.Models;
using SharpLM.Training;

namespace SharpLM.Kinds;

/// <summary>
/// The model kinds SharpLM knows. A run folder's kind is read from its config.json (model_type, architectures, labels);
/// training objectives and fine-tuning architectures name kinds too. Nothing else in SharpLM decides by kind.
/// </summary>
public static class ModelRegistry
{
    static readonly List<ModelKind> Known =
    [
        new GptLanguageModelKind(),
        new BertMaskedLanguageModelKind(),
        new BertClassifierKind(),
        new GptClassifierKind(),
        new Seq2SeqKind(),
        new MlpClassifierKind(),
        new BiLstmClassifierKind(),
        new LstmLanguageModelKind(),
        new BertTokenClassifierKind(),
        new GptTokenClassifierKind(),
        new BertQuestionAnsweringKind(),
    ];

    public static IReadOnlyList<ModelKind> Kinds
    {
        get
        {
            lock (Known)
                return Known.ToArray();
        }
    }

    /// <summary>Adds a kind (a later one is asked first, so it may take over a config an earlier one would claim).</summary>
    public static void Register(ModelKind kind)
    {
        lock (Known)
        {
            if (Known.Any(k => k.Name == kind.Name))
                throw new ArgumentException($"A model kind named '{kind.Name}' is already registered.", nameof(kind));
            Known.Insert(0, kind);
        }
    }

    /// <summary>The kind of the model in a run folder, from its config.json.</summary>
    public static ModelKind ForRun(RunFolder run)
    {
        if (!Directory.Exists(run.Path))
            throw new SharpLMException($"Run folder {run.Path} does not exist; train one first.");
        var summary = ModelConfigFile.ReadSummary(run.Config);
        if (summary.ModelType.Length == 0)
            throw new SharpLMException(
                $"{run.Config} has no model_type (every SharpLM and Hugging Face config names one, e.g. gpt2 or bert); the file is "
                    + "damaged or not a model config."
            );
        return Kinds.FirstOrDefault(k => k.Recognises(summary))
            ?? throw new SharpLMException(
                $"{run.Path} holds a '{summary.ModelType}' model ({string.Join(", ", summary.Architectures)}), which SharpLM does not "
                    + $"know; known kinds: {string.Join(", ", Kinds.Select(k => k.Description))}."
            );
    }

    /// <summary>
    /// The kind a pretraining objective trains ("lm", "mlm"): the one called <paramref name="model"/> ("gpt", "lstm"), or the
    /// objective's first kind.
    /// </summary>
    public static ModelKind ForObjective(string objective, string? model = null)
    {
        var kinds = Kinds.Where(k => string.Equals(k.Objective, objective, StringComparison.OrdinalIgnoreCase)).ToList();
        if (model is not null && kinds.Count > 0)
            return kinds.FirstOrDefault(k => string.Equals(k.ModelName, model, StringComparison.OrdinalIgnoreCase))
                ?? throw new SharpLMException(
                    $"Objective '{objective}' trains {string.Join(" or ", kinds.Select(k => k.ModelName ?? k.Name))}, not '{model}'."
                );
        return ForObjectiveDefault(objective);
    }

    static ModelKind ForObjectiveDefault(string objective) =>
        Kinds.FirstOrDefault(k => string.Equals(k.Objective, objective, StringComparison.OrdinalIgnoreCase))
        ?? throw new SharpLMException(
            $"Training objective '{objective}' is not one of "
                + $"{string.Join(", ", Kinds.Where(k => k.Objective != null).Select(k => $"{k.Objective} ({k.Description})"))}."
        );

    /// <summary>The classifier built on a named body ("bert", "gpt2") when fine-tuning from scratch.</summary>
    public static ClassifierKind ClassifierFor(string architecture) =>
        Kinds
            .OfType<ClassifierKind>()
            .FirstOrDefault(k =>
                string.Equals(k.Architecture, architecture, StringComparison.OrdinalIgnoreCase)
                || k.Aliases.Contains(architecture, StringComparer.OrdinalIgnoreCase)
            )
        ?? throw new SharpLMException(
            $"Unknown architecture '{architecture}'; use one of "
                + $"{string.Join(", ", Kinds.OfType<ClassifierKind>().Select(k => k.Architecture))}."
        );

    /// <summary>
    /// The kind with a per-token head of <paramref name="task"/> ("token-classification", "question-answering") on a body.
    /// </summary>
    public static TaskHeadKind TaskHeadFor(string task, string architecture)
    {
        var kinds = Kinds.OfType<TaskHeadKind>().Where(k => k.Task == task).ToList();
        return kinds.FirstOrDefault(k =>
                string.Equals(k.Architecture, architecture, StringComparison.OrdinalIgnoreCase)
                || (architecture == "gpt" && k.Architecture == "gpt2")
            )
            ?? throw new SharpLMException(
                $"{task} is built on {string.Join(" or ", kinds.Select(k => k.Architecture))}, not '{architecture}'."
            );
    }

    /// <summary>Loads the model in a run folder (best weights, eval mode) with its tokenizer.</summary>
    public static LoadedModel Load(string path)
    {
        var run = new RunFolder(path);
        return ForRun(run).Load(run);
    }
}
