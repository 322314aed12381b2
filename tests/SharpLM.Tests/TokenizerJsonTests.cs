using System.Text.Json;
using SharpLM.Data;
using SharpLM.Tokenization;

namespace SharpLM.Tests;

public class TokenizerJsonTests
{
    static readonly string[] Samples =
    [
        "Call me Ishmael. Some years ago—never mind how long precisely—having little or no money in my purse,",
        "The whale! the whale! 1851, Chapter 42: “The Whiteness of the Whale.”",
        "héllo wörld naïve café 中文 😀",
    ];

    static ByteLevelBpeTokenizer TrainSmallBpe(string text) =>
        TokenizerTrainer.TrainBpe([text], new TokenizerTrainingOptions { VocabSize = 600 });

    [Fact]
    public async Task TrainedBpeSurvivesSaveAndLoad()
    {
        string moby = await File.ReadAllTextAsync(await TestData.MobyDickPath());
        var tok = TrainSmallBpe(moby[..200_000]);
        string path = Path.Combine(TestData.TempDir(), "tokenizer.json");
        tok.Save(path);
        var loaded = TokenizerJson.Load(path);
        Assert.IsType<ByteLevelBpeTokenizer>(loaded);
        Assert.Equal(tok.VocabSize, loaded.VocabSize);
        foreach (string s in Samples.Concat(TestData.Hostile).Append(moby[200_000..260_000]))
            Assert.Equal(tok.Encode(s), loaded.Encode(s));
        Assert.Equal(tok.Encode("<|endoftext|>", true), loaded.Encode("<|endoftext|>", true));
    }

    [Fact]
    public async Task Gpt2SurvivesSaveAndLoad()
    {
        var gpt2 = await TestData.Gpt2();
        string path = Path.Combine(TestData.TempDir(), "tokenizer.json");
        gpt2.Save(path);
        var loaded = TokenizerJson.Load(path);
        string moby = await File.ReadAllTextAsync(await TestData.MobyDickPath());
        Assert.Equal(gpt2.Encode(moby[..100_000]), loaded.Encode(moby[..100_000]));
        foreach (var (sample, ids) in await Gpt2TokenizerTests.R50kCases())
            Assert.Equal(ids, loaded.Encode(sample));
    }

    [Fact]
    public void WordPieceAndCharSurviveSaveAndLoad()
    {
        string text = string.Join('\n', Enumerable.Repeat(string.Join(' ', Samples), 20));
        Tokenizer[] tokenizers =
        [
            TokenizerTrainer.TrainWordPiece([text], new TokenizerTrainingOptions { VocabSize = 300 }),
            CharTokenizer.FromTexts([text]),
        ];
        foreach (var tok in tokenizers)
        {
            string path = Path.Combine(TestData.TempDir(), "tokenizer.json");
            tok.Save(path);
            var loaded = TokenizerJson.Load(path);
            Assert.Equal(tok.GetType(), loaded.GetType());
            Assert.Equal(tok.VocabSize, loaded.VocabSize);
            foreach (string s in Samples)
                Assert.Equal(tok.Encode(s), loaded.Encode(s));
        }
    }

    /// <summary>
    /// Qwen3's tokenizer.json (NFC normalizer, Split regex + ByteLevel pre-tokenizer, list-form merges, added tokens)
    /// against ids from the JavaScript port of Hugging Face tokenizers (tools/crosscheck/encode.mjs → Fixtures/qwen3-cases.json).
    /// </summary>
    [Fact]
    public async Task ReadsQwen3TokenizerJsonLikeHuggingFace()
    {
        string dir = await TestData.Catalog.GetAsync(Catalog.Get("qwen3-tokenizer"));
        var tok = TokenizerJson.Load(Path.Combine(dir, "models", "tokenizer.json"));
        var cases = CrossCheckCase.Load("qwen3-cases.json");
        Assert.NotEmpty(cases);
        foreach (var c in cases)
        {
            Assert.Equal(c.Ids, tok.Encode(c.Text, allowSpecial: true));
            Assert.Equal(c.Text.Normalize(), tok.Decode(c.Ids));
        }
    }

    public sealed record CrossCheckCase(string Text, int[] Ids)
    {
        public static List<CrossCheckCase> Load(string fixture) =>
            JsonSerializer.Deserialize<List<CrossCheckCase>>(
                File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", fixture)),
                new JsonSerializerOptions { PropertyNameCaseInsensitive = true }
            )!;
    }

    [Theory]
    [InlineData("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}", "not valid JSON")]
    [InlineData("[1, 2, 3]", "top level is not an object")]
    [InlineData("{\"version\": \"1.0\"}", "field 'model' is missing")]
    [InlineData("{\"model\": {\"type\": \"Unigram\", \"vocab\": {}}}", "model type 'Unigram' is not supported")]
    [InlineData(
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"decoder\": {\"type\": \"ByteLevel\"}}",
        "no token for byte"
    )]
    public void CorruptFilesGiveOneClearSentence(string content, string expected)
    {
        string path = Path.Combine(TestData.TempDir(), "tokenizer.json");
        File.WriteAllText(path, content);
        var e = Assert.Throws<SharpLMException>(() => TokenizerJson.Load(path));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void TruncatedFileIsReported()
    {
        var tok = CharTokenizer.FromTexts(["abc"]);
        string path = Path.Combine(TestData.TempDir(), "tokenizer.json");
        tok.Save(path);
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<SharpLMException>(() => TokenizerJson.Load(path));
        Assert.Contains("corrupt or truncated", e.Message);
    }
}

/// <summary>
/// Files we write, read by the JavaScript port of Hugging Face tokenizers (tools/crosscheck/encode.mjs). The fixtures
/// hold its ids for tokenizers trained by `sharplm tokenizer train` on the first 300,000 bytes of moby-dick; the test
/// trains them again (training is deterministic) and requires the same ids.
/// </summary>
public class TokenizerJsonCrossCheckTests
{
    [Theory]
    [InlineData("bpe", "1000")]
    [InlineData("wordpiece", "1000")]
    [InlineData("char", "0")]
    public async Task HuggingFaceReadsOurFilesAsWeDo(string kind, string vocab)
    {
        string dir = TestData.TempDir();
        string input = Path.Combine(dir, "moby300k.txt");
        File.WriteAllBytes(input, File.ReadAllBytes(await TestData.MobyDickPath())[..300_000]);
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await SharpLM.Cli.CliApp.RunAsync(
            [
                "tokenizer",
                "train",
                "--input",
                input,
                "--kind",
                kind,
                "--vocab-size",
                vocab == "0" ? "1" : vocab,
                "--output",
                Path.Combine(dir, "tok"),
            ],
            output,
            error
        );
        Assert.True(code == 0, error.ToString());
        // The exact bytes Hugging Face's JS pipeline read when the fixtures were made (tools/crosscheck/README.md).
        var hashes = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(
            File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "ours-hf-js-sha256.json"))
        )!;
        Assert.Equal(
            hashes[kind],
            Convert.ToHexStringLower(
                System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(dir, "tok", "tokenizer.json")))
            )
        );
        var tok = TokenizerJson.Load(Path.Combine(dir, "tok"));
        var cases = TokenizerJsonTests.CrossCheckCase.Load($"ours-{(kind == "wordpiece" ? "wp" : kind)}-hf-js.json");
        Assert.NotEmpty(cases);
        foreach (var c in cases)
            Assert.Equal(c.Ids, tok.Encode(c.Text, allowSpecial: true));
    }
}

public class BertVocabularyTests
{
    [Fact]
    public async Task BertBaseUncasedFromTheCatalogueGivesTheReferenceIds()
    {
        var bert = (SharpLM.Tokenization.WordPieceTokenizer)
            await SharpLM.Sources.TokenizerSource.LoadAsync("bert-base-uncased", TestData.Catalog);
        Assert.Equal(30522, bert.VocabSize);
        // Ids from the bert-base-uncased vocab.txt: [CLS] 101, [SEP] 102, [MASK] 103, [PAD] 0, [UNK] 100.
        Assert.Equal(
            [101, 102, 103, 0, 100],
            new[] { "[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]" }.Select(t => bert.SpecialTokenId(t)!.Value)
        );
        Assert.Equal([7592, 1010, 2088, 999], bert.Encode("Hello, World!"));
        Assert.Equal([14477, 20961, 3468], bert.Encode("unaffable")); // una ##ffa ##ble, as Hugging Face's bert-base-uncased
        Assert.Equal([7861, 8270, 4667, 2015], bert.Encode("embeddings")); // em ##bed ##ding ##s
        Assert.Equal("[unused0]", bert.TokenText(1));
    }
}
