using SharpLM.Embeddings;

namespace SharpLM.Tests;

/// <summary>word2vec: co-occurring words end up nearest, vectors survive a write and reload, bad files are one line.</summary>
public class WordVectorTests
{
    /// <summary>Two topics that never share a sentence: sea words with sea words, kitchen words with kitchen words.</summary>
    static IEnumerable<string> Corpus()
    {
        var rng = new Random(7);
        string[] sea = ["whale", "harpoon", "ocean", "ship", "sail"],
            kitchen = ["bread", "butter", "oven", "flour", "knife"];
        for (int i = 0; i < 400; i++)
        {
            var words = i % 2 == 0 ? sea : kitchen;
            yield return string.Join(' ', Enumerable.Range(0, 8).Select(_ => words[rng.Next(words.Length)]));
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void CoOccurringWordsAreNearest(bool skipGram)
    {
        var vectors = Word2Vec.Train(
            Corpus(),
            new Word2VecOptions
            {
                SkipGram = skipGram,
                Dimensions = 16,
                Window = 3,
                MinCount = 1,
                Epochs = 5,
                Sample = 0,
            }
        );
        Assert.Equal(10, vectors.Words.Count);
        foreach (
            var (word, topic) in new[]
            {
                ("whale", new[] { "harpoon", "ocean", "ship", "sail" }),
                ("bread", new[] { "butter", "oven", "flour", "knife" }),
            }
        )
            Assert.All(vectors.Neighbours(word, 4), n => Assert.Contains(n.Word, topic));
        // The same seed, the same vectors.
        var again = Word2Vec.Train(
            Corpus(),
            new Word2VecOptions
            {
                SkipGram = skipGram,
                Dimensions = 16,
                Window = 3,
                MinCount = 1,
                Epochs = 5,
                Sample = 0,
            }
        );
        Assert.Equal(vectors["whale"].ToArray(), again["whale"].ToArray());
    }

    [Fact]
    public void GloVeFitsTheCountsAndPutsCoOccurringWordsNearest()
    {
        var costs = new List<double>();
        var options = new GloVeOptions
        {
            Dimensions = 16,
            Window = 3,
            MinCount = 1,
            Epochs = 30,
        };
        var vectors = GloVe.Train(Corpus(), options, new Progress(costs));
        Assert.Equal(10, vectors.Words.Count);
        Assert.Equal(30, costs.Count);
        Assert.True(costs[^1] < costs[0] / 10, $"weighted least-squares cost {costs[0]} → {costs[^1]}");
        foreach (
            var (word, topic) in new[]
            {
                ("whale", new[] { "harpoon", "ocean", "ship", "sail" }),
                ("bread", new[] { "butter", "oven", "flour", "knife" }),
            }
        )
            Assert.All(vectors.Neighbours(word, 4), n => Assert.Contains(n.Word, topic));
        Assert.Equal(vectors["whale"].ToArray(), GloVe.Train(Corpus(), options)["whale"].ToArray());

        // GloVe's own file format: the same rows without the header, read back identically.
        string path = Path.Combine(TestData.TempDir(), "glove.txt");
        vectors.Save(path, header: false);
        Assert.StartsWith(vectors.Words[0] + " ", File.ReadAllText(path));
        var loaded = WordVectors.Load(path);
        Assert.Equal(vectors.Words, loaded.Words);
        Assert.All(vectors.Words, w => Assert.Equal(vectors[w].ToArray(), loaded[w].ToArray()));
    }

    /// <summary>Collects reported costs synchronously (Progress&lt;T&gt; would post them later).</summary>
    sealed class Progress(List<double> costs) : IProgress<(int Epoch, double Loss)>
    {
        public void Report((int Epoch, double Loss) value) => costs.Add(value.Loss);
    }

    [Fact]
    public void WrittenVectorsReloadIdenticallyAndBadRowsAreOneLine()
    {
        var vectors = Word2Vec.Train(
            Corpus(),
            new Word2VecOptions
            {
                Dimensions = 8,
                MinCount = 1,
                Epochs = 1,
            }
        );
        string path = Path.Combine(TestData.TempDir(), "vectors.txt");
        vectors.Save(path);
        Assert.StartsWith("10 8\n", File.ReadAllText(path));
        var loaded = WordVectors.Load(path);
        Assert.Equal(vectors.Words, loaded.Words);
        foreach (var w in vectors.Words)
            Assert.Equal(vectors[w].ToArray(), loaded[w].ToArray());

        // GloVe's format: the same rows without the header.
        File.WriteAllLines(path, ["king 1 0 0", "queen 1 1 0", "man 0 0 1", "woman 0 1 1", "apple 5 -1 0"]);
        var glove = WordVectors.Load(path);
        Assert.Equal("queen", glove.Analogy("man", "woman", "king")[0].Word);
        string questions = Path.Combine(TestData.TempDir(), "questions.txt");
        File.WriteAllLines(questions, [": gender", "man woman king queen", "Man Woman King Apple", "man woman king prince"]);
        Assert.Equal((1, 2, 1), glove.AnalogyAccuracy(questions)); // right, wrong, and one with a word outside the vocabulary
        File.WriteAllLines(path, ["3 2", "a 1 0", "b 0 1 2", "c 1 1"]);
        var e = Assert.Throws<SharpLMException>(() => WordVectors.Load(path));
        Assert.Contains("line 3 has 3 numbers but the vectors have 2 dimensions", e.Message);
    }

    [Fact]
    public async Task TheCommandsTrainAndQuery()
    {
        string dir = TestData.TempDir();
        string corpus = Path.Combine(dir, "corpus.txt");
        File.WriteAllLines(corpus, Corpus());
        string output = Path.Combine(dir, "vectors");
        var train = await Cli.Run(
            "embeddings",
            "train",
            "--input",
            corpus,
            "--output",
            output,
            "--dim",
            "16",
            "--min-count",
            "1",
            "--window",
            "3"
        );
        Assert.True(train.Code == 0, train.Err);
        var neighbours = await Cli.Run("embeddings", "neighbours", "--vectors", output, "--word", "Whale", "--top", "3", "--json");
        Assert.True(neighbours.Code == 0, neighbours.Err);
        Assert.Contains("\"query\":\"whale\"", neighbours.Out.Replace(" ", ""));
        var unknown = await Cli.Run("embeddings", "neighbours", "--vectors", output, "--word", "zebra");
        Assert.Equal(1, unknown.Code);
        Assert.Contains("'zebra' is not in the vocabulary", unknown.Err);
        var analogy = await Cli.Run("embeddings", "analogy", "--vectors", output, "--words", "whale", "ship");
        Assert.Equal(1, analogy.Code);
        Assert.Contains("three words", analogy.Err);
    }
}
