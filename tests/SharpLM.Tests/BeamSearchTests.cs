using SharpLM.Generation;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Tests;

/// <summary>
/// Beam search: exhaustive search on a tiny vocabulary, hand-computed scores for length_penalty and each early_stopping
/// mode (Hugging Face generate()'s semantics), batched = one input at a time, the KV cache = recomputation.
/// </summary>
[Collection(TorchCollection.Name)]
public class BeamSearchTests
{
    const int Eos = 0;

    /// <summary>
    /// A model given as a table: the next-token probabilities after each generated prefix ("" = nothing yet, "ab" = a
    /// then b; token 0 is end-of-sequence, 1 is a, 2 is b); a prefix not in the table gets uniform probabilities, or
    /// seeded random ones when <paramref name="randomSeed"/> is set.
    /// </summary>
    sealed class TableModel(int vocab, IReadOnlyList<int> inputs, Dictionary<string, double[]>? table = null, int? randomSeed = null)
        : IBeamSearchModel
    {
        List<int>[] _rows = [];

        public Tensor Start(int numBeams)
        {
            _rows = inputs.Select(i => new List<int> { -1 - i }).ToArray();
            var logits = Logits(_rows);
            _rows = _rows.SelectMany(r => Enumerable.Repeat(r, numBeams)).Select(r => new List<int>(r)).ToArray();
            return logits;
        }

        public Tensor Step(long[] parents, long[] tokens)
        {
            _rows = parents.Select((p, r) => new List<int>(_rows[p]) { (int)tokens[r] }).ToArray();
            return Logits(_rows);
        }

        public double[] Probabilities(IEnumerable<int> generated)
        {
            string key = string.Concat(generated.Select(t => "_ab"[t]));
            if (table is not null && table.TryGetValue(key, out var p))
                return p;
            if (randomSeed is int seed)
            {
                // A fixed hash (HashCode is seeded per process): the same table in every run.
                var random = new Random(key.Aggregate(seed, (h, c) => unchecked(h * 31 + c)));
                var w = Enumerable.Range(0, vocab).Select(_ => random.NextDouble() + 0.05).ToArray();
                return w.Select(x => x / w.Sum()).ToArray();
            }
            return Enumerable.Repeat(1.0 / vocab, vocab).ToArray();
        }

        Tensor Logits(List<int>[] rows) =>
            tensor(rows.SelectMany(r => Probabilities(r.Skip(1)).Select(p => (float)Math.Log(p))).ToArray(), [rows.Length, vocab]);
    }

    static List<List<BeamHypothesis>> Search(TableModel model, int inputs, BeamSearchOptions options) =>
        BeamSearch.Run(model, Enumerable.Range(0, inputs).Select(_ => (IReadOnlyList<int>)[]).ToList(), Eos, options);

    [Fact]
    public void AWideEnoughBeamFindsWhatExhaustiveSearchFinds()
    {
        const int vocab = 3,
            maxNew = 4;
        var model = new TableModel(vocab, [0], randomSeed: 7);
        // Every sequence: ends at end-of-sequence, or after maxNew tokens.
        var all = new List<(int[] Tokens, double Sum, bool Eos)>();
        void Walk(List<int> prefix, double sum)
        {
            var p = model.Probabilities(prefix);
            for (int t = 0; t < vocab; t++)
            {
                double s = sum + Math.Log(p[t]);
                if (t == Eos)
                    all.Add(([.. prefix], s, true));
                else if (prefix.Count + 1 == maxNew)
                    all.Add(([.. prefix, t], s, false));
                else
                    Walk([.. prefix, t], s);
            }
        }
        Walk([], 0);
        foreach (double lengthPenalty in new[] { 0.0, 1.0, -0.5 })
        {
            double Score((int[] Tokens, double Sum, bool Eos) h) => h.Sum / Math.Pow(h.Tokens.Length + (h.Eos ? 1 : 0), lengthPenalty);
            var best = all.OrderByDescending(Score).Take(5).ToList();
            int beams = (int)Math.Pow(vocab, maxNew); // every partial sequence fits in the beam
            var found = Search(
                model,
                1,
                new BeamSearchOptions
                {
                    NumBeams = beams,
                    MaxNewTokens = maxNew,
                    LengthPenalty = lengthPenalty,
                    EarlyStopping = BeamEarlyStopping.Never,
                    NumReturnSequences = 5,
                }
            )[0];
            Assert.Equal(5, found.Count);
            for (int i = 0; i < 5; i++)
            {
                Assert.Equal(best[i].Tokens, found[i].Tokens);
                // Within float rounding (the search sums float log-probabilities); not rounded to 5 places, which fails on a boundary.
                Assert.True(Math.Abs(Score(best[i]) - found[i].Score) < 1e-5, $"{Score(best[i])} vs {found[i].Score}");
                Assert.Equal(best[i].Eos, found[i].EndedWithEos);
            }
        }
    }

    // Table 1: end-of-sequence is likely at once, but "a b <eos>" is better per token. True stops as soon as two
    // hypotheses are done; False runs on while a running beam could still win at its current length.
    static readonly Dictionary<string, double[]> Table1 = new()
    {
        [""] = [0.40, 0.35, 0.25],
        ["a"] = [0.10, 0.10, 0.80],
        ["b"] = [0.50, 0.25, 0.25],
        ["ab"] = [0.90, 0.05, 0.05],
    };

    // Table 2: after two steps the best running beam ("a b") divided by its current length is no better than the worst
    // kept hypothesis ("a <eos>"), so False stops; "never" judges it at max length (3) and finds "a b <eos>".
    static readonly Dictionary<string, double[]> Table2 = new()
    {
        [""] = [0.55, 0.44, 0.01],
        ["a"] = [0.50, 0.05, 0.45],
        ["ab"] = [0.90, 0.05, 0.05],
    };

    static BeamSearchOptions Two(BeamEarlyStopping stopping, double lengthPenalty = 1.0) =>
        new()
        {
            NumBeams = 2,
            NumReturnSequences = 2,
            MaxNewTokens = 3,
            EarlyStopping = stopping,
            LengthPenalty = lengthPenalty,
        };

    static void Expect(List<BeamHypothesis> found, params (int[] Tokens, double Score)[] expected)
    {
        Assert.Equal(expected.Length, found.Count);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].Tokens, found[i].Tokens);
            Assert.Equal(expected[i].Score, found[i].Score, 5);
        }
    }

    [Fact]
    public void EarlyStoppingTrueStopsWhenNumBeamsHypothesesAreDone()
    {
        // Step 1: "<eos>" ends (score ln .40 / 1). Step 2: "b <eos>" ends ((ln .25 + ln .50) / 2): two done, stop.
        var found = Search(new TableModel(3, [0], Table1), 1, Two(BeamEarlyStopping.WhenFull))[0];
        Expect(found, ([], Math.Log(0.40)), ([2], (Math.Log(0.25) + Math.Log(0.50)) / 2));
    }

    [Fact]
    public void EarlyStoppingFalseRunsWhileARunningBeamCanStillWinAtItsLength()
    {
        // After step 2 the running "a b" has (ln .35 + ln .80) / 2 = -0.64 > -1.04 ("b <eos>"): go on. Step 3:
        // "a b <eos>" scores (ln .35 + ln .80 + ln .90) / 3 and replaces "b <eos>".
        var found = Search(new TableModel(3, [0], Table1), 1, Two(BeamEarlyStopping.Heuristic))[0];
        Expect(found, ([1, 2], (Math.Log(0.35) + Math.Log(0.80) + Math.Log(0.90)) / 3), ([], Math.Log(0.40)));

        // Table 2: "a b" at length 2 scores (ln .44 + ln .45) / 2 = -0.810, below "a <eos>" ((ln .44 + ln .50) / 2 = -0.757).
        found = Search(new TableModel(3, [0], Table2), 1, Two(BeamEarlyStopping.Heuristic))[0];
        Expect(found, ([], Math.Log(0.55)), ([1], (Math.Log(0.44) + Math.Log(0.50)) / 2));
    }

    [Fact]
    public void EarlyStoppingNeverJudgesRunningBeamsAtMaxLength()
    {
        // "a b" judged at length 3: -0.540 > -0.757, so the search goes on and "a b <eos>" (-0.575) beats "<eos>" (-0.598).
        var found = Search(new TableModel(3, [0], Table2), 1, Two(BeamEarlyStopping.Never))[0];
        Expect(found, ([1, 2], (Math.Log(0.44) + Math.Log(0.45) + Math.Log(0.90)) / 3), ([], Math.Log(0.55)));
    }

    [Fact]
    public void LengthPenaltyDividesBySequenceLengthToItsPower()
    {
        // length_penalty 0: raw sums. "a b" (-1.620) cannot beat "a <eos>" (-1.514): stop after step 2.
        var found = Search(new TableModel(3, [0], Table2), 1, Two(BeamEarlyStopping.Heuristic, 0.0))[0];
        Expect(found, ([], Math.Log(0.55)), ([1], Math.Log(0.44) + Math.Log(0.50)));
        // length_penalty 2 favours length: "a <eos>" / 4 and "a b <eos>" / 9 lead.
        found = Search(new TableModel(3, [0], Table2), 1, Two(BeamEarlyStopping.Heuristic, 2.0))[0];
        Expect(found, ([1, 2], (Math.Log(0.44) + Math.Log(0.45) + Math.Log(0.90)) / 9), ([1], (Math.Log(0.44) + Math.Log(0.50)) / 4));
    }

    [Fact]
    public void MinNewTokensAndNoRepeatNgramsConstrainTheHypotheses()
    {
        var options = Two(BeamEarlyStopping.Never) with { MinNewTokens = 2, MaxNewTokens = 4 };
        foreach (var h in Search(new TableModel(3, [0], Table1), 1, options)[0])
            Assert.True(h.Tokens.Length >= 2, string.Join(",", h.Tokens));
        // Two tokens and no end-of-sequence: with no repeated bigram, "a a a" is impossible.
        var noRepeat = Two(BeamEarlyStopping.Never) with
        {
            NoRepeatNgramSize = 2,
            MaxNewTokens = 5,
            NumBeams = 4,
        };
        var model = new TableModel(3, [0], new() { [""] = [0.0001, 0.9, 0.0999] });
        foreach (var h in Search(model, 1, noRepeat)[0])
        {
            var bigrams = h.Tokens.Zip(h.Tokens.Skip(1)).ToList();
            Assert.Equal(bigrams.Count, bigrams.Distinct().Count());
        }
    }

    [Fact]
    public void BatchedInputsGetWhatEachGetsAlone()
    {
        var options = new BeamSearchOptions
        {
            NumBeams = 3,
            NumReturnSequences = 3,
            MaxNewTokens = 5,
        };
        var batched = Search(new TableModel(3, [0, 1, 2], randomSeed: 11), 3, options);
        for (int i = 0; i < 3; i++)
        {
            var alone = BeamSearch.Run(
                new TableModel(3, [i], randomSeed: 11),
                [
                    [],
                ],
                Eos,
                options
            )[0];
            Assert.Equal(alone.Select(h => h.Tokens), batched[i].Select(h => h.Tokens));
            Assert.Equal(alone.Select(h => h.Score), batched[i].Select(h => h.Score));
        }
    }

    [Fact]
    public void GptBeamSearchBatchedEqualsAloneAndTheCacheEqualsRecomputation()
    {
        var (model, tokenizer) = Tiny.LoadGpt(ServingModels.LongContextGpt());
        using var _ = model;
        var generator = new TextGenerator(model, tokenizer);
        string[] prompts = ["Call me", "Some years ago, never", "a"];
        var options = new GenerationOptions
        {
            MaxNewTokens = 12,
            Beams = new BeamSearchOptions { NumBeams = 3, NumReturnSequences = 2 },
        };
        var batched = generator.Generate(prompts, options);
        Assert.Equal(6, batched.Count);
        var recomputed = generator.Generate(prompts, options with { UseKvCache = false });
        for (int i = 0; i < prompts.Length; i++)
        {
            var alone = generator.Generate([prompts[i]], options);
            for (int j = 0; j < 2; j++)
            {
                var b = batched[2 * i + j];
                Assert.Equal(prompts[i], b.Prompt);
                Assert.Equal(alone[j].TokenIds, b.TokenIds);
                Assert.Equal(alone[j].Score!.Value, b.Score!.Value, 4);
                Assert.Equal(recomputed[2 * i + j].TokenIds, b.TokenIds);
                Assert.Equal(recomputed[2 * i + j].Score!.Value, b.Score!.Value, 4);
            }
            Assert.True(batched[2 * i].Score >= batched[2 * i + 1].Score);
        }
        // The best beam is at least as likely as greedy decoding (length_penalty 0 compares raw log-probabilities).
        var lp0 = options with
        {
            Beams = new BeamSearchOptions
            {
                NumBeams = 4,
                LengthPenalty = 0,
                EarlyStopping = BeamEarlyStopping.Never,
            },
        };
        var greedy = generator.Generate([prompts[0]], new GenerationOptions { MaxNewTokens = 12, Temperature = 0 })[0];
        var beam = generator.Generate([prompts[0]], lp0)[0];
        Assert.True(beam.Score >= SumLogProbs(model, tokenizer, prompts[0], greedy.TokenIds) - 1e-4);
    }

    static double SumLogProbs(Models.Gpt model, Tokenization.Tokenizer tokenizer, string prompt, int[] continuation)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = tokenizer.Encode(prompt).Concat(continuation).Select(i => (long)i).ToArray();
        model.eval();
        var logProbs = model.Forward(tensor(ids).unsqueeze(0)).log_softmax(-1)[0];
        int start = ids.Length - continuation.Length;
        double sum = 0;
        for (int i = start; i < ids.Length; i++)
            sum += logProbs[i - 1, ids[i]].item<float>();
        return sum;
    }

    [Fact]
    public async Task GenerateTakesBeamFlags()
    {
        string run = await ServingModels.TrainedGpt();
        var (code, output, err) = await Cli.Run(
            "generate",
            "--model",
            run,
            "--prompt",
            "User: Call me",
            "--max-new-tokens",
            "10",
            "--num-beams",
            "3",
            "--num-return-sequences",
            "2",
            "--json"
        );
        Assert.True(code == 0, err);
        using var json = System.Text.Json.JsonDocument.Parse(output);
        var results = json.RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(2, results.Count);
        Assert.Equal(" Ishmael.", results[0].GetProperty("text").GetString()![..9]);
        Assert.True(results[0].GetProperty("score").GetDouble() >= results[1].GetProperty("score").GetDouble());

        (code, _, err) = await Cli.Run("generate", "--model", run, "--num-beams", "3", "--temperature", "0.7");
        Assert.Equal(1, code);
        Assert.Contains("--temperature does not apply to beam search", err);
        (code, _, err) = await Cli.Run("generate", "--model", run, "--length-penalty", "2");
        Assert.Equal(1, code);
        Assert.Contains("--length-penalty applies to beam search; add --num-beams", err);
        (code, _, err) = await Cli.Run("generate", "--model", run, "--num-beams", "2", "--num-return-sequences", "3");
        Assert.Equal(1, code);
        Assert.Contains("--num-return-sequences must be between 1 and --num-beams", err);
    }
}
