using System.Text.Json;
using SharpLM.Data;
using SharpLM.Evaluation.TextMetrics;

namespace SharpLM.Tests;

/// <summary>
/// BLEU, chrF and ROUGE against the reference implementations. The vectors in Fixtures/text-metrics.json were computed
/// by sacrebleu 2.6.0 (github.com/mjpost/sacrebleu) and rouge-score's rouge_scorer (github.com/google-research/
/// google-research, rouge/) with NLTK 3.8's Porter stemmer, from the inputs in tools/crosscheck/text-metrics/cases.py
/// (make_vectors.py there; README in tools/crosscheck). They cover empty hypotheses, no overlap, hypotheses longer than
/// every reference, several references, Chinese with the zh tokenizer, smoothing, lower-casing and stemming on and off.
/// </summary>
public class TextMetricsTests
{
    static readonly JsonElement Vectors = JsonDocument
        .Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "text-metrics.json")))
        .RootElement;

    const double Tolerance = 1e-9;

    static List<string> Strings(JsonElement e) => e.EnumerateArray().Select(x => x.GetString()!).ToList();

    static List<IReadOnlyList<string>> Streams(JsonElement e) => e.EnumerateArray().Select(s => (IReadOnlyList<string>)Strings(s)).ToList();

    static BleuOptions BleuOptionsOf(JsonElement o)
    {
        var options = new BleuOptions();
        foreach (var p in o.EnumerateObject())
            options = p.Name switch
            {
                "lowercase" => options with { Lowercase = p.Value.GetBoolean() },
                "tokenize" => options with { Tokenize = p.Value.GetString()! },
                "effective_order" => options with { EffectiveOrder = p.Value.GetBoolean() },
                "smooth_value" => options with { SmoothingValue = p.Value.GetDouble() },
                "smooth_method" => options with
                {
                    Smoothing = p.Value.GetString() switch
                    {
                        "floor" => BleuSmoothing.Floor,
                        "add-k" => BleuSmoothing.AddK,
                        "none" => BleuSmoothing.None,
                        _ => BleuSmoothing.Exp,
                    },
                },
                _ => throw new InvalidOperationException(p.Name),
            };
        return options;
    }

    public static TheoryData<string> BleuCorpusCases() =>
        [.. Vectors.GetProperty("bleu_corpus").EnumerateArray().Select(c => c.GetProperty("name").GetString()!)];

    [Theory]
    [MemberData(nameof(BleuCorpusCases))]
    public void CorpusBleuAgreesWithSacrebleu(string name)
    {
        var c = Vectors.GetProperty("bleu_corpus").EnumerateArray().Single(x => x.GetProperty("name").GetString() == name);
        var options = BleuOptionsOf(c.GetProperty("options"));
        var hyps = Strings(c.GetProperty("hyps"));
        var score = new Bleu(options).Corpus(hyps, Streams(c.GetProperty("refs")));
        Assert.Equal(c.GetProperty("score").GetDouble(), score.Score, Tolerance);
        Assert.Equal(c.GetProperty("bp").GetDouble(), score.BrevityPenalty, Tolerance);
        Assert.Equal(c.GetProperty("sys_len").GetInt32(), score.HypothesisLength);
        Assert.Equal(c.GetProperty("ref_len").GetInt32(), score.ReferenceLength);
        Assert.Equal(c.GetProperty("counts").EnumerateArray().Select(x => x.GetDouble()), score.Counts);
        Assert.Equal(c.GetProperty("totals").EnumerateArray().Select(x => x.GetDouble()), score.Totals);
        var precisions = c.GetProperty("precisions").EnumerateArray().Select(x => x.GetDouble()).ToList();
        for (int i = 0; i < precisions.Count; i++)
            Assert.Equal(precisions[i], score.Precisions[i], Tolerance);
        Assert.Equal(c.GetProperty("signature").GetString(), score.Signature);
        // The tokenizer's output itself, so a difference shows where it starts.
        var tokenize = BleuTokenizers.Get(options.Tokenize);
        var tokenized = Strings(c.GetProperty("tokenized"));
        for (int i = 0; i < hyps.Count; i++)
            Assert.Equal(tokenized[i], tokenize(PythonText.RStrip(options.Lowercase ? PythonText.Lower(hyps[i]) : hyps[i])));
    }

    public static TheoryData<string> BleuSentenceCases() =>
        [.. Vectors.GetProperty("bleu_sentence").EnumerateArray().Select(c => c.GetProperty("name").GetString()!)];

    [Theory]
    [MemberData(nameof(BleuSentenceCases))]
    public void SentenceBleuAgreesWithSacrebleu(string name)
    {
        var c = Vectors.GetProperty("bleu_sentence").EnumerateArray().Single(x => x.GetProperty("name").GetString() == name);
        var score = new Bleu(BleuOptionsOf(c.GetProperty("options"))).Sentence(
            c.GetProperty("hyp").GetString()!,
            Strings(c.GetProperty("refs"))
        );
        Assert.Equal(c.GetProperty("score").GetDouble(), score.Score, Tolerance);
        Assert.Equal(c.GetProperty("bp").GetDouble(), score.BrevityPenalty, Tolerance);
        Assert.Equal(c.GetProperty("signature").GetString(), score.Signature);
    }

    public static TheoryData<string> ChrfCases() =>
        [.. Vectors.GetProperty("chrf").EnumerateArray().Select(c => c.GetProperty("name").GetString()!)];

    [Theory]
    [MemberData(nameof(ChrfCases))]
    public void ChrfAgreesWithSacrebleu(string name)
    {
        var c = Vectors.GetProperty("chrf").EnumerateArray().Single(x => x.GetProperty("name").GetString() == name);
        var options = new ChrfOptions();
        foreach (var p in c.GetProperty("options").EnumerateObject())
            options = p.Name switch
            {
                "word_order" => options with { WordOrder = p.Value.GetInt32() },
                "lowercase" => options with { Lowercase = p.Value.GetBoolean() },
                _ => throw new InvalidOperationException(p.Name),
            };
        var chrf = new Chrf(options);
        var hyps = Strings(c.GetProperty("hyps"));
        var refs = Streams(c.GetProperty("refs"));
        var score = chrf.Corpus(hyps, refs);
        Assert.Equal(c.GetProperty("score").GetDouble(), score.Score, Tolerance);
        Assert.Equal(c.GetProperty("name_").GetString(), score.Name);
        Assert.Equal(c.GetProperty("signature").GetString(), score.Signature);
        var sentences = c.GetProperty("sentence").EnumerateArray().Select(x => x.GetDouble()).ToList();
        for (int i = 0; i < hyps.Count; i++)
            Assert.Equal(sentences[i], chrf.Sentence(hyps[i], refs.Select(r => r[i]).ToList()).Score, Tolerance);
    }

    public static TheoryData<string> RougeCases() =>
        [.. Vectors.GetProperty("rouge").EnumerateArray().Select(c => c.GetProperty("name").GetString()!)];

    [Theory]
    [MemberData(nameof(RougeCases))]
    public void RougeAgreesWithRougeScore(string name)
    {
        var c = Vectors.GetProperty("rouge").EnumerateArray().Single(x => x.GetProperty("name").GetString() == name);
        var rouge = new Rouge(
            new RougeOptions { Types = Strings(c.GetProperty("types")), UseStemmer = c.GetProperty("stem").GetBoolean() }
        );
        var targets = c.GetProperty("targets").EnumerateArray().Select(Strings).ToList();
        var predictions = Strings(c.GetProperty("predictions"));
        var expected = c.GetProperty("lines").EnumerateArray().ToList();
        for (int i = 0; i < predictions.Count; i++)
        {
            var scores = rouge.Score(targets[i], predictions[i]);
            foreach (var type in expected[i].EnumerateObject())
            {
                var prf = type.Value.EnumerateArray().Select(x => x.GetDouble()).ToList();
                Assert.Equal(prf[0], scores[type.Name].Precision, Tolerance);
                Assert.Equal(prf[1], scores[type.Name].Recall, Tolerance);
                Assert.Equal(prf[2], scores[type.Name].FMeasure, Tolerance);
            }
        }
    }

    [Fact]
    public void PorterStemmerAgreesWithNltkWordForWord()
    {
        var pairs = Vectors.GetProperty("porter").EnumerateArray().Select(p => (Word: p[0].GetString()!, Stem: p[1].GetString()!)).ToList();
        Assert.True(pairs.Count > 4000);
        var wrong = pairs
            .Where(p => PorterStemmer.Stem(p.Word) != p.Stem)
            .Select(p => $"{p.Word}: {PorterStemmer.Stem(p.Word)} != {p.Stem}");
        Assert.Empty(wrong);
    }

    [Fact]
    public void SacrebleuQuirksAreReproduced()
    {
        // zh: sacrebleu's ranges cover U+2001–U+2A6D (a Python quirk), so curly quotes and dashes are split like Han.
        Assert.Equal("他 说 ： “ 你 好 ” — — 然 后 走 了 。", BleuTokenizers.TokenizeChinese("他说：“你好”——然后走了。"));
        // intl: a number keeps a full stop that ends the line (mteval-v14's own behaviour); symbols stand apart, emoji too.
        Assert.Equal("costs 5 € 😀 in 2024.", BleuTokenizers.TokenizeInternational("costs 5€😀 in 2024."));
        // 13a: thousands and decimals stay whole, a dash after a digit stands apart.
        Assert.Equal("$ 1,000.50 for 3 - 4", BleuTokenizers.Tokenize13a("$1,000.50 for 3-4"));
        // char: code points, so an emoji is one token.
        Assert.Equal("a 😀 b", PythonText.NormalizeSpaces(BleuTokenizers.TokenizeCharacters("a😀b")));
        // Python's lower(): final sigma and dotted capital I.
        Assert.Equal("οδος και", PythonText.Lower("ΟΔΟΣ ΚΑΙ"));
        Assert.Equal("i\u0307stanbul", PythonText.Lower("İstanbul"));
    }

    [Fact]
    public void RougeUnicodeTokenizerKeepsChineseAndAccents()
    {
        var unicode = new Rouge(new RougeOptions { Types = ["rouge1"], Tokenizer = RougeTokenizer.Unicode });
        Assert.Equal(["猫", "坐", "在", "café", "naïve", "2024"], unicode.Tokenize("猫坐在 Café, naïve! 2024"));
        // rouge-score's own tokenizer sees nothing in Chinese text: every score is 0.
        var ascii = new Rouge(new RougeOptions { Types = ["rouge1"] });
        Assert.Equal(0, ascii.Score("猫坐在垫子上", "猫坐在垫子上")["rouge1"].FMeasure);
        Assert.Equal(1, unicode.Score("猫坐在垫子上", "猫坐在垫子上")["rouge1"].FMeasure);
        var r = unicode.Score("猫坐在垫子上", "猫在垫子上")["rouge1"];
        Assert.Equal(1.0, r.Precision, Tolerance);
        Assert.Equal(5.0 / 6, r.Recall, Tolerance);
    }

    [Fact]
    public void MismatchedStreamsAreOneLineErrors()
    {
        var e = Assert.Throws<SharpLMException>(() =>
            new Bleu().Corpus(
                ["a", "b"],
                [
                    ["a"],
                ]
            )
        );
        Assert.Contains("reference stream 1 has 1 lines but there are 2 hypotheses", e.Message);
        Assert.Throws<SharpLMException>(() => new Chrf().Corpus(["a"], []));
        Assert.Throws<SharpLMException>(() => new Rouge(new RougeOptions { Types = ["rougeX"] }));
        Assert.Contains(
            "tokenize 'moses'",
            Assert.Throws<SharpLMException>(() => new Bleu(new BleuOptions { Tokenize = "moses" })).Message
        );
    }
}

/// <summary>sharplm score: the library's numbers through files, and one-line errors for bad files.</summary>
public class ScoreCliTests
{
    static (string Hyp, string Ref, string Ref2) Files(string dir)
    {
        string hyp = Path.Combine(dir, "hyp.txt"),
            reference = Path.Combine(dir, "ref.txt"),
            reference2 = Path.Combine(dir, "ref2.txt");
        // Files end lines with \n; a \r before it is stripped as sacrebleu's rstrip() does.
        File.WriteAllText(
            hyp,
            "The cat sat on the mat.\r\nIt is a guide to action which ensures that the military always obeys the commands of the party.\n"
        );
        File.WriteAllText(
            reference,
            "The cat is on the mat.\nIt is a guide to action that ensures that the military will forever heed Party commands.\n"
        );
        File.WriteAllText(
            reference2,
            "There is a cat on the mat.\nIt is the guiding principle which guarantees the military forces always being under the command "
                + "of the Party.\n"
        );
        return (hyp, reference, reference2);
    }

    [Fact]
    public async Task BleuChrfAndRougeFromFilesMatchTheReferenceImplementations()
    {
        string dir = TestData.TempDir();
        var (hyp, reference, reference2) = Files(dir);
        // sacrebleu 2.6.0 on these files (cases "two_refs" and "c_basic" in Fixtures/text-metrics.json).
        var (code, output, err) = await Cli.Run(
            "score",
            "--metric",
            "bleu",
            "--hyp",
            hyp,
            "--ref",
            reference,
            "--ref",
            reference2,
            "--json"
        );
        Assert.True(code == 0, err);
        using var bleu = JsonDocument.Parse(output);
        Assert.Equal(45.68501, bleu.RootElement.GetProperty("score").GetDouble(), 4);
        Assert.Equal("nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0", bleu.RootElement.GetProperty("signature").GetString());

        (code, output, _) = await Cli.Run("score", "--metric", "chrf", "--hyp", hyp, "--ref", reference, "--json");
        Assert.Equal(0, code);
        using var chrf = JsonDocument.Parse(output);
        var expected = TextMetricsVectors.Case("chrf", "c_basic").GetProperty("score").GetDouble();
        Assert.Equal(expected, chrf.RootElement.GetProperty("score").GetDouble(), 9);

        (code, output, _) = await Cli.Run("score", "--metric", "rouge", "--hyp", hyp, "--ref", reference, "--stem", "--json", "--per-line");
        Assert.Equal(0, code);
        using var rouge = JsonDocument.Parse(output);
        var rouge1 = rouge.RootElement.GetProperty("rouge1");
        var lines = rouge
            .RootElement.GetProperty("per_line")
            .EnumerateArray()
            .Select(l => l.GetProperty("rouge1").GetProperty("fmeasure").GetDouble())
            .ToList();
        Assert.Equal(2, lines.Count);
        Assert.Equal(lines.Average(), rouge1.GetProperty("fmeasure").GetDouble(), 12);

        (code, output, _) = await Cli.Run("score", "--metric", "bleu", "--hyp", hyp, "--ref", reference);
        Assert.Equal(0, code);
        Assert.StartsWith("BLEU = 42.12 ", output);
        Assert.Contains("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0", output);
    }

    [Fact]
    public async Task BadFilesAndOptionsGetOneLineErrors()
    {
        string dir = TestData.TempDir();
        var (hyp, reference, _) = Files(dir);
        string shorter = Path.Combine(dir, "short.txt"),
            empty = Path.Combine(dir, "empty.txt");
        File.WriteAllText(shorter, "one line\n");
        File.WriteAllText(empty, "");
        foreach (
            var (args, message) in new (string[], string)[]
            {
                (["--metric", "bleu", "--hyp", hyp, "--ref", shorter], "has 1 lines but --hyp has 2"),
                (["--metric", "rouge", "--hyp", shorter, "--ref", reference], "has 2 lines but --hyp has 1"),
                (["--metric", "chrf", "--hyp", empty, "--ref", reference], "is empty"),
                (["--metric", "bleu", "--hyp", hyp, "--ref", Path.Combine(dir, "missing.txt")], "does not exist"),
                (["--metric", "bleu", "--hyp", dir, "--ref", reference], "is a folder"),
                (["--metric", "bleu", "--hyp", hyp, "--ref", reference, "--stem"], "--stem applies to --metric rouge only"),
                (["--metric", "bleu", "--hyp", hyp, "--ref", reference, "--tokenize", "moses"], "not a BLEU tokenizer"),
                (["--metric", "rouge", "--hyp", hyp, "--ref", reference, "--tokenize", "13a"], "not a ROUGE tokenizer"),
                (["--metric", "rouge", "--hyp", hyp, "--ref", reference, "--rouge-types", "rouge1,rougeW"], "'rougeW' is not a ROUGE type"),
            }
        )
        {
            var (code, _, err) = await Cli.Run(["score", .. args]);
            Assert.Equal(1, code);
            Assert.Contains(message, err);
            Assert.Single(err.Trim().Split('\n'));
        }
        File.WriteAllBytes(empty, [0xff, 0xfe, 0x41]);
        var (c, _, e) = await Cli.Run("score", "--metric", "bleu", "--hyp", empty, "--ref", reference);
        Assert.Equal(1, c);
        Assert.Contains("is not UTF-8", e);
        (c, _, _) = await Cli.Run("score", "--metric", "meteor", "--hyp", hyp, "--ref", reference);
        Assert.Equal(2, c);
    }
}

static class TextMetricsVectors
{
    static readonly JsonElement Root = JsonDocument
        .Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "text-metrics.json")))
        .RootElement;

    public static JsonElement Case(string section, string name) =>
        Root.GetProperty(section).EnumerateArray().Single(x => x.GetProperty("name").GetString() == name);
}
