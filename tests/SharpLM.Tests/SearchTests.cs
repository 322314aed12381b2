using System.Text.Json.Nodes;
using SharpLM.Retrieval;
using static TorchSharp.torch;

namespace SharpLM.Tests;

/// <summary>Semantic search: passages embedded by a run's encoder, and a query's exact nearest neighbours by cosine.</summary>
[Collection(TorchCollection.Name)]
public class SearchTests
{
    static readonly string[] Reviews =
    [
        "the food was great and the room was lovely",
        "the room was awful and the food was grim",
        "superb food, very lovely room, great stay",
        "terrible room, the food was very awful",
        "the food was lovely indeed",
        "grim and terrible, the room was awful",
    ];

    static async Task<(string Model, string Index, string Corpus)> Built()
    {
        string model = await ServingModels.TrainedMlm();
        string dir = TestData.TempDir();
        string corpus = Path.Combine(dir, "reviews.txt");
        // Paragraphs are separated by blank lines; a short one is skipped.
        File.WriteAllText(corpus, string.Join("\n\n", Reviews.Select(r => r.Replace(", ", ",\n"))) + "\n\nok\n");
        string index = Path.Combine(dir, "index");
        var r = await Cli.Run("index", "--model", model, "--input", corpus, "--output", index, "--json");
        Assert.True(r.Code == 0, r.Err);
        Assert.Equal(Reviews.Length, (int)JsonNode.Parse(r.Out)!["passages"]!);
        return (model, index, corpus);
    }

    [Fact]
    public async Task SearchReturnsTheExactCosineNeighbours()
    {
        var (model, index, _) = await Built();
        const string Query = "the room was lovely";
        var r = await Cli.Run("search", "--index", index, "--query", Query, "--top", "4", "--json");
        Assert.True(r.Code == 0, r.Err);
        var hits = JsonNode.Parse(r.Out)!["results"]![0]!["hits"]!.AsArray();

        // The same vectors by another route: every passage and the query embedded, cosine computed in libtorch, sorted.
        using var pipeline = Pipelines.FeatureExtractionPipeline.Load(model);
        var (passages, _) = pipeline.Embed(Reviews);
        var (query, _) = pipeline.Embed([Query]);
        using var scope = NewDisposeScope();
        var cosine = nn.functional.cosine_similarity(
            tensor(passages.SelectMany(v => v).ToArray()).view(Reviews.Length, -1),
            tensor(query[0]).unsqueeze(0)
        );
        var expected = cosine
            .data<float>()
            .ToArray()
            .Select((c, i) => (c, i))
            .OrderByDescending(x => x.c)
            .ThenBy(x => x.i)
            .Take(4)
            .ToList();
        Assert.Equal(expected.Select(e => e.i), hits.Select(h => (int)h!["passage"]!["id"]!));
        Assert.All(expected.Zip(hits), p => Assert.Equal(p.First.c, (double)p.Second!["score"]!, 5));
        Assert.Equal(Reviews[expected[0].i], (string)hits[0]!["passage"]!["text"]!);
    }

    [Fact]
    public void NearestIsExactTopKWithTiesInIdOrder()
    {
        string dir = Path.Combine(TestData.TempDir(), "hand");
        // An index written by hand: four unit vectors in 2-D, two of them identical.
        Directory.CreateDirectory(dir);
        float s = (float)Math.Sqrt(0.5);
        float[][] rows =
        [
            [1, 0],
            [s, s],
            [0, 1],
            [s, s],
        ];
        using (var scope = NewDisposeScope())
            IO.Safetensors.Save(
                Path.Combine(dir, "vectors.safetensors"),
                [("vectors", tensor(rows.SelectMany(r => r).ToArray()).view(4, 2))]
            );
        File.WriteAllText(
            Path.Combine(dir, "passages.jsonl"),
            string.Concat(Enumerable.Range(0, 4).Select(i => $"{{\"id\":{i},\"source\":\"x\",\"text\":\"p{i}\"}}\n"))
        );
        File.WriteAllText(Path.Combine(dir, "index.json"), "{\"model\":\"none\",\"pooling\":\"mean\",\"dimensions\":2,\"passages\":4}");
        var index = VectorIndex.Open(dir);
        var hits = index.Nearest([s, s], 3);
        Assert.Equal([1, 3, 0], hits.Select(h => h.Passage.Id));
        Assert.Equal(1.0, hits[0].Score, 6);
        Assert.Equal(s, hits[2].Score, 6);
        Assert.Equal(4, index.Nearest([0, 1], 10).Count);

        File.WriteAllText(Path.Combine(dir, "index.json"), "{\"model\":\"none\",\"pooling\":\"mean\",\"dimensions\":3,\"passages\":4}");
        var e = Assert.Throws<SharpLMException>(() => VectorIndex.Open(dir));
        Assert.Contains("disagree", e.Message);
    }

    [Fact]
    public void ParagraphsAreBlankLineSeparatedWithWhitespaceCollapsed()
    {
        Assert.Equal(["a b c", "d"], VectorIndex.Paragraphs("a  b\r\nc\n\n\n  d \n"));
    }

    [Fact]
    public void LongParagraphsAreCutIntoRunsOfWholeSentences()
    {
        string paragraph = "One two. Three four five! Six? Seven eight nine ten.";
        Assert.Equal(["One two. Three four five!", "Six? Seven eight nine ten."], VectorIndex.SentenceRuns(paragraph, 26));
        Assert.Equal([paragraph], VectorIndex.SentenceRuns(paragraph, 100));
        // A sentence longer than the limit stays whole.
        Assert.Equal(["One two.", "Three four five!", "Six?", "Seven eight nine ten."], VectorIndex.SentenceRuns(paragraph, 5));
    }

    [Fact]
    public async Task IndexAndSearchMistakesAreOneLine()
    {
        var (model, index, corpus) = await Built();
        var again = await Cli.Run("index", "--model", model, "--input", corpus, "--output", index);
        Assert.Equal(1, again.Code);
        Assert.Contains("--overwrite", again.Err);
        string mine = Path.Combine(TestData.TempDir(), "mine");
        Directory.CreateDirectory(mine);
        File.WriteAllText(Path.Combine(mine, "notes.txt"), "keep");
        var foreign = await Cli.Run("index", "--model", model, "--input", corpus, "--output", mine);
        Assert.Equal(1, foreign.Code);
        Assert.Equal("keep", File.ReadAllText(Path.Combine(mine, "notes.txt")));
        var missing = await Cli.Run("search", "--index", mine, "--query", "x");
        Assert.Equal(1, missing.Code);
        Assert.Contains("is not a search index", missing.Err);
        var top = await Cli.Run("search", "--index", index, "--query", "x", "--top", "0");
        Assert.Equal(1, top.Code);
        Assert.Single(top.Err.Trim().Split('\n'));
    }

    [Fact]
    public async Task AWordVectorIndexAveragesTheWordsVectors()
    {
        string dir = TestData.TempDir();
        string corpus = Path.Combine(dir, "passages.txt");
        File.WriteAllText(corpus, "The whale and the ship\n\nBread from the oven\n\nThe ship sailed, the oven stayed\n");
        string vectors = Path.Combine(dir, "vectors.txt");
        var table = new Dictionary<string, float[]>
        {
            ["whale"] = [1, 0, 0],
            ["ship"] = [0.8f, 0.2f, 0],
            ["bread"] = [0, 1, 0],
            ["oven"] = [0, 0.6f, 0.8f],
            ["sailed"] = [0.5f, 0, 0.5f],
        };
        File.WriteAllLines(vectors, table.Select(kv => kv.Key + " " + string.Join(' ', kv.Value.Select(x => x.ToString("R")))));
        string index = Path.Combine(dir, "index");
        var r = await Cli.Run("index", "--vectors", vectors, "--input", corpus, "--output", index, "--min-chars", "5", "--json");
        Assert.True(r.Code == 0, r.Err);
        Assert.Equal("word-vectors", (string)JsonNode.Parse(r.Out)!["pooling"]!);
        r = await Cli.Run("search", "--index", index, "--query", "a whale!", "--top", "3", "--json");
        Assert.True(r.Code == 0, r.Err);
        var hits = JsonNode.Parse(r.Out)!["results"]![0]!["hits"]!.AsArray();

        // By hand: each passage is the mean of its known words' vectors ("the", "and", "from", "stayed" have none).
        float[] Mean(params string[] words) => Enumerable.Range(0, 3).Select(k => words.Average(w => table[w][k])).ToArray();
        double Cosine(float[] a, float[] b) => a.Zip(b).Sum(p => p.First * p.Second) / Math.Sqrt(a.Sum(x => x * x) * b.Sum(x => x * x));
        float[] query = table["whale"];
        var expected = new[] { Mean("whale", "ship"), Mean("bread", "oven"), Mean("ship", "sailed", "oven") }
            .Select((v, i) => (Score: Cosine(v, query), Id: i))
            .OrderByDescending(x => x.Score)
            .ToList();
        Assert.Equal(expected.Select(e => e.Id), hits.Select(h => (int)h!["passage"]!["id"]!));
        Assert.All(expected.Zip(hits), p => Assert.Equal(p.First.Score, (double)p.Second!["score"]!, 5));

        var both = await Cli.Run("index", "--vectors", vectors, "--model", dir, "--input", corpus, "--output", Path.Combine(dir, "i2"));
        Assert.Equal(1, both.Code);
        Assert.Contains("--model or --vectors, not both", both.Err);
    }
}
