using SharpLM.Data;
using SharpLM.Models;
using SharpLM.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Training;

/// <summary>The special tokens an encoder–decoder needs, by their BART spellings.</summary>
public static class Seq2SeqTokens
{
    public const string Pad = "<pad>",
        Start = "<s>",
        End = "</s>";

    /// <summary>
    /// The ids of padding, decoder start and end: &lt;pad&gt; &lt;s&gt; &lt;/s&gt;, or a BERT tokenizer's [PAD] [CLS] [SEP] (as Hugging
    /// Face's BERT-to-BERT encoder–decoders use them); else a one-line error naming what is missing.
    /// </summary>
    public static (int Pad, int Start, int End) Ids(Tokenizer tokenizer)
    {
        if (tokenizer.SpecialTokenId("[CLS]") is int cls && tokenizer.SpecialTokenId("<s>") is null)
        {
            if (tokenizer.SpecialTokenId("[PAD]") is int padId && tokenizer.SpecialTokenId("[SEP]") is int sep)
                return (padId, cls, sep);
            throw new SharpLMException(
                "The BERT tokenizer has [CLS] but lacks [PAD] or [SEP]; a sequence-to-sequence model needs all three."
            );
        }
        int Id(string token) =>
            tokenizer.SpecialTokenId(token)
            ?? throw new SharpLMException(
                $"The tokenizer has no {token} token; a sequence-to-sequence model needs {Pad}, {Start} and {End} (the tokenizers that "
                    + "finetune --task seq2seq builds have them), or a BERT tokenizer's [PAD], [CLS] and [SEP]."
            );
        return (Id(Pad), Id(Start), Id(End));
    }
}

/// <summary>
/// Trains an encoder–decoder on text pairs with teacher forcing: the encoder reads "source &lt;/s&gt;", the decoder reads
/// "&lt;s&gt; target" and predicts "target &lt;/s&gt;" (cross-entropy with label smoothing over real target tokens).
/// Batches are right-padded; examples are visited in a seeded shuffle per epoch that depends only on (seed, epoch), so
/// training resumes exactly. Evaluation: teacher-forced loss (no smoothing) and token accuracy on the validation pairs.
/// </summary>
public sealed class Seq2SeqTask : ITrainingTask
{
    readonly long[][] _trainSource,
        _trainTarget,
        _valSource,
        _valTarget;
    readonly double _labelSmoothing;
    readonly EpochShuffle _shuffle;
    public Seq2SeqTransformer Transformer { get; }
    public Tokenizer Tokenizer { get; }
    public TrainOptions Options { get; }
    public IModelConfig ModelConfig => Transformer.Config;
    public nn.Module Model => Transformer;

    public Seq2SeqTask(
        IReadOnlyList<TextPair> train,
        IReadOnlyList<TextPair> val,
        Tokenizer tokenizer,
        Seq2SeqTransformer model,
        TrainOptions options,
        double labelSmoothing
    )
    {
        Options = options.Validate();
        Tokenizer = tokenizer;
        Transformer = model;
        if (!(labelSmoothing >= 0 && labelSmoothing < 1))
            throw new SharpLMException($"label_smoothing must be in [0, 1) (got {labelSmoothing}).");
        _labelSmoothing = labelSmoothing;
        if (train.Count == 0 || val.Count == 0)
            throw new SharpLMException("Sequence-to-sequence training needs at least one training and one validation pair.");
        (_trainSource, _trainTarget) = Encode(train);
        (_valSource, _valTarget) = Encode(val);
        _shuffle = new EpochShuffle(_trainSource.Length, Options.Seed, 0x5E25E);
    }

    /// <summary>Source ids "source &lt;/s&gt;" and target ids "target &lt;/s&gt;", cut to max_position_embeddings.</summary>
    (long[][] Source, long[][] Target) Encode(IReadOnlyList<TextPair> pairs)
    {
        var c = Transformer.Config;
        return (
            pairs.Select(p => c.SourceIds(Tokenizer, p.Source)).ToArray(),
            pairs.Select(p => c.TargetIds(Tokenizer, p.Target)).ToArray()
        );
    }

    /// <summary>
    /// Padded tensors for a batch: source [B, S], decoder input [B, T] ("&lt;s&gt; target"), labels [B, T] (-100 on padding).
    /// </summary>
    public static (Tensor Source, Tensor DecoderInput, Tensor Labels) Batch(long[][] sources, long[][] targets, Seq2SeqConfig c)
    {
        int s = sources.Max(x => x.Length),
            t = targets.Max(x => x.Length);
        var src = new long[sources.Length * s];
        var input = new long[targets.Length * t];
        var labels = new long[targets.Length * t];
        for (int b = 0; b < sources.Length; b++)
        {
            for (int i = 0; i < s; i++)
                src[b * s + i] = i < sources[b].Length ? sources[b][i] : c.PadTokenId;
            for (int i = 0; i < t; i++)
            {
                input[b * t + i] =
                    i == 0 ? c.DecoderStartTokenId
                    : i < targets[b].Length ? targets[b][i - 1]
                    : c.PadTokenId;
                labels[b * t + i] = i < targets[b].Length ? targets[b][i] : -100;
            }
        }
        return (tensor(src, [sources.Length, s]), tensor(input, [targets.Length, t]), tensor(labels, [targets.Length, t]));
    }

    public MicroBatch MicroBatchLoss(int step, int micro)
    {
        var picked = _shuffle.Batch(step, micro, Options);
        var (source, input, labels) = Batch(
            picked.Select(i => _trainSource[i]).ToArray(),
            picked.Select(i => _trainTarget[i]).ToArray(),
            Transformer.Config
        );
        var mask = Transformer.SourceMask(source);
        var logits = Transformer.Decode(input, Transformer.Encode(source, mask), mask);
        return new MicroBatch(
            Seq2SeqTransformer.Loss(logits, labels, _labelSmoothing),
            picked.Sum(i => (long)_trainSource[i].Length + _trainTarget[i].Length)
        );
    }

    public EvalResult Evaluate(CancellationToken ct)
    {
        double nats = 0;
        long tokens = 0,
            correct = 0;
        using (new Runtime.InferenceScope(Transformer))
            for (int start = 0; start < _valSource.Length; start += Options.BatchSize)
            {
                ct.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                int n = Math.Min(Options.BatchSize, _valSource.Length - start);
                var (source, input, labels) = Batch(_valSource[start..(start + n)], _valTarget[start..(start + n)], Transformer.Config);
                var mask = Transformer.SourceMask(source);
                var logits = Transformer.Decode(input, Transformer.Encode(source, mask), mask);
                long real = _valTarget[start..(start + n)].Sum(t => (long)t.Length);
                nats += Seq2SeqTransformer.Loss(logits, labels, 0).item<float>() * real;
                correct += logits.argmax(-1).eq(labels).sum().item<long>();
                tokens += real;
            }
        return new EvalResult(nats / tokens, new Dictionary<string, double> { ["token_accuracy"] = (double)correct / tokens });
    }

    public void SaveWeights(string path) => Transformer.SaveWeights(path);

    public void LoadWeights(string path) => Transformer.LoadWeights(path);

    public void WriteRunFiles(RunFolder run)
    {
        Transformer.Config.Save(run.Config);
        Tokenizer.Save(run.Tokenizer);
    }

    public void Dispose() => Transformer.Dispose();
}
