using System.Text.Json;
using SharpLM.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Tests;

/// <summary>The textbook classifiers: embedding → mean-pool → MLP and embedding → BiLSTM → dense.</summary>
[Collection(TorchCollection.Name)]
public class WordClassifierTests
{
    static WordClassifier Build(string type, int layers)
    {
        manual_seed(4);
        var config = new WordClassifierConfig
        {
            ModelType = type,
            VocabSize = 30,
            EmbeddingDim = 16,
            HiddenSize = 12,
            NumLayers = layers,
            Dropout = 0.1,
            Labels = ["a", "b", "c"],
            MaxInputTokens = 10,
        };
        WordClassifier model = type == "sharplm-bilstm" ? new BiLstmClassifier(config) : new EmbeddingMlpClassifier(config);
        model.eval();
        return model;
    }

    [Theory]
    [InlineData("sharplm-mlp", 2)]
    [InlineData("sharplm-bilstm", 1)]
    [InlineData("sharplm-bilstm", 2)]
    public void PaddingNeverChangesATextsLogits(string type, int layers)
    {
        using var model = Build(type, layers);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long[] text = [5, 6, 7],
            longer = [8, 9, 10, 11, 12, 13];
        var alone = model.Logits(tensor(text).unsqueeze(0), ones(1, 3, ScalarType.Bool));
        var ids = tensor(text.Concat(new long[] { 0, 0, 0 }).Concat(longer).ToArray(), [2, 6]);
        var attend = tensor(new[] { true, true, true, false, false, false, true, true, true, true, true, true }, [2, 6]);
        var batch = model.Logits(ids, attend);
        Assert.True(alone[0].allclose(batch[0], rtol: 1e-5, atol: 1e-6), "padding changed the logits");
        // Reading the padding as real tokens would change them.
        var unmasked = model.Logits(ids, ones(2, 6, ScalarType.Bool));
        Assert.False(alone[0].allclose(unmasked[0], rtol: 1e-5, atol: 1e-6));
        // Layers are named for freezing: the MLP's layers.N, the LSTM's weight_*_lN.
        Assert.Contains(model.named_parameters(), p => model.LayerOf(p.name) == layers - 1);
        Assert.Contains(model.named_parameters(), p => model.IsEmbedding(p.name));
    }

    [Theory]
    [InlineData("mlp", "sharplm-mlp")]
    [InlineData("bilstm", "sharplm-bilstm")]
    public async Task FineTuneLearnsTheToyReviews(string architecture, string modelType)
    {
        var (dir, csv, tok) = await FineTuningCliTests.ToyCsvFiles();
        string run = Path.Combine(dir, architecture);
        var (code, output, err) = await Cli.Run(
            "finetune",
            "--architecture",
            architecture,
            "--data",
            csv,
            "--text-column",
            "review",
            "--label-column",
            "sentiment",
            "--output",
            run,
            "--tokenizer",
            tok,
            "--n-layer",
            "1",
            "--n-embd",
            "32",
            "--block-size",
            "16",
            "--lr",
            "5e-3",
            "--epochs",
            "8",
            "--eval-interval",
            "20",
            "--json"
        );
        Assert.True(code == 0, err);
        using var result = JsonDocument.Parse(output);
        Assert.True(result.RootElement.GetProperty("test").GetProperty("accuracy").GetDouble() >= 0.95, output);
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "config.json")));
        Assert.Equal(modelType, config.RootElement.GetProperty("model_type").GetString());

        (code, output, err) = await Cli.Run("classify", "--model", run, "--text", "the food was superb", "--json");
        Assert.True(code == 0, err);
        Assert.Contains("\"pos\"", output);
        (code, output, err) = await Cli.Run("eval", "--model", run, "--json");
        Assert.True(code == 0, err);
        (code, _, err) = await Cli.Run(
            "finetune",
            "--architecture",
            architecture,
            "--from",
            run,
            "--data",
            csv,
            "--text-column",
            "review",
            "--label-column",
            "sentiment",
            "--output",
            Path.Combine(dir, "again")
        );
        Assert.Equal(1, code);
        Assert.Contains("learns its embeddings from scratch", err);
    }

    [Theory]
    [InlineData("mlp", true)]
    [InlineData("bilstm", false)]
    public async Task WordVectorsStartTheEmbeddingsAndFreezingKeepsThem(string architecture, bool freeze)
    {
        var (dir, csv, _) = await FineTuningCliTests.ToyCsvFiles();
        // Hand-made 8-dimensional vectors: the sentiment words on one axis, the filler words on others.
        string[] good = ["great", "lovely", "superb"],
            bad = ["awful", "terrible", "grim"],
            filler = ["the", "food", "was", "room", "very"];
        float[] Vector(string w, int k)
        {
            var v = new float[8];
            v[0] =
                good.Contains(w) ? 1
                : bad.Contains(w) ? -1
                : 0;
            v[1 + k % 7] = 0.5f;
            return v;
        }
        var words = good.Concat(bad).Concat(filler).ToArray();
        string vectors = Path.Combine(dir, $"vectors-{architecture}.txt");
        File.WriteAllLines(
            vectors,
            [$"{words.Length} 8", .. words.Select((w, k) => w + " " + string.Join(' ', Vector(w, k).Select(x => x.ToString("R"))))]
        );
        string run = Path.Combine(dir, $"wv-{architecture}");
        string[] args =
        [
            "finetune",
            "--architecture",
            architecture,
            "--data",
            csv,
            "--text-column",
            "review",
            "--label-column",
            "sentiment",
            "--output",
            run,
            "--word-vectors",
            vectors,
            "--n-layer",
            "1",
            "--block-size",
            "16",
            "--lr",
            "5e-3",
            "--epochs",
            "4",
            "--eval-interval",
            "20",
            "--json",
        ];
        var (code, output, err) = await Cli.Run(freeze ? [.. args, "--freeze-embeddings"] : args);
        Assert.True(code == 0, err);
        using (var result = JsonDocument.Parse(output))
            Assert.True(result.RootElement.GetProperty("test").GetProperty("accuracy").GetDouble() >= 0.95, output);

        // The vocabulary is the vectors' words; each embedding row started as its word's vector and, frozen, stayed it.
        using var loaded = SharpLM.Kinds.ModelRegistry.Load(run);
        var tokenizer = loaded.Tokenizer;
        Assert.Equal(5 + words.Length, tokenizer.VocabSize);
        Assert.Equal([tokenizer.Encode("superb")[0], tokenizer.SpecialTokenId("[UNK]")!.Value], tokenizer.Encode("Superb unheard"));
        var classifier = loaded.As<WordClassifier>("a test");
        var embedding = classifier.named_parameters().First(p => classifier.IsEmbedding(p.name)).parameter;
        Assert.Equal(8, embedding.shape[1]);
        for (int k = 0; k < words.Length; k++)
        {
            var row = embedding[tokenizer.Encode(words[k])[0]].data<float>().ToArray();
            if (freeze)
                Assert.Equal(Vector(words[k], k), row);
            else
                Assert.NotEqual(Vector(words[k], k), row);
        }

        (code, _, err) = await Cli.Run(
            "finetune",
            "--architecture",
            "bert",
            "--data",
            csv,
            "--text-column",
            "review",
            "--label-column",
            "sentiment",
            "--output",
            Path.Combine(dir, "wv-bert"),
            "--word-vectors",
            vectors
        );
        Assert.Equal(1, code);
        Assert.Contains("--word-vectors start the embeddings of the mlp and bilstm classifiers", err);
    }
}
