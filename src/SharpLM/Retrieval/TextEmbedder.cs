using SharpLM.Embeddings;
using SharpLM.Pipelines;

namespace SharpLM.Retrieval;

/// <summary>Turns texts into vectors for an index: a run's pooled encoder states, or averaged word vectors.</summary>
public interface ITextEmbedder : IDisposable
{
    /// <summary>What index.json records as the model (a run folder, or a vectors file).</summary>
    string Source { get; }

    /// <summary>What index.json records as the pooling ("mean", "cls", "last", or "word-vectors").</summary>
    string Pooling { get; }

    float[][] Embed(IReadOnlyList<string> texts, CancellationToken ct);

    /// <summary>The embedder an index was built with, so that queries are embedded the same way.</summary>
    public static ITextEmbedder For(IndexInfo info) =>
        info.Pooling == WordVectorEmbedder.PoolingName
            ? new WordVectorEmbedder(info.Model)
            : new EncoderEmbedder(info.Model, Enum.Parse<Pipelines.Pooling>(info.Pooling, ignoreCase: true));
}

/// <summary>A run's final hidden states, pooled (mean, [CLS] or last token).</summary>
public sealed class EncoderEmbedder(string model, Pipelines.Pooling pooling) : ITextEmbedder
{
    readonly FeatureExtractionPipeline _pipeline = FeatureExtractionPipeline.Load(model);

    public string Source { get; } = Path.GetFullPath(model);
    public string Pooling => pooling.ToString().ToLowerInvariant();

    public float[][] Embed(IReadOnlyList<string> texts, CancellationToken ct) => _pipeline.Embed(texts, pooling, ct: ct).Vectors;

    public void Dispose() => _pipeline.Dispose();
}

/// <summary>
/// The mean of a text's word vectors (words as word2vec training reads them: lower-cased runs of letters and digits);
/// words without a vector are skipped, and a text with none is the zero vector (similar to nothing).
/// </summary>
public sealed class WordVectorEmbedder(string path) : ITextEmbedder
{
    public const string PoolingName = "word-vectors";
    readonly WordVectors _vectors = WordVectors.Load(WordVectors.FilePath(path));

    public string Source { get; } = Path.GetFullPath(WordVectors.FilePath(path));
    public string Pooling => PoolingName;

    public float[][] Embed(IReadOnlyList<string> texts, CancellationToken ct) =>
        texts
            .Select(text =>
            {
                ct.ThrowIfCancellationRequested();
                var sum = new float[_vectors.Dimensions];
                int n = 0;
                foreach (var word in Word2Vec.Words(text))
                    if (_vectors.Contains(word))
                    {
                        System.Numerics.Tensors.TensorPrimitives.Add(sum, _vectors[word], sum);
                        n++;
                    }
                if (n > 0)
                    System.Numerics.Tensors.TensorPrimitives.Divide(sum, n, sum);
                return sum;
            })
            .ToArray();

    public void Dispose() { }
}
