using System.Text.Json;
using SharpLM.Cli;

namespace SharpLM.Tests;

public class CliTests
{
    static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await CliApp.RunAsync(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    static void AssertUserError((int Code, string Out, string Err) r, string expected)
    {
        Assert.Equal(1, r.Code);
        Assert.Contains(expected, r.Err);
        Assert.StartsWith("error: ", r.Err);
        Assert.Single(r.Err.TrimEnd().Split('\n')); // one line, no stack trace
        Assert.DoesNotContain("   at ", r.Err);
    }

    [Fact]
    public async Task EncodeDecodeJson()
    {
        var enc = await Run("tokenizer", "encode", "--tokenizer", "gpt2", "--text", "Hello world", "--json");
        Assert.Equal(0, enc.Code);
        Assert.Equal("{\"ids\":[15496,995]}", enc.Out.Trim());
        var dec = await Run("tokenizer", "decode", "--tokenizer", "gpt2", "--ids", "15496,995", "--json");
        Assert.Equal("Hello world", JsonDocument.Parse(dec.Out).RootElement.GetProperty("text").GetString());
        var special = await Run("tokenizer", "encode", "--tokenizer", "gpt2", "--text", "<|endoftext|>", "--special", "--json");
        Assert.Equal("{\"ids\":[50256]}", special.Out.Trim());
    }

    [Fact]
    public async Task TrainEncodePrepareEndToEnd()
    {
        string dir = TestData.TempDir();
        string input = Path.Combine(dir, "in.txt");
        File.WriteAllText(input, string.Join('\n', Enumerable.Repeat("the quick brown fox jumps over the lazy dog", 200)));
        var train = await Run("tokenizer", "train", "--input", input, "--vocab-size", "300", "--output", Path.Combine(dir, "tok"), "--json");
        Assert.Equal(0, train.Code);
        Assert.InRange(JsonDocument.Parse(train.Out).RootElement.GetProperty("vocabSize").GetInt32(), 258, 300); // stops early when no pair repeats
        var enc = await Run("tokenizer", "encode", "--tokenizer", Path.Combine(dir, "tok"), "--text", "the quick brown fox", "--json");
        Assert.Equal(0, enc.Code);
        var prep = await Run("prepare", "--input", input, "--tokenizer", Path.Combine(dir, "tok", "tokenizer.json"), "--output", Path.Combine(dir, "shards"), "--json");
        Assert.Equal(0, prep.Code);
        var summary = JsonDocument.Parse(prep.Out).RootElement;
        Assert.True(summary.GetProperty("train").GetProperty("tokens").GetInt64() > 0);
        Assert.True(File.Exists(Path.Combine(dir, "shards", "summary.json")));
        Assert.True(File.Exists(Path.Combine(dir, "shards", "tokenizer.json")));
    }

    [Fact]
    public async Task MissingFile() =>
        AssertUserError(await Run("prepare", "--input", "/nonexistent/corpus.txt", "--tokenizer", "gpt2", "--output", TestData.TempDir()), "does not exist");

    [Fact]
    public async Task EmptyCorpus()
    {
        string dir = TestData.TempDir();
        string input = Path.Combine(dir, "empty.txt");
        File.WriteAllText(input, "");
        AssertUserError(await Run("prepare", "--input", input, "--tokenizer", "char", "--output", Path.Combine(dir, "out")), "empty");
        AssertUserError(await Run("tokenizer", "train", "--input", input, "--vocab-size", "300", "--output", Path.Combine(dir, "tok")), "empty");
        Assert.False(Directory.Exists(Path.Combine(dir, "out")));
    }

    [Fact]
    public async Task VocabularySmallerThanBytes()
    {
        string dir = TestData.TempDir();
        string input = Path.Combine(dir, "in.txt");
        File.WriteAllText(input, "some text");
        AssertUserError(await Run("tokenizer", "train", "--input", input, "--vocab-size", "100", "--output", dir), "smaller than the byte alphabet");
    }

    [Fact]
    public async Task CorruptTokenizerJson()
    {
        string path = Path.Combine(TestData.TempDir(), "tokenizer.json");
        File.WriteAllText(path, "{\"model\": {\"type\": \"BPE\", \"vo");
        AssertUserError(await Run("tokenizer", "encode", "--tokenizer", path, "--text", "hi"), "corrupt or truncated");
    }

    [Fact]
    public async Task UnknownDataSet() => AssertUserError(await Run("data", "get", "no-such-set"), "Unknown data set 'no-such-set'");

    [Fact]
    public void ShardWithWrongMagic()
    {
        string dir = TestData.TempDir();
        string shard = Path.Combine(dir, "train_000000.bin");
        File.WriteAllBytes(shard, new byte[2048]);
        var e = Assert.Throws<SharpLMException>(() => SharpLM.Data.TokenShard.ReadAll(shard));
        Assert.Contains("is not a token shard (magic 0", e.Message);
    }

    [Fact]
    public async Task UsageErrorsExitWithTwo()
    {
        var r = await Run("tokenizer", "encode", "--text", "x", "--frobnicate");
        Assert.Equal(2, r.Code);
        Assert.Contains("--help", r.Err);
        var kind = await Run("tokenizer", "train", "--input", "x", "--output", "y", "--kind", "sentencepiece");
        Assert.Equal(2, kind.Code);
    }

    [Fact]
    public async Task BadIdsAndBadValues()
    {
        AssertUserError(await Run("tokenizer", "decode", "--tokenizer", "gpt2", "--ids", "1,x"), "is not an integer");
        AssertUserError(await Run("tokenizer", "decode", "--tokenizer", "gpt2", "--ids", "99999999"), "outside the vocabulary");
        AssertUserError(await Run("prepare", "--input", "moby-dick", "--tokenizer", "char", "--output", TestData.TempDir(), "--val-fraction", "1.5"), "--val-fraction");
    }

    [Fact]
    public async Task HelpWorksEverywhere()
    {
        foreach (var path in new[] { new[] { "--help" }, ["data", "--help"], ["data", "get", "--help"], ["tokenizer", "train", "--help"], ["prepare", "--help"], ["bench", "tokenizer", "--help"], ["quickstart", "--help"] })
        {
            var r = await Run(path);
            Assert.Equal(0, r.Code);
            Assert.Contains("Usage", r.Out);
        }
    }
}
