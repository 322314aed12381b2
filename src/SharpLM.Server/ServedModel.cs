using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLM.Generation;
using SharpLM.Kinds;
using SharpLM.Pipelines;
using SharpLM.Serving;
using SharpLM.Training;

namespace SharpLM.Server;

/// <summary>
/// One served run: its id, what it can do (a generation engine for a GPT language model, a classifier, fill-mask; text
/// features for every transformer) and a card of what its run folder says about it.
/// </summary>
public sealed class ServedModel : IDisposable
{
    readonly Lazy<FeatureExtractionPipeline> _features;

    public string Id { get; }
    public LoadedModel Model { get; }
    public DateTimeOffset Created { get; }
    public GenerationEngine? Engine { get; }

    /// <summary>Null when chat is refused ("none", or a model that does not generate).</summary>
    public ChatTemplate? Template { get; }
    public TextClassificationPipeline? Classifier { get; }
    public FillMaskPipeline? FillMask { get; }
    public FeatureExtractionPipeline Features => _features.Value;
    public JsonObject Card { get; }

    ServedModel(ServedModelSpec spec, ServerOptions o, SafetyFilter? safety, ServerMetrics metrics)
    {
        Id = spec.Id;
        var run = new RunFolder(spec.Path);
        Model = ModelRegistry.Load(spec.Path);
        if (Model.Module is Models.IMixedPrecision)
            Model.UsePrecision(o.Precision);
        Created = Directory.GetCreationTimeUtc(run.Path);
        switch (Model.Kind.Task)
        {
            case "text-generation":
                Engine = new GenerationEngine(
                    Model,
                    new EngineOptions
                    {
                        MaxBatch = o.MaxBatch,
                        MaxQueue = o.MaxQueue,
                        Safety = safety,
                        Observer = metrics.For(Id),
                    }
                );
                Template = ChatTemplate.Resolve(o.ChatTemplate, Model.Tokenizer);
                break;
            case "text-classification":
                Classifier = new TextClassificationPipeline(Model);
                break;
            case "fill-mask":
                FillMask = new FillMaskPipeline(Model);
                break;
        }
        // A generating model's weights belong to its engine thread: features use a copy of their own, loaded when asked for.
        _features = new(() => Engine is null ? new FeatureExtractionPipeline(Model) : FeatureExtractionPipeline.Load(spec.Path));
        Card = BuildCard(run);
    }

    public static ServedModel Load(ServedModelSpec spec, ServerOptions o, SafetyFilter? safety, ServerMetrics metrics) =>
        new(spec, o, safety, metrics);

    public int Context =>
        Model.Module switch
        {
            Models.IHiddenStates h => h.MaxInput,
            _ => 0,
        };

    /// <summary>What /v1/models and the playground show: kind, task, size, training data and results, from the run folder.</summary>
    JsonObject BuildCard(RunFolder run)
    {
        var card = new JsonObject
        {
            ["kind"] = Model.Kind.Name,
            ["description"] = Model.Kind.Description,
            ["architecture"] = Model.Config?.Describe(),
            ["task"] = Model.Kind.Task,
            ["parameters"] = Model.Parameters,
            ["precision"] = Model.Module is Models.IMixedPrecision mixed ? Models.Layers.MixedPrecision.Name(mixed.Precision) : "fp32",
            ["context"] = Context,
            ["chat_template"] = Template?.Name,
            ["has_loss_plot"] = File.Exists(run.Plot),
        };
        if (Classifier is not null)
            card["labels"] = new JsonArray(Classifier.Labels.Select(l => (JsonNode)l).ToArray());
        if (File.Exists(run.Data))
            card["training_data"] = File.ReadAllText(run.Data).Trim();
        JsonNode? Read(string file)
        {
            try
            {
                return File.Exists(file) ? JsonNode.Parse(File.ReadAllText(file)) : null;
            }
            catch (JsonException)
            {
                return null;
            }
        }
        if (Read(run.Metrics) is JsonObject metrics)
        {
            card["steps"] = metrics["steps"]?.DeepClone();
            card["best_val_loss"] = metrics["bestValLoss"]?.DeepClone();
            card["val_metrics"] = metrics["lastEval"]?["metrics"]?.DeepClone();
        }
        if (Read(Path.Combine(run.Path, "test_report.json")) is JsonObject report)
        {
            card["test_accuracy"] = report["test"]?["accuracy"]?.DeepClone();
            card["test_macro_f1"] = report["test"]?["macro"]?["f1"]?.DeepClone();
            card["training_data"] ??= Read(Path.Combine(run.Path, "split.json"))?["data"]?.DeepClone();
        }
        return card;
    }

    public void Dispose()
    {
        Engine?.Dispose();
        if (_features.IsValueCreated && Engine is not null)
            _features.Value.Dispose();
        Model.Dispose();
    }
}
