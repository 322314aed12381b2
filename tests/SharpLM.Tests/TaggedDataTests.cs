using SharpLM.Data;
using SharpLM.Tokenization;

namespace SharpLM.Tests;

/// <summary>Token-classification corpora (CoNLL-2003, JSON Lines) and labels aligned to sub-word tokens.</summary>
public class TaggedDataTests
{
    [Fact]
    public void ConllFilesGiveSentencesWithTheLastColumnAsTag()
    {
        string path = Path.Combine(TestData.TempDir(), "train.txt");
        File.WriteAllText(
            path,
            "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\n\n"
                + "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n"
        );
        var sentences = TaggedData.Load(path);
        Assert.Equal(2, sentences.Count);
        Assert.Equal(["EU", "rejects", "German"], sentences[0].Words);
        Assert.Equal(["B-ORG", "O", "B-MISC"], sentences[0].Tags);
        Assert.Equal(["B-PER", "I-PER"], sentences[1].Tags);

        File.WriteAllText(path, "EU NNP B-NP B-ORG\nrejects B-VP O\n");
        var e = Assert.Throws<SharpLMException>(() => TaggedData.Load(path));
        Assert.Contains("line 2 has 3 columns but earlier rows have 4", e.Message);
    }

    [Fact]
    public void JsonLinesNeedOneTagPerToken()
    {
        string path = Path.Combine(TestData.TempDir(), "train.jsonl");
        File.WriteAllText(
            path,
            "{\"tokens\": [\"Call\", \"me\", \"Ishmael\"], \"tags\": [\"O\", \"O\", \"B-PER\"]}\n{\"tokens\": [\"x\"], \"tags\": [3]}\n"
        );
        var sentences = TaggedData.Load(path);
        Assert.Equal(["O", "O", "B-PER"], sentences[0].Tags);
        Assert.Equal(["3"], sentences[1].Tags);
        File.WriteAllText(path, "{\"tokens\": [\"Call\", \"me\"], \"tags\": [\"O\"]}\n");
        Assert.Contains("line 1 has 2 tokens but 1 tags", Assert.Throws<SharpLMException>(() => TaggedData.Load(path)).Message);
    }

    [Fact]
    public void OnlyTheFirstSubwordOfAWordCarriesItsLabel()
    {
        string dir = TestData.TempDir();
        File.WriteAllLines(
            Path.Combine(dir, "vocab.txt"),
            ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "call", "me", "ish", "##mae", "##l", "."]
        );
        var wordPiece = ModelFolderTokenizer.Load(dir);
        var (ids, labels, words) = TaggedData.AlignToSubwords(wordPiece, ["Call", "me", "Ishmael", "."], [0, 0, 1, 0], maxTokens: 16);
        Assert.Equal([2L, 5, 6, 7, 8, 9, 10, 3], ids);
        Assert.Equal([-100L, 0, 0, 1, -100, -100, 0, -100], labels);
        Assert.Equal([-1, 0, 1, 2, 2, 2, 3, -1], words);
        // Cut to the budget: whole words only, [SEP] kept.
        var (cut, cutLabels, _) = TaggedData.AlignToSubwords(wordPiece, ["Call", "me", "Ishmael", "."], [0, 0, 1, 0], maxTokens: 5);
        Assert.Equal([2L, 5, 6, 3], cut);
        Assert.Equal([-100L, 0, 0, -100], cutLabels);

        // Byte-level BPE: words after the first are encoded with their leading space, as in running text.
        var bpe = TokenizerTrainer.TrainBpe(
            Enumerable.Repeat("Call me Ishmael. Call me Ahab.", 20),
            new TokenizerTrainingOptions { VocabSize = 280 }
        );
        var (bpeIds, bpeLabels, bpeWords) = TaggedData.AlignToSubwords(bpe, ["Call", "me", "Ishmael"], [0, 0, 1], maxTokens: 64);
        Assert.Equal(bpe.Encode("Call me Ishmael"), bpeIds.Select(i => (int)i));
        Assert.Equal(1L, bpeLabels[Array.IndexOf(bpeWords, 2)]);
        Assert.Equal(3, bpeLabels.Count(l => l != -100));
    }
}
