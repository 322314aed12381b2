using SharpLM.Kinds;

namespace SharpLM.Pipelines;

/// <summary>
/// Inference on a run folder, the way Hugging Face users think of it: a pipeline per task, made from a run.
/// Pipelines are safe to call from several threads (calls on one pipeline take turns on its model).
/// </summary>
public interface IPipeline : IDisposable
{
    /// <summary>
    /// "text-generation", "fill-mask", "text-classification", "feature-extraction", "translation", "token-classification",
    /// "question-answering".
    /// </summary>
    string Task { get; }
    LoadedModel Model { get; }
}

public static class Pipeline
{
    static readonly Dictionary<string, Func<LoadedModel, IPipeline>> Factories = new(StringComparer.Ordinal)
    {
        ["text-generation"] = m => new TextGenerationPipeline(m),
        ["fill-mask"] = m => new FillMaskPipeline(m),
        ["text-classification"] = m => new TextClassificationPipeline(m),
        ["feature-extraction"] = m => new FeatureExtractionPipeline(m),
        ["translation"] = m => new TranslationPipeline(m),
        ["token-classification"] = m => new TokenClassificationPipeline(m),
        ["question-answering"] = m => new QuestionAnsweringPipeline(m),
    };

    /// <summary>Adds the pipeline for a new task (a kind whose <see cref="ModelKind.Task"/> names it).</summary>
    public static void Register(string task, Func<LoadedModel, IPipeline> factory)
    {
        lock (Factories)
            Factories[task] = factory;
    }

    /// <summary>Loads a run folder and returns the pipeline for its model's task.</summary>
    public static IPipeline Load(string path)
    {
        var model = ModelRegistry.Load(path);
        Func<LoadedModel, IPipeline>? factory;
        lock (Factories)
            Factories.TryGetValue(model.Kind.Task, out factory);
        if (factory is null)
        {
            model.Dispose();
            throw new SharpLMException($"{path} holds a {model.Kind.Description}, whose task '{model.Kind.Task}' has no pipeline.");
        }
        return factory(model);
    }
}
