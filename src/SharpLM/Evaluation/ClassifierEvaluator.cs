using SharpLM.Data;
using SharpLM.Models;
using SharpLM.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Evaluation;

/// <summary>
/// A sequence classifier's predictions and scores: texts encoded as the model expects and cut at its input limit,
/// right-padded batches, class probabilities, and the classification report against labels.
/// </summary>
public static class ClassifierEvaluator
{
    /// <summary>Every text as the model's input ids, cut at <paramref name="block"/> tokens (default: the model's input limit).</summary>
    public static long[][] Encode(ISequenceClassifier model, Tokenizer tokenizer, IReadOnlyList<string> texts, int? block = null) =>
        texts.AsParallel().AsOrdered().Select(t => model.Encode(tokenizer, t, block ?? model.MaxInputTokens)).ToArray();

    /// <summary>Right-pads sequences to the longest: ids [B, T] (pad id) and attend [B, T].</summary>
    public static (Tensor Ids, Tensor Attend) Pad(IReadOnlyList<long[]> sequences, long pad)
    {
        int t = sequences.Max(s => s.Length);
        var ids = new long[sequences.Count * t];
        var attend = new bool[sequences.Count * t];
        for (int b = 0; b < sequences.Count; b++)
        for (int i = 0; i < t; i++)
        {
            bool real = i < sequences[b].Length;
            ids[b * t + i] = real ? sequences[b][i] : pad;
            attend[b * t + i] = real;
        }
        return (tensor(ids, [sequences.Count, t]), tensor(attend, [sequences.Count, t]));
    }

    /// <summary>Class probabilities and the most likely class of each encoded example (eval mode, no gradients).</summary>
    public static (float[][] Probabilities, int[] Predicted) Predict(
        ISequenceClassifier model,
        long[][] ids,
        int batch,
        CancellationToken ct = default
    )
    {
        using var inference = new Runtime.InferenceScope(model.Module);
        var probabilities = new float[ids.Length][];
        for (int i = 0; i < ids.Length; i += batch)
        {
            ct.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var chunk = ids.Skip(i).Take(batch).ToArray();
            var (x, attend) = Pad(chunk, model.PadId);
            var p = model.Logits(x, attend).softmax(-1);
            for (int b = 0; b < chunk.Length; b++)
                probabilities[i + b] = p[b].data<float>().ToArray();
        }
        return (probabilities, probabilities.Select(ArgMax).ToArray());
    }

    static int ArgMax(float[] p) => Array.IndexOf(p, p.Max());

    /// <summary>
    /// A trained classifier's report on labelled examples (cut at its input limit), with ROC-AUC for binary tasks. Labels
    /// the model was not trained on are an error, not a silent miss.
    /// </summary>
    public static ClassificationReport Score(
        ISequenceClassifier model,
        Tokenizer tokenizer,
        IReadOnlyList<LabelledExample> examples,
        int batch,
        string source,
        CancellationToken ct = default
    )
    {
        RequireKnownLabels(model, examples, source);
        if (examples.Count == 0)
            return ClassificationMetrics.Compute([], [], model.Labels);
        var (p, _) = Predict(model, Encode(model, tokenizer, examples.Select(e => e.Text).ToArray()), batch, ct);
        return Report(model.Labels, examples, p);
    }

    public static void RequireKnownLabels(ISequenceClassifier model, IEnumerable<LabelledExample> examples, string source)
    {
        var unknown = examples.Select(e => e.Label).Distinct().Except(model.Labels).ToList();
        if (unknown.Count > 0)
            throw new SharpLMException(
                $"{source} has labels the model was not trained on: {string.Join(", ", unknown)} (the model knows "
                    + $"{string.Join(", ", model.Labels)})."
            );
    }

    /// <summary>The report for predicted class probabilities of labelled examples (argmax prediction; ROC-AUC when binary).</summary>
    public static ClassificationReport Report(
        IReadOnlyList<string> labels,
        IReadOnlyList<LabelledExample> examples,
        IReadOnlyList<float[]> probabilities
    )
    {
        var list = labels.ToList();
        return ClassificationMetrics.Compute(
            examples.Select(e => list.IndexOf(e.Label)).ToArray(),
            probabilities.Select(ArgMax).ToArray(),
            labels,
            labels.Count == 2 ? probabilities.Select(x => (double)x[1]).ToArray() : null
        );
    }
}
