using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Models;
using SharpLM.Sources;
using SharpLM.Tokenization;
using SharpLM.Training;

namespace SharpLM.Kinds;

/// <summary>What both classifier kinds share: loading, and scoring on the recorded split or on labelled data.</summary>
public abstract class SequenceClassifierKind : ClassifierKind
{
    /// <summary>
    /// The classifier of a config.json (no weights yet); <paramref name="legacyMaxInput"/> applies when the config has no max_input_tokens.
    /// </summary>
    protected abstract ISequenceClassifier FromConfig(string configPath, int? legacyMaxInput, out int vocabulary);

    /// <summary>
    /// Classifiers fine-tuned before config.json recorded max_input_tokens cut texts at training.json's block_size;
    /// reading it keeps their predictions the same.
    /// </summary>
    static int? LegacyBlockSize(RunFolder run)
    {
        if (!File.Exists(run.Training))
            return null;
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(run.Training));
            return doc.RootElement.TryGetProperty("block_size", out var b) && b.TryGetInt32(out int block) && block > 0 ? block : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    public override LoadedModel Load(RunFolder run)
    {
        RequireWeights(run);
        var model = FromConfig(run.Config, LegacyBlockSize(run), out int vocabulary);
        if (model.Labels is not { Length: >= 2 })
        {
            model.Dispose();
            throw new SharpLMException(
                $"{run.Path} holds a language model without a classification head; fine-tune it into a classifier first."
            );
        }
        return Loaded(run, model.Module, vocabulary, model.LoadWeights, model.ModelConfig);
    }

    /// <summary>The classification report on a part of the recorded split (default test) or on labelled data.</summary>
    public override EvaluationOutcome Evaluate(
        LoadedModel loaded,
        EvaluationRequest r,
        IProgress<(int Done, int Total)>? progress = null,
        CancellationToken ct = default
    )
    {
        var classifier = loaded.As<ISequenceClassifier>("classification");
        IReadOnlyList<LabelledExample> examples;
        string source;
        if (r.Data is string data)
        {
            if (r.Split is not null)
                throw new SharpLMException("A split picks a part of the recorded split; with labelled data the whole file is scored.");
            var (dataset, path) = LabelledDataSource
                .LoadAsync(data, r.TextColumn, r.LabelColumn, r.Catalog ?? new Catalogue.DataCatalogClient(), ct)
                .GetAwaiter()
                .GetResult();
            (examples, source) = (dataset.Examples, path);
        }
        else
            (examples, source) = SplitRecord.Part(loaded.Run.Path, r.Split ?? "test");
        var report = ClassifierEvaluator.Score(classifier, loaded.Tokenizer, examples, r.BatchSize, source, ct);
        return new EvaluationOutcome(
            new
            {
                model = loaded.Run.Path,
                data = source,
                report,
            },
            report.ToTables(),
            $"{examples.Count} examples: {source}; {report.Summary()}"
        );
    }
}

/// <summary>BERT with a linear head on the pooled [CLS] (HF BertForSequenceClassification).</summary>
public sealed class BertClassifierKind : SequenceClassifierKind
{
    public override string Name => "bert-classifier";
    public override string Description => "BERT classifier";
    public override string Architecture => "bert";
    public override string DefaultTokenizer => TokenizerSource.BertBaseUncased;

    public override bool Recognises(ModelConfigFile.Summary c) => c.ModelType == "bert" && c.HasLabels && !c.Has("ForTokenClassification");

    protected override ISequenceClassifier FromConfig(string path, int? legacyMaxInput, out int vocabulary)
    {
        var config = BertConfig.Load(path);
        vocabulary = config.VocabSize;
        return new BertClassifier(
            config with
            {
                MaxInputTokens = config.MaxInputTokens ?? Math.Min(legacyMaxInput ?? int.MaxValue, config.MaxPositionEmbeddings),
            }
        );
    }

    public override ISequenceClassifier Create(ModelShape shape, Tokenizer tokenizer, string[] labels) =>
        new BertClassifier(
            BertConfig.For(shape, tokenizer) with
            {
                Labels = labels,
                Architectures = ["BertForSequenceClassification"],
                MaxInputTokens = shape.Context,
            }
        );

    public override ISequenceClassifier CreateFrom(
        RunFolder pretrained,
        Tokenizer tokenizer,
        string[] labels,
        int maxInputTokens,
        double dropout
    )
    {
        return WithPretrainedBody(
            new BertClassifier(
                BertBody(pretrained, maxInputTokens, dropout) with
                {
                    Labels = labels,
                    Architectures = ["BertForSequenceClassification"],
                }
            ),
            pretrained
        );
    }
}

/// <summary>A GPT with a linear head on each text's last real token (HF GPT2ForSequenceClassification).</summary>
public sealed class GptClassifierKind : SequenceClassifierKind
{
    public override string Name => "gpt2-classifier";
    public override string Description => "GPT classifier";
    public override string Architecture => "gpt2";
    public override IReadOnlyList<string> Aliases => ["gpt"];
    public override string DefaultTokenizer => TokenizerSource.Gpt2;

    public override bool Recognises(ModelConfigFile.Summary c) => c.ModelType == "gpt2" && c.HasLabels && !c.Has("ForTokenClassification");

    protected override ISequenceClassifier FromConfig(string path, int? legacyMaxInput, out int vocabulary)
    {
        var config = GptConfig.Load(path);
        vocabulary = config.VocabSize;
        return new GptClassifier(
            config with
            {
                MaxInputTokens = config.MaxInputTokens ?? Math.Min(legacyMaxInput ?? int.MaxValue, config.NPositions),
            }
        );
    }

    public override ISequenceClassifier Create(ModelShape shape, Tokenizer tokenizer, string[] labels) =>
        new GptClassifier(
            GptConfig.For(shape, tokenizer) with
            {
                Labels = labels,
                Architectures = ["GPT2ForSequenceClassification"],
                MaxInputTokens = shape.Context,
            }
        );

    public override ISequenceClassifier CreateFrom(
        RunFolder pretrained,
        Tokenizer tokenizer,
        string[] labels,
        int maxInputTokens,
        double dropout
    )
    {
        return WithPretrainedBody(
            new GptClassifier(
                GptBody(pretrained, tokenizer, maxInputTokens, dropout) with
                {
                    Labels = labels,
                    Architectures = ["GPT2ForSequenceClassification"],
                }
            ),
            pretrained
        );
    }
}
