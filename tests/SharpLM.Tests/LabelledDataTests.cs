using SharpLM.Data;
using SharpLM.Evaluation;

namespace SharpLM.Tests;

public class LabelledDataTests
{
    static string Write(string name, string content)
    {
        string path = Path.Combine(TestData.TempDir(), name);
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public void CsvWithQuotedCommasAndNewlinesAndColumnsByName()
    {
        var d = LabelledDataset.Load(
            Write("d.csv", "id,Label,text\n1,pos,\"great, really\"\n2,neg,\"bad\nvery bad\"\n3,pos,\"said \"\"wow\"\"\"\n\n")
        );
        Assert.Equal(["neg", "pos"], d.Labels);
        Assert.Equal(["great, really", "bad\nvery bad", "said \"wow\""], d.Examples.Select(e => e.Text));
        Assert.Equal([1, 0, 1], d.LabelIndex);
    }

    [Fact]
    public void TsvJsonlAndFolders()
    {
        var tsv = LabelledDataset.Load(Write("d.tsv", "sentence\tclass\nhello\ta\nbye\tb\n"), "sentence", "class");
        Assert.Equal(["hello", "bye"], tsv.Examples.Select(e => e.Text));
        var jsonl = LabelledDataset.Load(Write("d.jsonl", "{\"text\":\"x\",\"label\":1}\n\n{\"text\":\"y\",\"label\":0}\n"));
        Assert.Equal(["0", "1"], jsonl.Labels);
        string dir = TestData.TempDir();
        foreach (var (label, texts) in new[] { ("spam", new[] { "buy now", "cheap" }), ("ham", new[] { "lunch?" }) })
        {
            Directory.CreateDirectory(Path.Combine(dir, label));
            for (int i = 0; i < texts.Length; i++)
                File.WriteAllText(Path.Combine(dir, label, $"{i}.txt"), texts[i]);
        }
        var folders = LabelledDataset.Load(dir);
        Assert.Equal(["ham", "spam"], folders.Labels);
        Assert.Equal(3, folders.Examples.Count);
    }

    [Fact]
    public void BadLabelledDataGetsClearErrors()
    {
        Assert.Contains(
            "no column 'label' (label_column); its columns are: text, category",
            Assert.Throws<SharpLMException>(() => LabelledDataset.Load(Write("a.csv", "text,category\nx,y\n"))).Message
        );
        Assert.Contains(
            "single label",
            Assert.Throws<SharpLMException>(() => LabelledDataset.Load(Write("b.csv", "text,label\nx,y\nz,y\n"))).Message
        );
        Assert.Contains(
            "label is empty",
            Assert.Throws<SharpLMException>(() => LabelledDataset.Load(Write("c.csv", "text,label\nx, \n"))).Message
        );
        Assert.Contains(
            "no labelled examples",
            Assert.Throws<SharpLMException>(() => LabelledDataset.Load(Write("d.csv", "text,label\n"))).Message
        );
        Assert.Contains("is empty", Assert.Throws<SharpLMException>(() => LabelledDataset.Load(Write("e.csv", ""))).Message);
        Assert.Contains(
            "line 2 has no field 'label'",
            Assert
                .Throws<SharpLMException>(() =>
                    LabelledDataset.Load(Write("f.jsonl", "{\"text\":\"a\",\"label\":\"x\"}\n{\"text\":\"b\"}\n"))
                )
                .Message
        );
        Assert.Contains(
            "line 1 is not a JSON object",
            Assert.Throws<SharpLMException>(() => LabelledDataset.Load(Write("g.jsonl", "[1,2]\n"))).Message
        );
        Assert.Contains(
            "unknown labelled-data format '.xlsx'",
            Assert.Throws<SharpLMException>(() => LabelledDataset.Load(Write("h.xlsx", "x"))).Message
        );
        string dir = TestData.TempDir();
        Directory.CreateDirectory(Path.Combine(dir, "a"));
        Directory.CreateDirectory(Path.Combine(dir, "b"));
        File.WriteAllText(Path.Combine(dir, "a", "1.txt"), "x");
        Assert.Contains(
            "is empty; every class needs at least one example",
            Assert.Throws<SharpLMException>(() => LabelledDataset.Load(dir)).Message
        );
    }

    [Fact]
    public async Task SpamAssassinParsesEveryEmailAndSplitsStratified()
    {
        string entry = await TestData.Catalog.GetAsync(Catalog.Get("spam-assassin"));
        var d = LabelledDataset.Load(entry);
        Assert.Equal(["ham", "spam"], d.Labels);
        Assert.Equal(4150, d.LabelIndex.Count(i => i == 0));
        Assert.Equal(1896, d.LabelIndex.Count(i => i == 1));
        // Headers are parsed away: the text starts with the subject, and transfer encodings are decoded.
        Assert.StartsWith("Re: New Sequences Window", d.Examples[0].Text);
        // Only 3 e-mails whose MIME structure is broken in the original (a folded boundary) keep raw MIME text.
        Assert.Equal(3, d.Examples.Count(e => e.Text.Contains("Content-Transfer-Encoding: quoted-printable")));
        var parts = CrossValidation.StratifiedSplit(d.LabelIndex, [0.8, 0.1, 0.1], 1337);
        // 1,896 spam × (0.8, 0.1, 0.1) = 1516.8, 189.6, 189.6 → largest remainders get the 2 left over: 1517, 190, 189
        Assert.Equal([1517, 190, 189], parts.Select(p => p.Count(i => d.LabelIndex[i] == 1)));
        Assert.Equal([3320, 415, 415], parts.Select(p => p.Count(i => d.LabelIndex[i] == 0)));
    }
}
