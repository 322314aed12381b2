using System.Text.Json;
using SharpLM.Data;
using SharpLM.Tokenization;

namespace SharpLM.Tests;

public class DataPreparationTests
{
    [Fact]
    public void ShardHeaderAndContentsRoundTrip()
    {
        string dir = TestData.TempDir();
        string path = Path.Combine(dir, "s.bin");
        int[] tokens = [0, 1, 50256, 65535, 7];
        using (var w = new TokenShardWriter(path, 65536))
        {
            w.Write(tokens);
            w.Complete();
        }
        byte[] bytes = File.ReadAllBytes(path);
        Assert.Equal(1024 + 2 * tokens.Length, bytes.Length);
        Assert.Equal(20240520, BitConverter.ToInt32(bytes, 0));
        Assert.Equal(1, BitConverter.ToInt32(bytes, 4));
        Assert.Equal(tokens.Length, BitConverter.ToInt32(bytes, 8));
        Assert.Equal(50256, BitConverter.ToUInt16(bytes, 1024 + 4));
        Assert.Equal(tokens, TokenShard.ReadAll(path));

        string big = Path.Combine(dir, "big.bin");
        using (var w = new TokenShardWriter(big, 151_936))
        {
            w.Write([151_935, 3]);
            w.Complete();
        }
        Assert.Equal(2, BitConverter.ToInt32(File.ReadAllBytes(big), 4));
        Assert.Equal([151_935, 3], TokenShard.ReadAll(big));
    }

    [Fact]
    public void BadShardsAreRejectedClearly()
    {
        string dir = TestData.TempDir();
        string wrongMagic = Path.Combine(dir, "w.bin");
        File.WriteAllBytes(wrongMagic, new byte[1024 + 8]);
        Assert.Contains("is not a token shard", Assert.Throws<SharpLMException>(() => TokenShard.ReadAll(wrongMagic)).Message);

        string truncated = Path.Combine(dir, "t.bin");
        using (var w = new TokenShardWriter(truncated, 100))
        {
            w.Write([1, 2, 3, 4]);
            w.Complete();
        }
        File.WriteAllBytes(truncated, File.ReadAllBytes(truncated)[..^2]);
        Assert.Contains("truncated", Assert.Throws<SharpLMException>(() => TokenShard.ReadAll(truncated)).Message);
    }

    [Fact]
    public void AbandonedWriterLeavesNoFile()
    {
        string dir = TestData.TempDir();
        using (var w = new TokenShardWriter(Path.Combine(dir, "x.bin"), 100))
            w.Write([1, 2]);
        Assert.Empty(Directory.EnumerateFiles(dir));
    }

    [Fact]
    public void CleanerNormalizesAndStripsAsAsked()
    {
        var basic = new TextCleaner(new CleaningOptions());
        Assert.Equal("caf\u00e9\nline\n\tx", basic.Clean("cafe\u0301\r\nline\r\u0007\u200b\tx"));
        Assert.Equal("👨‍👩‍👧", basic.Clean("👨‍👩‍👧")); // joiners kept
        var html = new TextCleaner(new CleaningOptions { StripHtml = true });
        Assert.Equal("Title\nFish & chips", html.Clean("<h1>Title</h1><script>evil()</script><p>Fish &amp; <b>chips</b></p>").Trim());
        var classic = new TextCleaner(new CleaningOptions { RemoveStopWords = true, Stem = true });
        Assert.Equal("whale hunt\nship sail", classic.Clean("The whales were hunting\nthe ships are sailing"));
    }

    [Theory]
    [InlineData("Write to ishmael@pequod.example.com today.", "Write to [EMAIL] today.")]
    [InlineData("<first.last+tag@mail.co.uk>", "<[EMAIL]>")]
    [InlineData("Call +1 (555) 123-4567 or 555.123.4567.", "Call [PHONE] or [PHONE].")]
    [InlineData("Tel: +44 20 7946 0958, fax 020 7946 0959", "Tel: [PHONE], fax [PHONE]")]
    [InlineData("Ruf 030-1234567 an; appelez le 01 23 45 67 89", "Ruf [PHONE] an; appelez le [PHONE]")]
    [InlineData("host 192.168.0.12 and net 10.0.0.0/8 answered", "host [IP] and net [IP] answered")]
    [InlineData("IPv6 2001:db8::8a2e:370:7334 and ::1 too", "IPv6 [IP] and [IP] too")]
    // Left alone: what only looks close to PII.
    [InlineData("In 1851, 1852 and 1853; at 12:30:45 on 2024-01-15.", "In 1851, 1852 and 1853; at 12:30:45 on 2024-01-15.")]
    [InlineData("version 1.2.3.4.5, 300.1.1.1, ISBN 978-0-14-243724-7", "version 1.2.3.4.5, 300.1.1.1, ISBN 978-0-14-243724-7")]
    [InlineData("@whale and a@b and 555-1234", "@whale and a@b and 555-1234")]
    public void PiiRedactionReplacesAddressesAndNumbers(string text, string expected)
    {
        var counts = new PiiCounts();
        Assert.Equal(expected, PiiRedactor.Redact(text, counts));
        Assert.Equal(expected.Split("[EMAIL]").Length - 1, counts.Emails);
        Assert.Equal(expected.Split("[PHONE]").Length - 1, counts.Phones);
        Assert.Equal(expected.Split("[IP]").Length - 1, counts.IpAddresses);
    }

    [Theory]
    [InlineData("caresses", "caress")]
    [InlineData("ponies", "poni")]
    [InlineData("cats", "cat")]
    [InlineData("feed", "feed")]
    [InlineData("agreed", "agre")]
    [InlineData("plastered", "plaster")]
    [InlineData("motoring", "motor")]
    [InlineData("hopping", "hop")]
    [InlineData("filing", "file")]
    [InlineData("happy", "happi")]
    [InlineData("relational", "relat")]
    [InlineData("conditional", "condit")]
    [InlineData("generalization", "gener")]
    [InlineData("hopefulness", "hope")]
    [InlineData("electrical", "electr")]
    [InlineData("adjustment", "adjust")]
    [InlineData("adoption", "adopt")]
    [InlineData("controlling", "control")]
    [InlineData("rolling", "roll")]
    public void PorterStemmerMatchesThePaper(string word, string stem) => Assert.Equal(stem, PorterStemmer.Stem(word));

    [Fact]
    public void ValidationChoiceIsDeterministicBySeed()
    {
        var docs = Enumerable.Range(0, 100).Select(i => $"doc{i}").ToList();
        var a = CorpusPreparer.ChooseValidation(docs, 0.1, 42);
        Assert.Equal(10, a.Count);
        Assert.Equal(a, CorpusPreparer.ChooseValidation(docs, 0.1, 42));
        Assert.NotEqual(a, CorpusPreparer.ChooseValidation(docs, 0.1, 43));
        Assert.Single(CorpusPreparer.ChooseValidation(["a", "b", "c"], 0.1, 1)); // at least one when there are 2+
        Assert.Empty(CorpusPreparer.ChooseValidation(["a", "b"], 0, 1));
    }

    [Fact]
    public async Task CharacterSplitIsFirstNinetyPercentTrain()
    {
        string dir = TestData.TempDir();
        string input = Path.Combine(dir, "in.txt");
        string text = string.Concat(Enumerable.Range(0, 1000).Select(i => (char)('a' + i % 26)));
        File.WriteAllText(input, text);
        var summary = await new CorpusPreparer(TestData.Catalog).RunAsync(
            new PrepareOptions
            {
                Inputs = [input],
                Tokenizer = "char",
                OutputDir = Path.Combine(dir, "out"),
                ValFraction = 0.1,
            }
        );
        Assert.Equal("characters", summary.SplitMode);
        var tok = TokenizerJson.Load(Path.Combine(dir, "out"));
        Assert.Equal(text[..900], tok.Decode(TokenShard.ReadAll(Path.Combine(dir, "out", "train_000000.bin"))));
        Assert.Equal(text[900..], tok.Decode(TokenShard.ReadAll(Path.Combine(dir, "out", "val_000000.bin"))));
        var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "out", "summary.json")));
        Assert.Equal(900, json.RootElement.GetProperty("train").GetProperty("tokens").GetInt64());
    }

    [Fact]
    public async Task DocumentSplitShardsAndEndOfText()
    {
        string dir = TestData.TempDir();
        string corpus = Path.Combine(dir, "corpus");
        Directory.CreateDirectory(corpus);
        for (int i = 0; i < 20; i++)
            File.WriteAllText(Path.Combine(corpus, $"doc{i:D2}.txt"), $"Document number {i}. " + new string('x', 50 * i));
        var options = new PrepareOptions
        {
            Inputs = [corpus],
            Tokenizer = "gpt2",
            OutputDir = Path.Combine(dir, "out"),
            ValFraction = 0.2,
            Seed = 7,
            ShardTokens = 1000,
        };
        var s1 = await new CorpusPreparer(TestData.Catalog).RunAsync(options);
        Assert.Equal("documents", s1.SplitMode);
        Assert.Equal(16, s1.Train.Documents);
        Assert.Equal(4, s1.Val.Documents);
        Assert.True(s1.Train.Shards.Count >= 2); // rotated at 1000 tokens
        var gpt2 = await TestData.Gpt2();
        int[] train = s1.Train.Shards.SelectMany(f => TokenShard.ReadAll(Path.Combine(dir, "out", f))).ToArray();
        Assert.Equal(s1.Train.Tokens, train.Length);
        Assert.Equal(16, train.Count(t => t == Gpt2Tokenizer.EndOfTextId));
        Assert.StartsWith("<|endoftext|>Document number", gpt2.Decode(train));

        // Same seed → same bytes; the folder is replaced whole.
        byte[] first = File.ReadAllBytes(Path.Combine(dir, "out", "val_000000.bin"));
        var s2 = await new CorpusPreparer(TestData.Catalog).RunAsync(options);
        Assert.Equal(first, File.ReadAllBytes(Path.Combine(dir, "out", "val_000000.bin")));
        Assert.Equal(s1.Train.Tokens, s2.Train.Tokens);
    }

    [Fact]
    public void ChunkBoundariesNeverSplitPreTokens()
    {
        Assert.Equal(-1, DocumentSource.LastSafeCut("no newline here"));
        string text = "line one\n\n  indented\nnext";
        int cut = DocumentSource.LastSafeCut(text);
        Assert.Equal("next", text[cut..]);
        var pieces = Gpt2PreTokenizer.Instance.Split(text).Select(p => p.Start).ToList();
        Assert.Contains(cut, pieces);
    }
}
