using System.Text.Json;
using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Kinds;
using SharpLM.Models;
using SharpLM.Pipelines;
using SharpLM.Tokenization;
using SharpLM.Training;
using SharpLM.Workflows;

namespace SharpLM.Tests;

/// <summary>Token classification (NER) and extractive question answering: data, windows, heads, fine-tuning, pipelines, CLI.</summary>
[Collection(TorchCollection.Name)]
public class TaskHeadTests
{
    // ---- words and offsets ----

    [Fact]
    public void WordSpansGiveTheCharactersOfEveryWord()
    {
        string text = "Mr. O'Neil paid $3.50 in São Paulo—twice!";
        var words = WordSpans.Split(text);
        Assert.Equal(
            ["Mr", ".", "O", "'", "Neil", "paid", "$", "3", ".", "50", "in", "São", "Paulo", "—", "twice", "!"],
            words.Select(w => w.Text)
        );
        Assert.All(words, w => Assert.Equal(w.Text, text[w.Start..w.End]));
    }

    [Fact]
    public void SentencesDoNotEndAtInitialsOrTitles()
    {
        var sentences = Sentences.Split("John F. Kennedy met Mr. Smith. They spoke! Did it help? Yes.").ToList();
        Assert.Equal(["John F. Kennedy met Mr. Smith.", "They spoke!", "Did it help?", "Yes."], sentences);
    }

    // ---- SQuAD files ----

    static string SquadFile(string dir, string context, string answer, int start, bool impossible = false)
    {
        string path = Path.Combine(dir, "squad.json");
        File.WriteAllText(
            path,
            JsonSerializer.Serialize(
                new
                {
                    version = "v2.0",
                    data = new[]
                    {
                        new
                        {
                            title = "t",
                            paragraphs = new[]
                            {
                                new
                                {
                                    context,
                                    qas = new[]
                                    {
                                        new
                                        {
                                            id = "q1",
                                            question = "where?",
                                            answers = impossible ? [] : new[] { new { text = answer, answer_start = start } },
                                            is_impossible = impossible,
                                        },
                                    },
                                },
                            },
                        },
                    },
                }
            )
        );
        return path;
    }

    [Fact]
    public void SquadAnswersMustSitAtTheirOffsets()
    {
        string dir = TestData.TempDir();
        var ok = Squad.Load(SquadFile(dir, "The cat sat on the mat.", "mat", 19));
        Assert.True(ok.Version2);
        Assert.Equal(new SquadAnswer("mat", 19), ok.Questions[0].Answers[0]);
        var e = Assert.Throws<SharpLMException>(() => Squad.Load(SquadFile(dir, "The cat sat on the mat.", "mat", 4)));
        Assert.Contains("question 'q1' has answer \"mat\" at answer_start 4, but the context has \"cat\" there", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        var beyond = Assert.Throws<SharpLMException>(() => Squad.Load(SquadFile(dir, "short", "short text", 0)));
        Assert.Contains("answer_start 0", beyond.Message);
        Assert.False(Squad.Load(SquadFile(dir, "no answer here", "", 0, impossible: true)).Questions[0].HasAnswer);
    }

    // ---- windows ----

    /// <summary>A WordPiece vocabulary in which each of w0 … w29 and the question word is one token.</summary>
    static WordPieceTokenizer WordTokenizer(IEnumerable<string> words) =>
        TokenizerTrainer.TrainWordPiece(Enumerable.Repeat(string.Join(' ', words), 30), new TokenizerTrainingOptions { VocabSize = 400 });

    [Fact]
    public void WindowsWithStrideMapAnswersBackToCharacters()
    {
        var words = Enumerable.Range(0, 30).Select(i => $"w{i}").ToArray();
        var tokenizer = WordTokenizer(words.Append("where"));
        string context = string.Join(' ', words);
        Assert.All(words, w => Assert.Single(tokenizer.Encode(w)));
        int start = context.IndexOf("w9 ", StringComparison.Ordinal);
        var question = new SquadQuestion("q", "where", context, 0, [new SquadAnswer("w9 w10 w11", start)]);
        // 14 tokens = [CLS] where [SEP] + 10 context tokens + [SEP]; windows start every 4 context tokens
        var windows = new QaWindows(tokenizer, maxLength: 14, docStride: 4, maxQuestionTokens: 8).Encode(question, 0, labelled: true);
        Assert.Equal([0, 4, 8, 12, 16, 20], windows.Select(w => w.ContextWord[3]));
        Assert.All(windows, w => Assert.True(w.Ids.Length <= 14));
        // The first window cuts the answer after w9: nothing to learn there ([CLS]); the next two hold it whole.
        Assert.Equal((0, 0), (windows[0].StartLabel, windows[0].EndLabel));
        Assert.Equal((3 + 5, 3 + 7), (windows[1].StartLabel, windows[1].EndLabel));
        Assert.Equal((3 + 1, 3 + 3), (windows[2].StartLabel, windows[2].EndLabel));
        Assert.Equal((0, 0), (windows[3].StartLabel, windows[3].EndLabel));
        Assert.Equal([1L, 1L, 1L], windows[1].Segments[3..6]);
        Assert.Equal(0L, windows[1].Segments[1]);

        // Logits that point at the labels in the window where w9 has the most context read back the answer's characters.
        float[] OneHot(QaWindow w, int at)
        {
            var v = new float[w.Ids.Length];
            Array.Fill(v, -5f);
            v[at] = 5f;
            return v;
        }
        var answer = QaWindows.Best(
            context,
            windows,
            windows.Select(w => OneHot(w, Math.Max(w.StartLabel, 0))).ToArray(),
            windows.Select(w => OneHot(w, Math.Max(w.EndLabel, 0))).ToArray()
        );
        Assert.Equal("w9 w10 w11", answer.Text);
        Assert.Equal((start, start + "w9 w10 w11".Length), (answer.Start, answer.End));
        Assert.True(windows[1].MaxContext[3 + 5]); // w9: 5 tokens in from window 1's start, only 1 in window 2
        Assert.False(windows[2].MaxContext[3 + 1]);

        // The longest answer bounds the span; a span over it is not read.
        var capped = QaWindows.Best(
            context,
            windows,
            windows.Select(w => OneHot(w, Math.Max(w.StartLabel, 0))).ToArray(),
            windows.Select(w => OneHot(w, Math.Max(w.EndLabel, 0))).ToArray(),
            maxAnswerTokens: 2
        );
        Assert.NotEqual("w9 w10 w11", capped.Text);
        Assert.True(capped.Text.Split(' ').Length <= 2);
    }

    [Fact]
    public void WindowSettingsThatLeaveNoRoomAreOneLine()
    {
        var tokenizer = WordTokenizer(["a", "b"]);
        Assert.Contains("max_length", Assert.Throws<SharpLMException>(() => new QaWindows(tokenizer, 10, 4, 8)).Message);
        Assert.Contains("doc_stride", Assert.Throws<SharpLMException>(() => new QaWindows(tokenizer, 64, 0, 8)).Message);
        var gpt = CharTokenizer.FromTexts(["ab"]);
        Assert.Contains("[CLS]", Assert.Throws<SharpLMException>(() => new QaWindows(gpt)).Message);
    }

    // ---- toy NER ----

    static readonly string[] First = ["anna", "boris", "clara", "dmitri", "elena", "felix"];
    static readonly string[] Last = ["smith", "petrov", "jones", "ivanova"];
    static readonly string[] Cities = ["paris", "london", "berlin", "madrid", "oslo"];
    static readonly string[] Verbs = ["visited", "left", "loved", "reached"];

    /// <summary>"anna smith visited paris today" tagged B-PER I-PER O B-LOC O (names sometimes without a surname).</summary>
    static List<TaggedSentence> ToyNer(int n, int seed)
    {
        var rng = new Random(seed);
        var sentences = new List<TaggedSentence>();
        for (int i = 0; i < n; i++)
        {
            var words = new List<string> { First[rng.Next(First.Length)] };
            var tags = new List<string> { "B-PER" };
            if (rng.Next(2) == 0)
            {
                words.Add(Last[rng.Next(Last.Length)]);
                tags.Add("I-PER");
            }
            words.AddRange([Verbs[rng.Next(Verbs.Length)], Cities[rng.Next(Cities.Length)], "today"]);
            tags.AddRange(["O", "B-LOC", "O"]);
            sentences.Add(new TaggedSentence(words, tags));
        }
        return sentences;
    }

    static string WriteJsonLines(string dir, string name, IEnumerable<TaggedSentence> sentences)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllLines(path, sentences.Select(s => JsonSerializer.Serialize(new { tokens = s.Words, tags = s.Tags })));
        return path;
    }

    static FineTuneRequest ToyRequest(string data, string output, string tokenizer, string? architecture = null, int context = 24) =>
        new()
        {
            Data = data,
            Output = output,
            Epochs = 6,
            Training = Tiny.Options with
            {
                BatchSize = 16,
                LearningRate = 3e-3,
                MinLearningRate = 3e-4,
                WarmupSteps = 10,
                EvalInterval = 50,
                WeightDecay = 0.01,
            },
            Shape = Tiny.Shape with { Context = context, Dropout = 0 },
            FineTune = new FineTuneOptions { Tokenizer = tokenizer, Architecture = architecture },
        };

    [Theory]
    [InlineData("bert", "BertForTokenClassification")]
    [InlineData("gpt2", "GPT2ForTokenClassification")]
    public async Task ATinyTaggerLearnsToyEntitiesAndFindsThemWithOffsets(string architecture, string hfName)
    {
        string dir = TestData.TempDir();
        var all = ToyNer(360, 5);
        string data = WriteJsonLines(dir, "toy.jsonl", all);
        string tokenizer = Path.Combine(dir, "tokenizer.json");
        var texts = all.Select(s => string.Join(' ', s.Words));
        (
            architecture == "bert"
                ? (Tokenizer)TokenizerTrainer.TrainWordPiece(texts, new TokenizerTrainingOptions { VocabSize = 200 })
                : TokenizerTrainer.TrainBpe(texts, new TokenizerTrainingOptions { VocabSize = 300 })
        ).Save(tokenizer);
        string run = Path.Combine(dir, "run");
        var result = await TaskHeadFineTuning.RunAsync(
            "ner",
            ToyRequest(data, run, tokenizer, architecture),
            new Catalogue.DataCatalogClient()
        );
        var report = Assert.IsType<Evaluation.TaskMetrics.EntityReport>(result.Test);
        Assert.True(report.Micro.F1 > 0.9, $"entity F1 {report.Micro.F1}");
        Assert.Equal(["O", "B-LOC", "B-PER", "I-PER"], result.Labels);

        // The run is a Hugging Face token classifier: its kind, config and weight names say so.
        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "config.json"))))
            Assert.Equal(hfName, config.RootElement.GetProperty("architectures")[0].GetString());
        var names = IO.Safetensors.File.Open(Path.Combine(run, "model.safetensors")).Entries.Keys.ToList();
        Assert.Contains("classifier.weight", names);
        Assert.Contains("classifier.bias", names);
        Assert.DoesNotContain(names, n => n.Contains("pooler", StringComparison.Ordinal));
        Assert.IsAssignableFrom<TokenClassifierKind>(ModelRegistry.ForRun(new RunFolder(run)));

        using var pipeline = (TokenClassificationPipeline)Pipeline.Load(run);
        string text = "  elena  petrov reached oslo today";
        var entities = pipeline.Entities(text);
        Assert.Equal(["PER", "LOC"], entities.Select(e => e.Type));
        Assert.Equal("elena  petrov", entities[0].Text);
        Assert.Equal((2, 15), (entities[0].Start, entities[0].End));
        Assert.Equal((24, 28), (entities[1].Start, entities[1].End));
        Assert.All(entities, e => Assert.Equal(e.Text, text[e.Start..e.End]));

        // eval scores a tagged file with seqeval; without one it says what it needs.
        var (code, output, err) = await Cli.Run("eval", "--model", run, "--data", data);
        Assert.True(code == 0, err);
        Assert.Contains($"{all.Count} sentences: {data}; entity F1 ", output);
        (code, _, err) = await Cli.Run("eval", "--model", run);
        Assert.Equal(1, code);
        Assert.Contains("needs data", err);

        // Exported as a transformers folder (id2label, no SharpLM files), it loads again and tags alike.
        string hf = Path.Combine(dir, "hf");
        (code, _, err) = await Cli.Run("export", "--model", run, "--format", "hf", "--output", hf);
        Assert.True(code == 0, err);
        Assert.False(File.Exists(Path.Combine(hf, "training.json")));
        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(hf, "config.json"))))
            Assert.Equal("B-PER", config.RootElement.GetProperty("id2label").GetProperty("2").GetString());
        using var again = TokenClassificationPipeline.Load(hf);
        Assert.Equal(entities, again.Entities(text));
    }

    // ---- toy QA ----

    static readonly string[] Colours = ["red", "blue", "green", "yellow", "purple", "orange"];
    static readonly string[] Animals = ["cat", "dog", "horse", "mouse", "tiger", "eagle"];

    static readonly string[] Filler = ["the sky was wide .", "we walked home .", "it rained all day .", "the end came soon ."];

    /// <summary>
    /// A colour or an animal among filler sentences, and a question about the one that is there: "what is the colour ?"
    /// (a span to find at a varying position).
    /// </summary>
    static string ToySquad(string dir, int paragraphs, int seed)
    {
        var rng = new Random(seed);
        var data = new List<object>();
        for (int p = 0; p < paragraphs; p++)
        {
            bool colour = rng.Next(2) == 0;
            string answer = colour ? Colours[rng.Next(Colours.Length)] : Animals[rng.Next(Animals.Length)];
            var sentences = Enumerable.Range(0, 3).Select(_ => Filler[rng.Next(Filler.Length)]).ToList();
            sentences.Insert(rng.Next(4), colour ? $"the colour is {answer} ." : $"the animal is {answer} .");
            string context = string.Join(' ', sentences);
            var qa = new
            {
                id = $"p{p}",
                question = colour ? "what is the colour ?" : "what is the animal ?",
                answers = new[] { new { text = answer, answer_start = context.IndexOf(" " + answer + " ", StringComparison.Ordinal) + 1 } },
            };
            data.Add(new { context, qas = new[] { qa } });
        }
        string path = Path.Combine(dir, "toy-squad.json");
        File.WriteAllText(
            path,
            JsonSerializer.Serialize(new { version = "1.1", data = new[] { new { title = "toy", paragraphs = data } } })
        );
        return path;
    }

    [Fact]
    public async Task ATinyReaderLearnsToyQuestionsAndAnswersWithOffsets()
    {
        string dir = TestData.TempDir();
        string data = ToySquad(dir, 300, 3);
        string tokenizer = Path.Combine(dir, "tokenizer.json");
        TokenizerTrainer
            .TrainWordPiece(
                Colours
                    .Concat(Animals)
                    .Select(w =>
                        $"the colour is {w} . the animal is {w} . what is the colour ? what is the animal ? {string.Join(' ', Filler)}"
                    ),
                new TokenizerTrainingOptions { VocabSize = 200 }
            )
            .Save(tokenizer);
        string run = Path.Combine(dir, "run");
        var request = ToyRequest(data, run, tokenizer, context: 32) with
        {
            Epochs = 8,
            Qa = new QaSettings { MaxQuestionTokens = 8 },
        };
        var result = await TaskHeadFineTuning.RunAsync("qa", request, new Catalogue.DataCatalogClient());
        var report = Assert.IsType<QaReport>(result.Test);
        Assert.True(report.Exact >= 90, $"exact match {report.Exact}");
        Assert.False(report.Version2);
        var names = IO.Safetensors.File.Open(Path.Combine(run, "model.safetensors")).Entries.Keys.ToList();
        Assert.Contains("qa_outputs.weight", names);
        Assert.IsType<BertQuestionAnsweringKind>(ModelRegistry.ForRun(new RunFolder(run)));

        var (code, output, err) = await Cli.Run(
            "qa",
            "--model",
            run,
            "--question",
            "what is the animal ?",
            "--context",
            "we walked home . the animal is horse . it rained all day .",
            "--json"
        );
        Assert.True(code == 0, err);
        using var answer = JsonDocument.Parse(output);
        Assert.Equal("horse", answer.RootElement.GetProperty("answer").GetString());
        Assert.Equal(31, answer.RootElement.GetProperty("start").GetInt32());
        Assert.Equal(36, answer.RootElement.GetProperty("end").GetInt32());
    }

    // ---- silver labels ----

    [Fact]
    public void SilverRulesTagStatesAndFullNamesButNotMonthsOrPlaces()
    {
        var g = new Gazetteer(
            new HashSet<string> { "Abraham", "John", "June", "Virginia", "Will", "Pearl" },
            [
                ["New", "York"],
                ["Virginia"],
                ["York"],
            ]
        );
        var ambiguous = new HashSet<string> { "Will" };
        string[] Tags(string s) => SilverLabels.Tag(WordSpans.Split(s).Select(w => w.Text).ToArray(), g, ambiguous);
        Assert.Equal(["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "B-LOC"], Tags("Abraham Lincoln visited New York and Virginia"));
        Assert.Equal(["O", "B-PER", "O"], Tags("President John spoke"));
        Assert.Equal(["B-PER", "I-PER", "I-PER", "I-PER"], Tags("John F. Kennedy"));
        Assert.All(Tags("In June Will went to Pearl Harbor"), t => Assert.Equal("O", t));
        Assert.All(Tags("John alone"), t => Assert.Equal("O", t)); // a first name needs a surname or a title
    }

    // ---- CLI ----

    [Fact]
    public async Task TaskHeadMistakesAreOneLine()
    {
        string dir = TestData.TempDir();
        string data = WriteJsonLines(dir, "toy.jsonl", ToyNer(20, 1));
        string bad = Path.Combine(dir, "bad.conll");
        File.WriteAllText(bad, "Anna B-PER\nvisited O extra\n");
        foreach (
            var (args, expected) in new (string[], string)[]
            {
                (
                    ["finetune", "--task", "ner", "--data", data, "--output", Path.Combine(dir, "r1"), "--doc-stride", "64"],
                    "--doc-stride applies to --task qa"
                ),
                (
                    ["finetune", "--task", "classify", "--data", data, "--output", Path.Combine(dir, "r2"), "--test-data", data],
                    "--test-data applies to --task ner or qa"
                ),
                (["finetune", "--task", "ner", "--data", bad, "--output", Path.Combine(dir, "r3")], "line 2 has 3 columns"),
                (
                    ["finetune", "--task", "qa", "--data", data, "--output", Path.Combine(dir, "r4"), "--architecture", "gpt2"],
                    "question-answering is built on bert"
                ),
                (["qa", "--model", dir, "--question", "q"], "--context or --context-file"),
            }
        )
        {
            var (code, _, err) = await Cli.Run(args);
            Assert.NotEqual(0, code);
            Assert.Contains(expected, err);
            Assert.Single(err.Trim().Split('\n'));
        }
    }
}
