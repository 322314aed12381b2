using SharpLM.Data;
using SharpLM.Evaluation.TaskMetrics;
using SharpLM.Models;
using SharpLM.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Evaluation;

/// <summary>A tagged sentence as model input: ids, one label per token (−100 where ignored), and each token's word (−1 specials).</summary>
public sealed record TaggedInput(long[] Ids, long[] Labels, int[] Words, int WordCount);

/// <summary>
/// A token classifier's predictions and scores: sentences encoded word by word (the first sub-word of each word carries
/// its tag), right-padded batches, one predicted tag per word, and seqeval's entity report against the references.
/// </summary>
public static class TokenClassifierEvaluator
{
    public const long Ignore = -100;

    /// <summary>
    /// Sentences as model input, cut at the model's input limit; tags are looked up in the model's labels (a tag the model
    /// does not know is ignored in the loss; null <paramref name="labelled"/> labels nothing).
    /// </summary>
    public static TaggedInput[] Encode(ITokenClassifier model, Tokenizer tokenizer, IReadOnlyList<TaggedSentence> sentences, bool labelled)
    {
        var index = model.Labels.Select((l, i) => (l, i)).ToDictionary(p => p.l, p => p.i, StringComparer.Ordinal);
        return sentences
            .AsParallel()
            .AsOrdered()
            .Select(s =>
            {
                var labels = s.Tags.Select(t => labelled && index.TryGetValue(t, out int i) ? i : (int)Ignore).ToArray();
                var (ids, aligned, words) = TaggedData.AlignToSubwords(tokenizer, s.Words, labels, model.MaxInputTokens, Ignore);
                return new TaggedInput(ids, aligned, words, s.Words.Count);
            })
            .ToArray();
    }

    /// <summary>Right-padded labels [B, T] (ignored on padding).</summary>
    public static Tensor PadLabels(IReadOnlyList<TaggedInput> batch)
    {
        int t = batch.Max(s => s.Ids.Length);
        var labels = new long[batch.Count * t];
        Array.Fill(labels, Ignore);
        for (int b = 0; b < batch.Count; b++)
            Array.Copy(batch[b].Labels, 0, labels, b * t, batch[b].Labels.Length);
        return tensor(labels, [batch.Count, t]);
    }

    /// <summary>
    /// One tag per word of each input (the tag at its first sub-word; "O" for words cut off at the input limit) and the mean
    /// cross-entropy over labelled tokens (NaN when none is labelled). Eval mode, no gradients.
    /// </summary>
    public static (string[][] Tags, double Loss) Predict(
        ITokenClassifier model,
        TaggedInput[] inputs,
        int batch,
        CancellationToken ct = default
    )
    {
        var (tags, _, loss) = PredictWithConfidence(model, inputs, batch, ct);
        return (tags, loss);
    }

    /// <summary>As <see cref="Predict"/>, with each word's probability of its predicted tag (1 for a word cut off).</summary>
    public static (string[][] Tags, float[][] Confidence, double Loss) PredictWithConfidence(
        ITokenClassifier model,
        TaggedInput[] inputs,
        int batch,
        CancellationToken ct = default
    )
    {
        var confidence = new float[inputs.Length][];
        using var inference = new Runtime.InferenceScope(model.Module);
        var tags = new string[inputs.Length][];
        double nats = 0;
        long counted = 0;
        string outside = model.Labels.Contains("O") ? "O" : model.Labels[0];
        for (int i = 0; i < inputs.Length; i += batch)
        {
            ct.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var chunk = inputs.Skip(i).Take(batch).ToArray();
            var (ids, attend) = ClassifierEvaluator.Pad(chunk.Select(c => c.Ids).ToArray(), model.PadId);
            var logits = model.TagLogits(ids, attend);
            var labels = PadLabels(chunk);
            using var s = new Runtime.Scalars();
            long n = labels.ne(s[Ignore]).sum().item<long>();
            if (n > 0)
            {
                nats +=
                    nn.functional.cross_entropy(logits.view(-1, logits.shape[^1]), labels.view(-1), ignore_index: Ignore).item<float>() * n;
                counted += n;
            }
            var (top, best) = logits.softmax(-1).max(-1);
            var bestIds = best.data<long>().ToArray();
            var topP = top.data<float>().ToArray();
            int width = (int)ids.shape[1];
            for (int b = 0; b < chunk.Length; b++)
            {
                var words = Enumerable.Repeat(outside, chunk[b].WordCount).ToArray();
                var sure = Enumerable.Repeat(1f, chunk[b].WordCount).ToArray();
                int previous = -1;
                for (int k = 0; k < chunk[b].Words.Length; k++)
                {
                    int w = chunk[b].Words[k];
                    if (w >= 0 && w != previous)
                        (words[w], sure[w]) = (model.Labels[bestIds[b * width + k]], topP[b * width + k]);
                    previous = w;
                }
                tags[i + b] = words;
                confidence[i + b] = sure;
            }
        }
        return (tags, confidence, counted > 0 ? nats / counted : double.NaN);
    }

    /// <summary>seqeval's entity report (and the loss) of a token classifier on tagged sentences.</summary>
    public static (EntityReport Report, double Loss) Score(
        ITokenClassifier model,
        Tokenizer tokenizer,
        IReadOnlyList<TaggedSentence> sentences,
        int batch,
        string mode = "default",
        CancellationToken ct = default
    )
    {
        var (predicted, loss) = Predict(model, Encode(model, tokenizer, sentences, labelled: true), batch, ct);
        return (Seqeval.Report(sentences.Select(s => s.Tags).ToArray(), predicted, mode), loss);
    }
}
