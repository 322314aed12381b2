using System.Text.Json;
using System.Text.Json.Nodes;
using SharpLM.Evaluation.TaskMetrics;

namespace SharpLM.Tests;

/// <summary>
/// Entity F1 as seqeval computes it and SQuAD exact match / F1 as the official scripts do: values derived by hand from
/// the scorers' definitions, edge cases, and cases scored by the reference implementations themselves
/// (Fixtures/task-metrics.json, made by tools/crosscheck/task-metrics/make_cases.py).
/// </summary>
public class TaskMetricsTests
{
    static IReadOnlyList<IReadOnlyList<string>> Tags(params string[] sentences) =>
        sentences.Select(s => (IReadOnlyList<string>)s.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();

    [Fact]
    public void SeqevalsDocumentedExampleGivesItsNumbersAndItsPrintedReport()
    {
        var truth = Tags("O O O B-MISC I-MISC I-MISC O", "B-PER I-PER O");
        var predicted = Tags("O O B-MISC I-MISC I-MISC I-MISC O", "B-PER I-PER O");
        var r = Seqeval.Report(truth, predicted);
        // MISC: the predicted span starts one token early, so it is not the reference entity; PER matches.
        Assert.Equal(["MISC", "PER"], r.Types.Select(t => t.Name));
        Assert.Equal((0.0, 0.0, 0.0, 1L), (r.Types[0].Precision, r.Types[0].Recall, r.Types[0].F1, r.Types[0].Support));
        Assert.Equal((1.0, 1.0, 1.0, 1L), (r.Types[1].Precision, r.Types[1].Recall, r.Types[1].F1, r.Types[1].Support));
        Assert.Equal((0.5, 0.5, 0.5, 2L), (r.Micro.Precision, r.Micro.Recall, r.Micro.F1, r.Micro.Support));
        Assert.Equal((0.5, 0.5, 0.5), (r.Macro.Precision, r.Macro.Recall, r.Macro.F1));
        Assert.Equal((0.5, 0.5, 0.5), (r.Weighted.Precision, r.Weighted.Recall, r.Weighted.F1));
        string expected = string.Join(
            '\n',
            "              precision    recall  f1-score   support",
            "",
            "        MISC       0.00      0.00      0.00         1",
            "         PER       1.00      1.00      1.00         1",
            "",
            "   micro avg       0.50      0.50      0.50         2",
            "   macro avg       0.50      0.50      0.50         2",
            "weighted avg       0.50      0.50      0.50         2",
            ""
        );
        Assert.Equal(expected, r.Format());
    }

    [Fact]
    public void AnEntityCutByAWrongInsideTagIsNotTheReferenceEntity()
    {
        var truth = Tags("B-PER I-PER I-PER O");
        var predicted = Tags("B-PER I-LOC I-PER O");
        // Default mode: B-PER (0..0), I-LOC opens LOC (1..1), I-PER opens another PER (2..2): nothing matches PER 0..2.
        Assert.Equal(
            [new TaggedEntity(0, "PER", 0, 0), new TaggedEntity(0, "LOC", 1, 1), new TaggedEntity(0, "PER", 2, 2)],
            Seqeval.Entities(predicted)
        );
        var r = Seqeval.Report(truth, predicted);
        Assert.Equal(0.0, r.Micro.F1);
        Assert.Equal((0.0, 0.0, 0L), (r.Types[0].Precision, r.Types[0].Recall, r.Types[0].Support)); // LOC: none in the reference
        // Strict IOB2: only B-PER (0..0) is well formed; I- tags without their B- are no entities at all.
        Assert.Equal([new TaggedEntity(0, "PER", 0, 0)], Seqeval.Entities(predicted, "strict", "IOB2"));
    }

    [Fact]
    public void DefaultModeAcceptsAnEntityWithoutItsBeginTagStrictModeDoesNot()
    {
        var truth = Tags("B-PER I-PER O");
        var predicted = Tags("I-PER I-PER O");
        Assert.Equal(1.0, Seqeval.Report(truth, predicted).Micro.F1); // conlleval: I- after O begins a chunk
        var strict = Seqeval.Report(truth, predicted, "strict");
        Assert.Equal("IOB2", strict.Scheme);
        Assert.Equal((0.0, 0.0, 0.0), (strict.Micro.Precision, strict.Micro.Recall, strict.Micro.F1));
    }

    [Fact]
    public void AnEmptyPredictionScoresZeroNotAnError()
    {
        var r = Seqeval.Report(Tags("B-LOC O B-PER"), Tags("O O O"));
        Assert.Equal((0.0, 0.0, 0.0, 2L), (r.Micro.Precision, r.Micro.Recall, r.Micro.F1, r.Micro.Support));
        var e = Assert.Throws<SharpLMException>(() => Seqeval.Report(Tags("B-LOC O"), Tags("O")));
        Assert.Contains("Sentence 1 has 1 predicted tags but 2 reference tags", e.Message);
    }

    static JsonNode Fixture() => JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "task-metrics.json")))!;

    [Fact]
    public void SeqevalAgreesWithSeqevalOnItsOwnCases()
    {
        foreach (var c in Fixture()["seqeval"]!.AsArray())
        {
            var truth = c!["ref"]!.AsArray().Select(s => (IReadOnlyList<string>)s!.AsArray().Select(t => (string)t!).ToList()).ToList();
            var predicted = c["hyp"]!.AsArray().Select(s => (IReadOnlyList<string>)s!.AsArray().Select(t => (string)t!).ToList()).ToList();
            foreach (var mode in new[] { "default", "strict" })
            {
                var r = Seqeval.Report(truth, predicted, mode);
                var rows = r.Types.Concat([r.Micro, r.Macro, r.Weighted]).ToDictionary(t => t.Name);
                foreach (var (name, expected) in c[mode]!.AsObject())
                {
                    var got = rows[name];
                    Assert.Equal((double)expected!["precision"]!, got.Precision, 12);
                    Assert.Equal((double)expected["recall"]!, got.Recall, 12);
                    Assert.Equal((double)expected["f1-score"]!, got.F1, 12);
                    Assert.Equal((long)(double)expected["support"]!, got.Support);
                }
            }
            Assert.Equal(((string)c["text"]!).TrimEnd('\n'), Seqeval.Report(truth, predicted).Format(4).TrimEnd('\n'));
        }
    }

    [Theory]
    [InlineData("The  Quick, brown-fox!", "quick brownfox")]
    [InlineData("an apple a day", "apple day")]
    [InlineData("Another theory", "another theory")] // articles only as whole words
    [InlineData("İstanbul’s_A", "i̇stanbul’sa")] // Python's lower(); ’ is not ASCII punctuation; _ is
    public void SquadNormalisesAsTheOfficialScript(string text, string expected) => Assert.Equal(expected, SquadEvaluation.Normalize(text));

    [Fact]
    public void SquadScoresByHand()
    {
        // The best of several gold answers: "captain" against "captain Ahab" is P 1, R 1/2, F1 2/3.
        Assert.Equal(2.0 / 3, SquadEvaluation.F1("captain", "captain Ahab", version2: false), 12);
        Assert.Equal(0.0, SquadEvaluation.F1("", "captain Ahab", version2: false));
        Assert.Equal(1.0, SquadEvaluation.F1("", "", version2: true)); // 2.0: both empty agree
        Assert.Equal(0.0, SquadEvaluation.F1("", "", version2: false)); // 1.1: no common token
        Assert.True(SquadEvaluation.ExactMatch("the White Whale.", "white whale"));

        string dir = TestData.TempDir();
        string Write(string name, object value)
        {
            string path = Path.Combine(dir, name);
            File.WriteAllText(path, JsonSerializer.Serialize(value));
            return path;
        }
        object Qa(string id, params string[] answers) =>
            new
            {
                id,
                question = "?",
                answers = answers.Select(a => new { text = a, answer_start = 0 }).ToArray(),
                is_impossible = answers.Length == 0,
            };
        object Data(string version, params object[] qas) =>
            new { version, data = new[] { new { title = "t", paragraphs = new[] { new { context = "c", qas } } } } };

        // 1.1: q1 exact (1, 1), q2 best of two golds (0, 2/3), q3 missing (0, 0) — all three count.
        string v1 = Write("v1.json", Data("1.1", Qa("q1", "Ahab"), Qa("q2", "captain Ahab", "the white whale"), Qa("q3", "Ishmael")));
        var r1 = SquadEvaluation.Evaluate(v1, Write("p1.json", new Dictionary<string, string> { ["q1"] = "ahab", ["q2"] = "captain" }));
        Assert.Equal(100.0 / 3, (double)r1["exact_match"], 9);
        Assert.Equal(100.0 * (1 + 2.0 / 3) / 3, (double)r1["f1"], 9);

        // 2.0: an unanswerable question is right only with an empty answer; a missing prediction is left out.
        string v2 = Write("v2.json", Data("v2.0", Qa("a", "Ahab"), Qa("b"), Qa("c"), Qa("d", "Ishmael")));
        var r2 = SquadEvaluation.Evaluate(
            v2,
            Write(
                "p2.json",
                new Dictionary<string, string>
                {
                    ["a"] = "Ahab",
                    ["b"] = "",
                    ["c"] = "whale",
                }
            )
        );
        Assert.Equal(3, (int)r2["total"]);
        Assert.Equal(200.0 / 3, (double)r2["exact"], 9);
        Assert.Equal(100.0, (double)r2["HasAns_exact"], 9);
        Assert.Equal(50.0, (double)r2["NoAns_exact"], 9);
    }

    [Fact]
    public async Task SquadAgreesWithTheOfficialScriptAndTheCommandPrintsIt()
    {
        var fixture = Fixture();
        string dir = TestData.TempDir();
        string Write(string name, JsonNode node)
        {
            string path = Path.Combine(dir, name);
            File.WriteAllText(path, node.ToJsonString());
            return path;
        }
        var files = fixture["squad_files"]!;
        string data = Write("squad.json", files["data"]!.DeepClone()),
            pred = Write("pred.json", files["pred"]!.DeepClone()),
            na = Write("na.json", files["na_prob"]!.DeepClone());
        foreach (var c in fixture["squad"]!.AsArray())
        {
            double threshold = (double)c!["threshold"]!;
            bool withNa = (bool)c["na_prob"]!;
            var got = SquadEvaluation.Evaluate(data, pred, withNa ? na : null, threshold);
            foreach (var (key, value) in c["expected"]!.AsObject())
                Assert.Equal((double)value!, Convert.ToDouble(got[key]), 9);
            string[] args = ["score", "--metric", "squad", "--pred", pred, "--data", data, "--json"];
            if (withNa)
                args =
                [
                    .. args,
                    "--na-prob",
                    na,
                    "--na-prob-thresh",
                    threshold.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ];
            var r = await Cli.Run(args);
            Assert.True(r.Code == 0, r.Err);
            Assert.Equal((double)c["expected"]!["f1"]!, (double)JsonNode.Parse(r.Out)!["f1"]!, 9);
        }
    }

    [Fact]
    public async Task ScoreCommandReadsTagFilesAndRefusesMismatches()
    {
        string dir = TestData.TempDir();
        string hyp = Path.Combine(dir, "hyp.txt"),
            refs = Path.Combine(dir, "ref.txt");
        File.WriteAllLines(hyp, ["O O B-MISC I-MISC I-MISC I-MISC O", "B-PER I-PER O"]);
        File.WriteAllLines(refs, ["O O O B-MISC I-MISC I-MISC O", "B-PER I-PER O"]);
        var r = await Cli.Run("score", "--metric", "seqeval", "--hyp", hyp, "--ref", refs);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("weighted avg       0.50      0.50      0.50         2", r.Out);
        var strict = await Cli.Run("score", "--metric", "seqeval", "--hyp", hyp, "--ref", refs, "--mode", "strict", "--json");
        Assert.Equal("IOB2", (string)JsonNode.Parse(strict.Out)!["scheme"]!);

        File.WriteAllLines(hyp, ["O O", "B-PER I-PER O"]);
        var bad = await Cli.Run("score", "--metric", "seqeval", "--hyp", hyp, "--ref", refs);
        Assert.Equal(1, bad.Code);
        Assert.Contains("Sentence 1 has 2 predicted tags but 7 reference tags", bad.Err);
        var wrong = await Cli.Run("score", "--metric", "squad", "--hyp", hyp, "--ref", refs);
        Assert.Equal(1, wrong.Code);
        Assert.Contains("--hyp does not apply to --metric squad", wrong.Err);
        var modeForBleu = await Cli.Run("score", "--metric", "bleu", "--hyp", hyp, "--ref", refs, "--mode", "strict");
        Assert.Equal(1, modeForBleu.Code);
        Assert.Contains("--mode applies to --metric seqeval only", modeForBleu.Err);
    }
}
