using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using SharpLM.Fuzz;
using SharpLM.IO;
using SharpLM.Models;
using SharpLM.Tokenization;

namespace SharpLM.Tests;

/// <summary>
/// Every file SharpLM reads either loads or raises <see cref="SharpLMException"/> — never another exception, a hang or
/// an unbounded allocation. The known holes first, then a short seeded run of the fuzz harness over every parser.
/// </summary>
[Collection(TorchCollection.Name)]
public class ParserTests
{
    static string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(TestData.TempDir(), name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static string Safetensors(string header, int dataBytes = 0)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        return Write("model.safetensors", bytes);
    }

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}""", 0, "size overflows")]
    [InlineData(
        """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""",
        16,
        "appears twice"
    )]
    [InlineData(
        """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""",
        8,
        "not at 8"
    )]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 12, "cover 8 of the 12")]
    [InlineData("""{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}}""", 8, "not a non-negative integer")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}}""", 8, "two data_offsets")]
    [InlineData("""{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}""", 8, "unknown dtype")]
    [InlineData("""[1,2]""", 0, "does not start with '{'")]
    [InlineData("""{"__metadata__":{"format":7}}""", 0, "not a string")]
    public void SafetensorsHeadersThatLieAreRejectedBeforeAnyAllocation(string header, int dataBytes, string expected)
    {
        var e = Assert.Throws<SharpLMException>(() => IO.Safetensors.File.Open(Safetensors(header, dataBytes)));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void AShapeThatDoesNotMatchTheModelIsRefusedBeforeReading()
    {
        var config = new GptConfig
        {
            VocabSize = 40,
            NPositions = 8,
            NEmbd = 8,
            NLayer = 1,
            NHead = 2,
        };
        using var model = new Gpt(config);
        string path = Path.Combine(TestData.TempDir(), "model.safetensors");
        using (var other = new Gpt(config with { VocabSize = 41 }))
            other.SaveWeights(path);
        Assert.Contains(
            "has shape [41, 8] but config.json needs [40, 8]",
            Assert.Throws<SharpLMException>(() => model.LoadWeights(path)).Message
        );
    }

    static Tokenizer LoadTokenizer(string json) => TokenizerJson.Load(Write("tokenizer.json", Encoding.UTF8.GetBytes(json)));

    const string CharModel = "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[]},\"decoder\":{\"type\":\"Fuse\"}";

    [Theory]
    [InlineData("""{"added_tokens":[{"id":2,"content":"","special":true}],""" + CharModel + "}", "added token 2 has empty content")]
    [InlineData("""{"model":{"type":"BPE","vocab":{"a":1000000000},"merges":[]},"decoder":{"type":"Fuse"}}""", "outside the 1 ids")]
    [InlineData("""{"model":{"type":"BPE","vocab":{"a":2147483647},"merges":[]},"decoder":{"type":"Fuse"}}""", "outside the 1 ids")]
    [InlineData(
        """{"added_tokens":[{"id":0,"content":"A"}],"model":{"type":"BPE","vocab":{"a":0,"c":2},"merges":[]},"decoder":{"type":"Fuse"}}""",
        "no token has id 1"
    )]
    [InlineData("""{"added_tokens":[{"id":2,"content":"x"},{"id":2,"content":"y"}],""" + CharModel + "}", "two added tokens have id 2")]
    [InlineData("""{"model":{"type":"BPE","vocab":{"a":1e10},"merges":[]},"decoder":{"type":"Fuse"}}""", "not a usable")]
    public void TokenizerFilesThatWouldLoopOrExplodeAreRejected(string json, string expected)
    {
        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<SharpLMException>(() => LoadTokenizer(json));
        Assert.Contains(expected, e.Message);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task ACatastrophicallyBacktrackingSplitPatternIsAnErrorWithinItsTimeout()
    {
        var gpt2 = await TestData.Gpt2();
        var json = TokenizerJson.ToJson(
            new ByteLevelBpeTokenizer(gpt2.Model, new RegexSplitPreTokenizer("(a|aa)+$", true, "Isolated"), gpt2.AddedTokens)
        );
        var tokenizer = LoadTokenizer(json.ToJsonString());
        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<SharpLMException>(() => tokenizer.Encode(new string('a', 5000) + "!"));
        Assert.Contains("backtracks catastrophically", e.Message);
        Assert.InRange(
            watch.Elapsed.TotalSeconds,
            RegexSplitPreTokenizer.MatchTimeout.TotalSeconds * 0.5,
            2 + RegexSplitPreTokenizer.MatchTimeout.TotalSeconds
        );
    }

    [Fact]
    public void ConfigsForModelsLargerThanMemoryAreRefusedBeforeBuilding()
    {
        string path = Write(
            "config.json",
            Encoding.UTF8.GetBytes(
                """{"model_type":"gpt2","vocab_size":50257,"n_positions":1024,"n_embd":1073741824,"n_layer":12,"n_head":16}"""
            )
        );
        Assert.Contains("more than this machine's", Assert.Throws<SharpLMException>(() => GptConfig.Load(path)).Message);
        path = Write("config.json", Encoding.UTF8.GetBytes("""{"model_type":"bert","labels":["a","a"]}"""));
        Assert.Contains("a label is listed twice", Assert.Throws<SharpLMException>(() => BertConfig.Load(path)).Message);
    }

    [Fact]
    public async Task AShardTokenOutsideTheVocabularyIsAnErrorNotAnIndexCrash()
    {
        string data = await TrainingTests.PreparedData(string.Concat(Enumerable.Repeat("abcabc ", 100)));
        string shard = Directory.GetFiles(data, "train_*.bin")[0];
        var bytes = File.ReadAllBytes(shard);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(TokenShardHeader + 6), 999);
        File.WriteAllBytes(shard, bytes);
        using var dataset = Data.TokenDataset.Open(data, "train", vocabSize: 4);
        var e = Assert.Throws<SharpLMException>(() => dataset.Read(0, new int[8]));
        Assert.Contains("holds token id 999, outside the vocabulary of 4", e.Message);
    }

    const int TokenShardHeader = Data.TokenShard.HeaderBytes;

    /// <summary>
    /// A short, seeded run of the harness behind `sharplm-fuzz` (README: Reliability): the same inputs every run, so a
    /// failure reproduces. The long campaign uses the same targets and mutator.
    /// </summary>
    [Theory]
    [MemberData(nameof(Parsers))]
    public void FuzzedInputsNeverCrashOrHang(string parser)
    {
        string work = TestData.TempDir();
        var target = FuzzTargets.Create(work).Single(t => t.Name == parser);
        var report = Fuzzer.Run(target, inputs: 1500, seed: 20261130, work, hangLimit: TimeSpan.FromSeconds(2));
        Assert.True(report.Crashes == 0 && report.Hangs == 0, string.Join("\n", report.Failures));
        Assert.True(
            report.Loaded > 0 && report.Rejected > 0,
            $"{parser}: {report.Loaded} loaded, {report.Rejected} rejected — the mutator should produce both"
        );
    }

    public static TheoryData<string> Parsers => new(FuzzTargets.Names);
}
