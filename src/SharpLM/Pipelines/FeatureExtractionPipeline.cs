using SharpLM.Evaluation;
using SharpLM.Kinds;
using SharpLM.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Pipelines;

/// <summary>How hidden states become one vector per text.</summary>
public enum Pooling
{
    /// <summary>The mean over the text's tokens (special tokens included) — the default.</summary>
    Mean,

    /// <summary>The first token's state: BERT's [CLS].</summary>
    Cls,

    /// <summary>The last real token's state: for a GPT, the only position that has seen the whole text.</summary>
    Last,
}

/// <summary>Text features: pooled final hidden states of any SharpLM transformer run (GPT, BERT, or a classifier's body).</summary>
public sealed class FeatureExtractionPipeline : IPipeline
{
    readonly IHiddenStates _model;
    readonly Lock _gate = new();

    public FeatureExtractionPipeline(LoadedModel model)
    {
        Model = model;
        _model = model.As<IHiddenStates>("feature extraction");
    }

    public static FeatureExtractionPipeline Load(string path) => new(ModelRegistry.Load(path));

    public string Task => "feature-extraction";
    public LoadedModel Model { get; }

    /// <summary>BERT models pool [CLS]-style texts well by their mean; GPT models by their last token.</summary>
    public Pooling DefaultPooling => Pooling.Mean;

    /// <summary>One vector per text (cut at the model's input limit) and the tokens each used.</summary>
    public (float[][] Vectors, int[] Tokens) Embed(
        IReadOnlyList<string> texts,
        Pooling pooling = Pooling.Mean,
        int batch = 16,
        CancellationToken ct = default
    )
    {
        if (pooling == Pooling.Cls && !_model.Bidirectional)
            throw new SharpLMException(
                $"{Model.Run.Path} holds a {Model.Kind.Description}, which reads left to right: its first token has seen nothing; "
                    + "pool by mean or last."
            );
        var ids = texts.Select(t => _model.EncodeText(Model.Tokenizer, t, _model.MaxInput)).ToArray();
        var vectors = new float[ids.Length][];
        lock (_gate)
        {
            using var inference = new Runtime.InferenceScope(Model.Module);
            for (int i = 0; i < ids.Length; i += batch)
            {
                ct.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                using var s = new Runtime.Scalars();
                var chunk = ids.Skip(i).Take(batch).ToArray();
                var (x, attend) = ClassifierEvaluator.Pad(chunk, _model.PadId);
                var hidden = _model.HiddenStates(x, attend);
                var mask = attend.unsqueeze(-1).to(hidden.dtype);
                var pooled = pooling switch
                {
                    Pooling.Cls => hidden[.., 0, ..],
                    Pooling.Last => hidden[Runtime.Arithmetic.Range(0, chunk.Length), attend.to(ScalarType.Int64).sum(1).sub(s[1L])],
                    _ => (hidden * mask).sum(1) / mask.sum(1),
                };
                for (int b = 0; b < chunk.Length; b++)
                    vectors[i + b] = pooled[b].data<float>().ToArray();
            }
        }
        return (vectors, ids.Select(x => x.Length).ToArray());
    }

    public void Dispose() => Model.Dispose();
}
