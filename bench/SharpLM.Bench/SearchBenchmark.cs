using System.Diagnostics;
using SharpLM.Retrieval;

namespace SharpLM.Bench;

public sealed record SearchBenchmarkResult(
    string Model,
    int Passages,
    int Dimensions,
    double IndexPassagesPerSecond,
    int Queries,
    double RecallAt1,
    double RecallAt10,
    double MeanReciprocalRank,
    double ChanceRecallAt10,
    double QueriesPerSecond,
    double SearchOnlyQueriesPerSecond
);

/// <summary>
/// `sharplm-bench search`: retrieval quality and speed of `sharplm index` / `sharplm search` on a labelled set built
/// from the corpus itself — each sampled paragraph's first sentence is the query, and that paragraph the one right
/// answer (it contains the sentence, so this measures whether the encoder's pooled vectors keep a sentence close to its
/// paragraph, against chance). Reports recall@1, recall@10 and MRR, indexing passages/s, and queries/s with and
/// without embedding the query.
/// </summary>
public static class SearchBenchmark
{
    /// <summary>The figures for one embedder (a run's encoder, or averaged word vectors); the same seed samples the same queries.</summary>
    public static SearchBenchmarkResult Run(
        Func<ITextEmbedder> makeEmbedder,
        IReadOnlyList<string> inputs,
        int queries,
        int seed,
        IProgress<string>? status = null
    )
    {
        string scratch = Path.Combine(Path.GetTempPath(), $"sharplm-bench-search-{Guid.NewGuid():N}");
        try
        {
            status?.Report("indexing");
            var clock = Stopwatch.StartNew();
            using var embedder = makeEmbedder();
            var info = VectorIndex.Build(embedder, inputs, scratch, minChars: 80);
            double indexRate = info.Passages / clock.Elapsed.TotalSeconds;
            var index = VectorIndex.Open(scratch);
            var rng = new Random(seed);
            var labelled = index
                .Passages.Select(p => (p.Id, Query: FirstSentence(p.Text)))
                .Where(x => x.Query is { Length: >= 20 } q && q.Length < index.Passages[x.Id].Text.Length - 20)
                .OrderBy(_ => rng.Next())
                .Take(queries)
                .ToList();
            if (labelled.Count == 0)
                throw new SharpLMException("No paragraph has a first sentence to use as a query.");

            status?.Report($"{labelled.Count} queries");
            clock.Restart();
            var vectors = embedder.Embed(labelled.Select(x => x.Query!).ToList(), default);
            var hits = vectors.Select(v => index.Nearest(VectorIndex.Normalize(v), 10)).ToList();
            double total = clock.Elapsed.TotalSeconds;
            clock.Restart();
            foreach (var v in vectors)
                index.Nearest(v, 10);
            double searchOnly = clock.Elapsed.TotalSeconds;

            int at1 = 0,
                at10 = 0;
            double reciprocal = 0;
            for (int i = 0; i < labelled.Count; i++)
            {
                int rank = hits[i].FirstOrDefault(h => h.Passage.Id == labelled[i].Id)?.Rank ?? 0;
                at1 += rank == 1 ? 1 : 0;
                at10 += rank is > 0 and <= 10 ? 1 : 0;
                reciprocal += rank > 0 ? 1.0 / rank : 0;
            }
            int n = labelled.Count;
            return new SearchBenchmarkResult(
                $"{embedder.Source} ({embedder.Pooling})",
                info.Passages,
                info.Dimensions,
                indexRate,
                n,
                (double)at1 / n,
                (double)at10 / n,
                reciprocal / n,
                Math.Min(1, 10.0 / info.Passages),
                n / total,
                n / searchOnly
            );
        }
        finally
        {
            if (Directory.Exists(scratch))
                Directory.Delete(scratch, recursive: true); // the benchmark's own scratch folder
        }
    }

    /// <summary>Text up to the first ". ", "! " or "? " (inclusive of the mark), or null when there is none.</summary>
    static string? FirstSentence(string text)
    {
        int end = text.IndexOfAny(['.', '!', '?']);
        while (end >= 0 && end + 1 < text.Length && text[end + 1] != ' ')
            end = text.IndexOfAny(['.', '!', '?'], end + 1);
        return end > 0 && end + 1 < text.Length ? text[..(end + 1)] : null;
    }
}
