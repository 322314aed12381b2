using SharpLM.Tokenization;

namespace SharpLM.Tests;

public class TrainerTests
{
    /// <summary>
    /// The textbook example "aaabdaaabac": merges (a,a) [4 times], then (a,b) [tie at 2 with (aa,a), smaller ids win],
    /// then (aa,ab) — i.e. Z=aa, Y=ab, X=ZY as in the usual worked example.
    /// </summary>
    [Fact]
    public void BpeReproducesTheWorkedExample()
    {
        var tok = TokenizerTrainer.TrainBpe(["aaabdaaabac"], new TokenizerTrainingOptions { VocabSize = 256 + 3 + 1 });
        var merges = tok.Model.Merges;
        Assert.Equal(3, merges.Count);
        Assert.Equal(("a", "a"), merges[0]);
        Assert.Equal(("a", "b"), merges[1]);
        Assert.Equal(("aa", "ab"), merges[2]);
        Assert.Equal(["aaab", "d", "aaab", "a", "c"], tok.Encode("aaabdaaabac").Select(tok.TokenText));
        Assert.Equal("<|endoftext|>", tok.TokenText(259));
    }

    [Fact]
    public void BpeStopsWhenNoPairRepeats()
    {
        var tok = TokenizerTrainer.TrainBpe(["abcdef"], new TokenizerTrainingOptions { VocabSize = 1000 });
        Assert.Empty(tok.Model.Merges);
        Assert.Equal(257, tok.VocabSize);
    }

    [Fact]
    public async Task BpeTrainingIsDeterministic()
    {
        string text = (await File.ReadAllTextAsync(await TestData.MobyDickPath()))[..300_000];
        var a = TokenizerTrainer.TrainBpe([text], new TokenizerTrainingOptions { VocabSize = 1000 });
        var b = TokenizerTrainer.TrainBpe([text], new TokenizerTrainingOptions { VocabSize = 1000 });
        Assert.Equal(a.Model.Merges, b.Model.Merges);
        Assert.Equal(1000, a.VocabSize);
        // The learned vocabulary compresses English: well under one token per character.
        Assert.InRange(a.Encode(text[..50_000]).Length / 50_000.0, 0.2, 0.45);
        foreach (string h in TestData.Hostile)
            Assert.Equal(h, a.Decode(a.Encode(h)));
    }

    [Fact]
    public void BpeFirstIdsFollowGpt2ByteOrder()
    {
        var tok = TokenizerTrainer.TrainBpe(["hello hello"], new TokenizerTrainingOptions { VocabSize = 300 });
        Assert.Equal("!", tok.TokenText(0));
        Assert.Equal("Ġ", tok.TokenText(220)); // the space byte, where GPT-2 has it
    }

    [Fact]
    public void VocabularySmallerThanTheByteAlphabetIsRejected()
    {
        var e = Assert.Throws<SharpLMException>(() =>
            TokenizerTrainer.TrainBpe(["text"], new TokenizerTrainingOptions { VocabSize = 100 })
        );
        Assert.Contains("smaller than the byte alphabet", e.Message);
    }

    [Fact]
    public void WordPieceLearnsPiecesAndEncodesGreedily()
    {
        string text = string.Join(' ', Enumerable.Repeat("unbelievable unbelievably believe believer Believing", 50));
        var tok = TokenizerTrainer.TrainWordPiece([text], new TokenizerTrainingOptions { VocabSize = 60 });
        Assert.Equal(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], tok.Vocabulary.Take(5));
        int[] ids = tok.Encode("Believe unbelievable");
        Assert.All(ids, id => Assert.NotEqual(tok.UnknownId, id));
        Assert.Equal("believe unbelievable", tok.Decode(ids));
        Assert.Equal([tok.UnknownId], tok.Encode("xyz"));
        Assert.Equal(new[] { tok.SpecialTokenId("[CLS]")!.Value }, tok.Encode("[CLS]", true));
    }

    [Fact]
    public void CharTokenizerUsesSortedCodePoints()
    {
        var tok = CharTokenizer.FromTexts(["hello 𠀀 world\n"]);
        Assert.Equal(["\n", " ", "d", "e", "h", "l", "o", "r", "w", "𠀀"], tok.Characters);
        Assert.Equal([4, 3, 5, 5, 6], tok.Encode("hello"));
        Assert.Equal("hello 𠀀", tok.Decode(tok.Encode("hello 𠀀")));
        var e = Assert.Throws<SharpLMException>(() => tok.Encode("z"));
        Assert.Contains("not in the character vocabulary", e.Message);
    }
}
