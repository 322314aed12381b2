using System.Numerics.Tensors;
using System.Text.Json;
using System.Text.Json.Serialization;
using SharpLM.Catalogue;
using SharpLM.Data;
using SharpLM.IO;
using SharpLM.Pipelines;
using static TorchSharp.torch;

namespace SharpLM.Retrieval;

/// <summary>One passage of an index: where it came from and its text.</summary>
public sealed record Passage(
    [property: JsonPropertyName("id")] int Id,
    [property: JsonPropertyName("source")] string Source,
    [property: JsonPropertyName("text")] string Text
);

/// <summary>A search hit: the passage and its cosine similarity to the query.</summary>
public sealed record SearchHit(int Rank, double Score, Passage Passage);

/// <summary>What index.json records: the model and pooling that made the vectors (a query must be embedded the same way).</summary>
public sealed record IndexInfo(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("pooling")] string Pooling,
    [property: JsonPropertyName("dimensions")] int Dimensions,
    [property: JsonPropertyName("passages")] int Passages
);

/// <summary>
/// Semantic search by exact nearest neighbours: passages embedded by a run's encoder (pooled final hidden states),
/// stored unit-length, and a query's neighbours found by brute force — a SIMD dot product with every passage vector
/// (cosine similarity, since both sides are unit length) and a bounded heap for the top k. Exact and simple up to about
/// a million passages (1M × 256 floats is 1 GB and about a second per query on one core); beyond that an approximate
/// index (HNSW, IVF) would pay, which is not built.
/// </summary>
public sealed class VectorIndex
{
    public IndexInfo Info { get; }
    public IReadOnlyList<Passage> Passages { get; }

    // Row-major [passages, dimensions], each row unit length.
    readonly float[] _vectors;

    VectorIndex(IndexInfo info, IReadOnlyList<Passage> passages, float[] vectors) => (Info, Passages, _vectors) = (info, passages, vectors);

    /// <summary>
    /// Splits the inputs' documents into passages — paragraphs (text between blank lines, whitespace collapsed), and a
    /// paragraph longer than <paramref name="maxChars"/> into runs of whole sentences up to that length; passages shorter
    /// than <paramref name="minChars"/> are skipped — embeds them with <paramref name="model"/> and writes the index
    /// folder (a temporary folder, renamed into place when complete).
    /// </summary>
    public static IndexInfo Build(
        string model,
        IReadOnlyList<string> inputs,
        string output,
        Pooling pooling = Pooling.Mean,
        int minChars = 20,
        bool overwriteOutput = false,
        int maxChars = 500,
        DataCatalogClient? catalog = null,
        IProgress<(int Done, int Total)>? progress = null,
        CancellationToken ct = default
    )
    {
        RequireNewOrOverwritten(output, overwriteOutput);
        using var embedder = new EncoderEmbedder(model, pooling);
        return Build(embedder, inputs, output, minChars, maxChars, overwriteOutput, catalog, progress, ct);
    }

    /// <summary>The same, with any embedder: a run's encoder, or averaged word vectors (<see cref="WordVectorEmbedder"/>).</summary>
    public static IndexInfo Build(
        ITextEmbedder embedder,
        IReadOnlyList<string> inputs,
        string output,
        int minChars = 20,
        int maxChars = 500,
        bool overwriteOutput = false,
        DataCatalogClient? catalog = null,
        IProgress<(int Done, int Total)>? progress = null,
        CancellationToken ct = default
    )
    {
        RequireNewOrOverwritten(output, overwriteOutput);
        var source = new DocumentSource(catalog ?? new DataCatalogClient());
        var files = source.ResolveAsync(inputs).GetAwaiter().GetResult();
        var passages = new List<Passage>();
        foreach (var document in source.Read(files))
        foreach (var paragraph in Paragraphs(document.Text))
        foreach (var passage in SentenceRuns(paragraph, maxChars))
            if (passage.Length >= minChars)
                passages.Add(new Passage(passages.Count, document.Source, passage));
        if (passages.Count == 0)
            throw new SharpLMException($"The inputs have no passage of at least {minChars} characters to index.");
        int dimensions = 0;
        float[] vectors = [];
        const int Chunk = 256;
        for (int i = 0; i < passages.Count; i += Chunk)
        {
            var embedded = embedder.Embed(passages.Skip(i).Take(Chunk).Select(p => p.Text).ToList(), ct);
            if (dimensions == 0)
            {
                dimensions = embedded[0].Length;
                vectors = new float[(long)passages.Count * dimensions];
            }
            for (int k = 0; k < embedded.Length; k++)
                Normalize(embedded[k]).CopyTo(vectors.AsSpan((i + k) * dimensions, dimensions));
            progress?.Report((Math.Min(i + Chunk, passages.Count), passages.Count));
        }
        var info = new IndexInfo(embedder.Source, embedder.Pooling, dimensions, passages.Count);
        string tmp = OutputFolder.CreateTemporaryBeside(output, FolderKind.SearchIndex);
        try
        {
            using (var scope = NewDisposeScope())
                Safetensors.Save(Path.Combine(tmp, "vectors.safetensors"), [("vectors", tensor(vectors, [passages.Count, dimensions]))]);
            AtomicFile.WriteAllText(
                Path.Combine(tmp, "passages.jsonl"),
                string.Concat(passages.Select(p => JsonSerializer.Serialize(p) + "\n"))
            );
            // last: its presence marks a complete index
            AtomicFile.WriteAllText(Path.Combine(tmp, "index.json"), JsonSerializer.Serialize(info, Json.Indented));
            OutputFolder.SwapIn(tmp, output, FolderKind.SearchIndex);
        }
        catch
        {
            if (Directory.Exists(tmp))
                OutputFolder.Delete(tmp, FolderKind.SearchIndex);
            throw;
        }
        return info;
    }

    static void RequireNewOrOverwritten(string output, bool overwriteOutput)
    {
        if (OutputFolder.Inspect(output, FolderKind.SearchIndex) == FolderState.Owned && !overwriteOutput)
            throw new SharpLMException(
                $"{Path.GetFullPath(output)} already holds an index; choose another output_dir or use overwrite_output."
            );
    }

    /// <summary>Paragraphs: runs of non-blank lines, whitespace collapsed.</summary>
    public static IEnumerable<string> Paragraphs(string text)
    {
        var current = new List<string>();
        foreach (var raw in text.Replace("\r\n", "\n").Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0)
            {
                if (current.Count > 0)
                    yield return string.Join(' ', string.Join(' ', current).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
                current.Clear();
            }
            else
                current.Add(line);
        }
        if (current.Count > 0)
            yield return string.Join(' ', string.Join(' ', current).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>A paragraph cut into consecutive runs of whole sentences, each at most <paramref name="maxChars"/> long.</summary>
    public static IEnumerable<string> SentenceRuns(string paragraph, int maxChars) => Data.Sentences.Runs(paragraph, maxChars);

    /// <summary>Scales <paramref name="v"/> to unit length in place (a zero vector stays zero).</summary>
    public static float[] Normalize(float[] v)
    {
        float norm = TensorPrimitives.Norm(v);
        if (norm > 0)
            TensorPrimitives.Divide(v, norm, v);
        return v;
    }

    /// <summary>Opens an index folder written by <see cref="Build"/>, checking that its parts agree.</summary>
    public static VectorIndex Open(string folder)
    {
        string infoPath = Path.Combine(folder, "index.json");
        if (!File.Exists(infoPath))
            throw new SharpLMException($"{folder} is not a search index (no index.json); build one with 'sharplm index'.");
        IndexInfo info;
        try
        {
            info = JsonSerializer.Deserialize<IndexInfo>(File.ReadAllText(infoPath)) ?? throw new JsonException("empty");
        }
        catch (JsonException e)
        {
            throw new SharpLMException($"{infoPath} is not valid ({e.Message.Split('.')[0]}); build the index again.");
        }
        var passages = new List<Passage>();
        foreach (var line in File.ReadLines(Path.Combine(folder, "passages.jsonl")))
            if (line.Length > 0)
                passages.Add(
                    JsonSerializer.Deserialize<Passage>(line) ?? throw new SharpLMException($"{folder}/passages.jsonl has an empty row.")
                );
        var file = Safetensors.File.Open(Path.Combine(folder, "vectors.safetensors"));
        long[] shape = file.Entries.TryGetValue("vectors", out var entry) ? entry.Shape : [];
        if (shape.Length != 2 || shape[0] != passages.Count || shape[1] != info.Dimensions || passages.Count != info.Passages)
            throw new SharpLMException(
                $"{folder}: vectors.safetensors, passages.jsonl and index.json disagree on the number of passages or dimensions; build the "
                    + "index again."
            );
        using var scope = NewDisposeScope();
        return new VectorIndex(info, passages, file.Read("vectors").data<float>().ToArray());
    }

    /// <summary>The <paramref name="top"/> passages nearest to each query, embedded with the index's own model and pooling.</summary>
    public IReadOnlyList<IReadOnlyList<SearchHit>> Search(IReadOnlyList<string> queries, int top = 10, CancellationToken ct = default)
    {
        using var embedder = ITextEmbedder.For(Info);
        return embedder.Embed(queries, ct).Select(v => Nearest(Normalize(v), top)).ToList();
    }

    /// <summary>The exact top <paramref name="top"/> by cosine similarity to a unit vector (ties: lower passage id first).</summary>
    public IReadOnlyList<SearchHit> Nearest(ReadOnlySpan<float> query, int top)
    {
        if (query.Length != Info.Dimensions)
            throw new SharpLMException($"The query vector has {query.Length} dimensions but the index {Info.Dimensions}.");
        if (top < 1)
            throw new SharpLMException($"top must be at least 1 (got {top}).");
        int d = Info.Dimensions;
        // A min-heap of the best k so far: the root is the weakest of them.
        var heap = new PriorityQueue<int, (float Score, int NegativeId)>();
        for (int i = 0; i < Passages.Count; i++)
        {
            float score = TensorPrimitives.Dot(query, _vectors.AsSpan(i * d, d));
            var key = (score, -i);
            if (heap.Count < top)
                heap.Enqueue(i, key);
            else if (heap.TryPeek(out _, out var weakest) && key.CompareTo(weakest) > 0)
                heap.EnqueueDequeue(i, key);
        }
        var hits = new List<(int Id, float Score)>();
        while (heap.TryDequeue(out int id, out var key))
            hits.Add((id, key.Score));
        hits.Reverse();
        return hits.Select((h, rank) => new SearchHit(rank + 1, h.Score, Passages[h.Id])).ToList();
    }
}
