using System.Text.Json;
using SharpLM.Cli;

namespace SharpLM.Tests;

[Collection(TorchCollection.Name)]
public class CliTests
{
    static Task<(int Code, string Out, string Err)> Run(params string[] args) => Cli.Run(args);

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
    public async Task PrepareRedactsPiiBeforeTokenizingAndCountsIt()
    {
        string dir = TestData.TempDir();
        string input = Path.Combine(dir, "in.txt");
        File.WriteAllText(input, "Mail ahab@pequod.example.org or call +1 555 123 4567 from 10.1.2.3.\n");
        string output = Path.Combine(dir, "out");
        var prep = await Run("prepare", "--input", input, "--tokenizer", "gpt2", "--output", output, "--val-fraction", "0", "--redact-pii");
        Assert.True(prep.Code == 0, prep.Err);
        Assert.Contains("redacted 1 e-mail addresses, 1 phone numbers, 1 IP addresses", prep.Out);
        var gpt2 = await SharpLM.Sources.TokenizerSource.LoadAsync("gpt2", TestData.Catalog);
        string text = gpt2.Decode(SharpLM.Data.TokenShard.ReadAll(Directory.GetFiles(output, "*train*.bin").Single()));
        Assert.Equal("Mail [EMAIL] or call [PHONE] from [IP].\n", text);
        var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "summary.json"))).RootElement;
        Assert.Equal(1, summary.GetProperty("redacted").GetProperty("emails").GetInt64());
    }

    [Fact]
    public async Task TrainEncodePrepareEndToEnd()
    {
        string dir = TestData.TempDir();
        string input = Path.Combine(dir, "in.txt");
        File.WriteAllText(input, string.Join('\n', Enumerable.Repeat("the quick brown fox jumps over the lazy dog", 200)));
        var train = await Run(
            "tokenizer",
            "train",
            "--input",
            input,
            "--vocab-size",
            "300",
            "--output",
            Path.Combine(dir, "tok"),
            "--json"
        );
        Assert.Equal(0, train.Code);
        // stops early when no pair repeats
        Assert.InRange(JsonDocument.Parse(train.Out).RootElement.GetProperty("vocabSize").GetInt32(), 258, 300);
        var enc = await Run("tokenizer", "encode", "--tokenizer", Path.Combine(dir, "tok"), "--text", "the quick brown fox", "--json");
        Assert.Equal(0, enc.Code);
        var prep = await Run(
            "prepare",
            "--input",
            input,
            "--tokenizer",
            Path.Combine(dir, "tok", "tokenizer.json"),
            "--output",
            Path.Combine(dir, "shards"),
            "--json"
        );
        Assert.Equal(0, prep.Code);
        var summary = JsonDocument.Parse(prep.Out).RootElement;
        Assert.True(summary.GetProperty("train").GetProperty("tokens").GetInt64() > 0);
        Assert.True(File.Exists(Path.Combine(dir, "shards", "summary.json")));
        Assert.True(File.Exists(Path.Combine(dir, "shards", "tokenizer.json")));
    }

    [Fact]
    public async Task MissingFile() =>
        AssertUserError(
            await Run("prepare", "--input", "/nonexistent/corpus.txt", "--tokenizer", "gpt2", "--output", TestData.TempDir()),
            "does not exist"
        );

    [Fact]
    public async Task EmptyCorpus()
    {
        string dir = TestData.TempDir();
        string input = Path.Combine(dir, "empty.txt");
        File.WriteAllText(input, "");
        AssertUserError(await Run("prepare", "--input", input, "--tokenizer", "char", "--output", Path.Combine(dir, "out")), "empty");
        AssertUserError(
            await Run("tokenizer", "train", "--input", input, "--vocab-size", "300", "--output", Path.Combine(dir, "tok")),
            "empty"
        );
        Assert.False(Directory.Exists(Path.Combine(dir, "out")));
    }

    [Fact]
    public async Task VocabularySmallerThanBytes()
    {
        string dir = TestData.TempDir();
        string input = Path.Combine(dir, "in.txt");
        File.WriteAllText(input, "some text");
        AssertUserError(
            await Run("tokenizer", "train", "--input", input, "--vocab-size", "100", "--output", Path.Combine(dir, "tok")),
            "smaller than the byte alphabet"
        );
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
        AssertUserError(
            await Run("prepare", "--input", "moby-dick", "--tokenizer", "char", "--output", TestData.TempDir(), "--val-fraction", "1.5"),
            "--val-fraction"
        );
    }

    [Fact]
    public async Task HelpWorksEverywhere()
    {
        var root = CliApp.BuildRoot(new CliContext(TextWriter.Null, TextWriter.Null));
        var commands = root
            .Subcommands.SelectMany(c =>
                c.Subcommands.Count > 0
                    ? c.Subcommands.Select(s => new[] { c.Name, s.Name })
                    :
                    [
                        [c.Name],
                    ]
            )
            .ToList();
        Assert.Equal(29, commands.Count); // every command, so that a new one is covered too
        foreach (var path in commands.Prepend([]))
        {
            var r = await Run([.. path, "--help"]);
            Assert.Equal(0, r.Code);
            Assert.Contains("Usage", r.Out);
            Assert.Contains(path.Length == 0 ? "sharplm" : path[^1], r.Out);
        }
        // The benchmarks are their own executable: the shipped tool has no bench command (and does not carry ML.NET).
        Assert.Equal(2, (await Run("bench", "tokenizer")).Code);
        foreach (
            var bench in new[] { "tokenizer", "train", "generate", "serve", "classify", "heap", "lstm", "quantize", "prune", "export" }
        )
        {
            var output = new StringWriter();
            Assert.Equal(0, await CliApp.RunAsync([bench, "--help"], output, TextWriter.Null, SharpLM.Bench.BenchCommands.BuildRoot));
            Assert.Contains("Usage", output.ToString());
        }
    }

    [Fact]
    public async Task TrainEvalGenerateFromTheCommandLine()
    {
        string data = await TrainingTests.PreparedData(string.Concat(Enumerable.Repeat("to be or not to be, that is the question. ", 100)));
        string run = Path.Combine(TestData.TempDir(), "run");
        var train = await Run(
            "train",
            "--data",
            data,
            "--output",
            run,
            "--preset",
            "tiny",
            "--max-steps",
            "60",
            "--eval-interval",
            "30",
            "--json"
        );
        Assert.Equal(0, train.Code);
        using var result = JsonDocument.Parse(train.Out);
        Assert.Equal(60, result.RootElement.GetProperty("steps").GetInt32());
        Assert.Contains("step     30: val loss", train.Err);

        var eval = await Run("eval", "--model", run, "--json");
        Assert.Equal(0, eval.Code);
        using var metrics = JsonDocument.Parse(eval.Out);
        double loss = metrics.RootElement.GetProperty("loss").GetDouble();
        Assert.Equal(Math.Exp(loss), metrics.RootElement.GetProperty("perplexity").GetDouble(), 6);
        // 15 symbols: an untrained model scores ln 15 = 2.71 nats; 60 steps reach about 2.0.
        Assert.True(loss is > 0 and < 0.85 * 2.708, $"loss {loss}");

        var gen = await Run(
            "generate",
            "--model",
            run,
            "--prompt",
            "to be",
            "--prompt",
            "that",
            "--max-new-tokens",
            "12",
            "--seed",
            "5",
            "--json"
        );
        Assert.Equal(0, gen.Code);
        using var results = JsonDocument.Parse(gen.Out);
        Assert.Equal(2, results.RootElement.GetProperty("results").GetArrayLength());
        var again = await Run(
            "generate",
            "--model",
            run,
            "--prompt",
            "to be",
            "--prompt",
            "that",
            "--max-new-tokens",
            "12",
            "--seed",
            "5",
            "--json"
        );
        using var againResults = JsonDocument.Parse(again.Out);
        Assert.Equal(results.RootElement.GetProperty("results").GetRawText(), againResults.RootElement.GetProperty("results").GetRawText());

        var streamed = await Run("generate", "--model", run, "--prompt", "to be", "--max-new-tokens", "12", "--temperature", "0");
        Assert.Equal(0, streamed.Code);
        Assert.StartsWith("to be", streamed.Out);

        var resumed = await Run("train", "--output", run, "--resume", "--max-steps", "70", "--json");
        Assert.Equal(0, resumed.Code);
        using var more = JsonDocument.Parse(resumed.Out);
        Assert.Equal(70, more.RootElement.GetProperty("steps").GetInt32());
    }

    [Fact]
    public async Task TrainingAndGenerationErrorsAreOneLine()
    {
        string data = await TrainingTests.PreparedData(string.Concat(Enumerable.Repeat("abc def ghi. ", 200)));
        string dir = TestData.TempDir();
        AssertUserError(
            await Run("train", "--data", data, "--output", Path.Combine(dir, "a"), "--n-embd", "30", "--n-head", "4"),
            "divisible by --n-head"
        );
        AssertUserError(await Run("train", "--data", Path.Combine(dir, "missing"), "--output", Path.Combine(dir, "b")), "does not exist");
        AssertUserError(await Run("train", "--data", data, "--output", Path.Combine(dir, "c"), "--preset", "huge"), "Unknown preset");
        AssertUserError(
            await Run("train", "--data", data, "--output", Path.Combine(dir, "d"), "--optimizer", "lion"),
            "--optimizer 'lion'"
        );
        AssertUserError(
            await Run("train", "--data", data, "--output", Path.Combine(dir, "e"), "--lr", "-1"),
            "Training option --lr must be in (0, 10)"
        );
        AssertUserError(await Run("train", "--output", Path.Combine(dir, "f"), "--resume"), "no training.json");
        AssertUserError(await Run("eval", "--model", Path.Combine(dir, "nothing")), "does not exist");
        AssertUserError(await Run("generate", "--model", Path.Combine(dir, "nothing")), "does not exist");
        Assert.Equal(2, (await Run("train", "--data", data, "--output", dir, "--max-steps", "many")).Code);

        string run = Path.Combine(dir, "run");
        Assert.Equal(
            0,
            (
                await Run(
                    "train",
                    "--data",
                    data,
                    "--output",
                    run,
                    "--preset",
                    "tiny",
                    "--max-steps",
                    "5",
                    "--eval-interval",
                    "5",
                    "--json"
                )
            ).Code
        );
        AssertUserError(await Run("generate", "--model", run, "--top-p", "0"), "--top-p");
        var weights = Path.Combine(run, "model.safetensors");
        File.WriteAllBytes(weights, File.ReadAllBytes(weights)[..200]);
        AssertUserError(await Run("generate", "--model", run), "not a valid safetensors file");
        File.WriteAllText(Path.Combine(run, "config.json"), "{\"model_type\": \"gpt2\", \"n_head\": 0}");
        AssertUserError(await Run("eval", "--model", run), "n_head must be a positive integer");
        File.WriteAllText(Path.Combine(run, "config.json"), "{\"n_head\": 4}");
        AssertUserError(await Run("eval", "--model", run), "has no model_type");
        File.WriteAllText(Path.Combine(run, "config.json"), "{\"model_type\": \"t5\"}");
        AssertUserError(await Run("generate", "--model", run), "holds a 't5' model");
    }
}
