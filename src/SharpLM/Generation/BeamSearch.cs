using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Generation;

/// <summary>When beam search stops, as Hugging Face's generate() names it (early_stopping).</summary>
public enum BeamEarlyStopping
{
    /// <summary>
    /// early_stopping=False (the default): stop when no running beam can beat the worst kept hypothesis, judged at the current length.
    /// </summary>
    Heuristic,

    /// <summary>early_stopping=True: stop as soon as num_beams hypotheses are finished.</summary>
    WhenFull,

    /// <summary>
    /// early_stopping="never": stop only when no running beam can improve, judged at max length when length_penalty &gt; 0 (canonical
    /// beam search).
    /// </summary>
    Never,
}

/// <summary>Beam search settings, with Hugging Face generate()'s meanings and defaults.</summary>
public sealed record BeamSearchOptions
{
    public int NumBeams { get; init; } = 4;

    /// <summary>A hypothesis scores (sum of log-probs) ÷ generated_length^length_penalty; &gt; 0 favours longer ones.</summary>
    public double LengthPenalty { get; init; } = 1.0;
    public BeamEarlyStopping EarlyStopping { get; init; } = BeamEarlyStopping.Heuristic;

    /// <summary>No n-gram of this size occurs twice in a hypothesis (prompt included); 0 disables.</summary>
    public int NoRepeatNgramSize { get; init; }
    public int NumReturnSequences { get; init; } = 1;
    public int MinNewTokens { get; init; }
    public int MaxNewTokens { get; init; } = 50;

    /// <summary>Hugging Face's repetition penalty, applied to the log-probabilities as generate() does with beams; 1 disables.</summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    public BeamSearchOptions Validate()
    {
        if (NumBeams < 1)
            throw new SharpLMException($"num_beams must be at least 1 (got {NumBeams}).");
        if (NumReturnSequences < 1 || NumReturnSequences > NumBeams)
            throw new SharpLMException($"num_return_sequences must be between 1 and num_beams ({NumBeams}) (got {NumReturnSequences}).");
        if (MaxNewTokens < 1)
            throw new SharpLMException($"max_new_tokens must be at least 1 with beam search (got {MaxNewTokens}).");
        if (MinNewTokens < 0 || MinNewTokens > MaxNewTokens)
            throw new SharpLMException($"min_new_tokens must be between 0 and max_new_tokens ({MaxNewTokens}) (got {MinNewTokens}).");
        if (NoRepeatNgramSize < 0)
            throw new SharpLMException($"no_repeat_ngram_size must be 0 (off) or positive (got {NoRepeatNgramSize}).");
        if (double.IsNaN(LengthPenalty) || double.IsInfinity(LengthPenalty))
            throw new SharpLMException($"length_penalty must be a finite number (got {LengthPenalty}).");
        if (!(RepetitionPenalty > 0) || double.IsInfinity(RepetitionPenalty))
            throw new SharpLMException($"repetition_penalty must be positive (got {RepetitionPenalty}); 1 disables it.");
        return this;
    }
}

/// <summary>
/// A finished hypothesis: the generated tokens (the end-of-sequence token not included), its score (sum of
/// log-probabilities ÷ length^length_penalty, the length counting the end-of-sequence token when there is one) and
/// whether it ended with end-of-sequence.
/// </summary>
public sealed record BeamHypothesis(int[] Tokens, double Score, double SumLogProbs, bool EndedWithEos);

/// <summary>
/// A model that beam search can drive: it holds one state (KV cache, encoder output…) per row, B × num_beams rows.
/// </summary>
public interface IBeamSearchModel
{
    /// <summary>The next-token logits [B, V] after each input (prompt or source) — one row per input.</summary>
    Tensor Start(int numBeams);

    /// <summary>
    /// Reorders the rows' states so that row r continues row <paramref name="parents"/>[r], appends
    /// <paramref name="tokens"/>[r] to it, and returns the next-token logits [B × num_beams, V].
    /// </summary>
    Tensor Step(long[] parents, long[] tokens);
}

/// <summary>
/// Beam search with Hugging Face generate()'s semantics (transformers ≥ 4.50): per input, the running beams start as one
/// (the others at −1e9); each step takes the 2 × num_beams best continuations of all beams by accumulated log-probability;
/// among the best num_beams of them, those that end (end-of-sequence, or the length limit) become hypotheses scored
/// sum ÷ length^length_penalty, and the best num_beams that do not end run on. Ties go to the lower beam, then the lower
/// token id, so results are deterministic. Works for any <see cref="IBeamSearchModel"/> (GPT, encoder–decoder).
/// </summary>
public static class BeamSearch
{
    const double Unreachable = -1.0e9;

    /// <param name="contexts">
    /// Per input, the tokens a hypothesis is judged with for no-repeat n-grams and the repetition penalty (the prompt for a GPT, the
    /// decoder's start for a seq2seq model).
    /// </param>
    public static List<List<BeamHypothesis>> Run(
        IBeamSearchModel model,
        IReadOnlyList<IReadOnlyList<int>> contexts,
        int? eos,
        BeamSearchOptions options,
        CancellationToken ct = default
    )
    {
        options.Validate();
        int batch = contexts.Count,
            k = options.NumBeams;
        int rows = batch * k;
        // Running beams: tokens generated so far and accumulated log-probability, row r = b * k + beam.
        var running = new List<int>[rows];
        var scores = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            running[r] = [];
            scores[r] = r % k == 0 ? 0 : Unreachable;
        }
        var finished = Enumerable.Range(0, batch).Select(_ => new List<BeamHypothesis>()).ToArray();
        var improvable = Enumerable.Repeat(true, batch).ToArray();
        float[] logProbs;
        int vocab;
        using (var scope = NewDisposeScope())
        {
            var start = model.Start(k);
            vocab = (int)start.shape[^1];
            // Every beam of an input starts from the same state.
            logProbs = start.to(ScalarType.Float32).log_softmax(-1).repeat_interleave(k, 0).data<float>().ToArray();
        }
        for (int generated = 0; ; generated++)
        {
            ct.ThrowIfCancellationRequested();
            var parents = new long[rows];
            var tokens = new long[rows];
            var nextRunning = new List<int>[rows];
            var nextScores = new double[rows];
            bool allHit = true;
            for (int b = 0; b < batch; b++)
            {
                var candidates = TopCandidates(b, k, vocab, logProbs, running, scores, contexts[b], eos, generated, options);
                // Does the candidate end here? (end-of-sequence, or the length limit.)
                bool lastStep = generated + 1 >= options.MaxNewTokens;
                var hits = candidates.Select(c => lastStep || c.Token == eos).ToArray();
                allHit &= hits.All(h => h);
                // The best k that do not end run on (ended ones rank behind at −1e9, as in generate()).
                var order = Enumerable
                    .Range(0, candidates.Count)
                    .OrderByDescending(i => candidates[i].Score + (hits[i] ? Unreachable : 0))
                    .Take(k);
                int slot = b * k;
                foreach (int i in order)
                {
                    var c = candidates[i];
                    parents[slot] = b * k + c.Beam;
                    tokens[slot] = c.Token;
                    nextRunning[slot] = [.. running[b * k + c.Beam], c.Token];
                    nextScores[slot] = c.Score + (hits[i] ? Unreachable : 0);
                    slot++;
                }
                // Those among the best k that end become hypotheses (unless this input is already settled).
                bool full = finished[b].Count == k && options.EarlyStopping == BeamEarlyStopping.WhenFull;
                if (improvable[b] && !full)
                    for (int i = 0; i < Math.Min(k, candidates.Count); i++)
                        if (hits[i])
                        {
                            var c = candidates[i];
                            bool isEos = c.Token == eos;
                            int[] hypothesisTokens = isEos ? [.. running[b * k + c.Beam]] : [.. running[b * k + c.Beam], c.Token];
                            double score = c.Score / Math.Pow(generated + 1, options.LengthPenalty);
                            Keep(finished[b], new BeamHypothesis(hypothesisTokens, score, c.Score, isEos), k);
                        }
            }
            running = nextRunning;
            scores = nextScores;
            int length = generated + 1;
            // Can a running beam still beat the worst kept hypothesis? (generate()'s early-stop heuristic; once settled, stays settled.)
            for (int b = 0; b < batch; b++)
            {
                if (!improvable[b])
                    continue;
                int hypotheticalLength =
                    options.EarlyStopping == BeamEarlyStopping.Never && options.LengthPenalty > 0 ? options.MaxNewTokens : length;
                double best = scores[b * k] / Math.Pow(hypotheticalLength, options.LengthPenalty);
                double worst = finished[b].Count == k ? finished[b].Min(h => h.Score) : Unreachable;
                improvable[b] = best > worst;
            }
            bool allFull = options.EarlyStopping == BeamEarlyStopping.WhenFull && finished.All(f => f.Count == k);
            if (allHit || allFull || !improvable.Any(x => x) || length >= options.MaxNewTokens)
                break;
            using var stepScope = NewDisposeScope();
            var logits = model.Step(parents, tokens);
            logProbs = logits.to(ScalarType.Float32).log_softmax(-1).data<float>().ToArray();
        }
        return finished.Select(f => f.Take(options.NumReturnSequences).ToList()).ToList();
    }

    /// <summary>
    /// Inserts a hypothesis keeping the list sorted best first and at most k long; an equal score ranks after those already kept.
    /// </summary>
    static void Keep(List<BeamHypothesis> kept, BeamHypothesis hypothesis, int k)
    {
        int at = kept.FindIndex(h => hypothesis.Score > h.Score);
        if (at < 0)
            at = kept.Count;
        if (at >= k)
            return;
        kept.Insert(at, hypothesis);
        if (kept.Count > k)
            kept.RemoveAt(k);
    }

    readonly record struct Candidate(int Beam, int Token, double Score);

    /// <summary>
    /// The 2k best (beam, token) continuations of input b by accumulated log-probability after the logits processors
    /// (repetition penalty, no-repeat n-grams, minimum length); ties by beam, then token id.
    /// </summary>
    static List<Candidate> TopCandidates(
        int b,
        int k,
        int vocab,
        float[] logProbs,
        List<int>[] running,
        double[] scores,
        IReadOnlyList<int> context,
        int? eos,
        int generated,
        BeamSearchOptions options
    )
    {
        int want = Math.Min(2 * k, k * vocab);
        var best = new PriorityQueue<Candidate, (double Score, int Index)>(
            Comparer<(double Score, int Index)>.Create(
                (x, y) => x.Score != y.Score ? x.Score.CompareTo(y.Score) : y.Index.CompareTo(x.Index)
            )
        );
        for (int beam = 0; beam < k; beam++)
        {
            int row = b * k + beam;
            var processed = new double[vocab];
            for (int t = 0; t < vocab; t++)
                processed[t] = logProbs[(long)row * vocab + t];
            var sequence = context.Concat(running[row]).ToList();
            if (options.RepetitionPenalty != 1.0)
                foreach (int t in sequence.Distinct())
                    if (t >= 0 && t < vocab)
                        processed[t] =
                            processed[t] > 0 ? processed[t] / options.RepetitionPenalty : processed[t] * options.RepetitionPenalty;
            if (options.NoRepeatNgramSize > 0)
                foreach (int t in BannedByNgrams(sequence, options.NoRepeatNgramSize))
                    processed[t] = double.NegativeInfinity;
            if (eos is int e && generated < options.MinNewTokens)
                processed[e] = double.NegativeInfinity;
            for (int t = 0; t < vocab; t++)
            {
                double score = processed[t] + scores[row];
                var key = (score, beam * vocab + t);
                if (best.Count < want)
                    best.Enqueue(new Candidate(beam, t, score), key);
                else if (best.TryPeek(out _, out var worst) && (score > worst.Score || (score == worst.Score && key.Item2 < worst.Index)))
                    best.EnqueueDequeue(new Candidate(beam, t, score), key);
            }
        }
        var result = new List<(Candidate C, (double Score, int Index) Key)>();
        while (best.TryDequeue(out var c, out var key))
            result.Add((c, key));
        result.Reverse(); // the queue yields worst first
        return result.Select(x => x.C).ToList();
    }

    /// <summary>Tokens that would complete an n-gram already in the sequence (Hugging Face's no_repeat_ngram_size).</summary>
    static IEnumerable<int> BannedByNgrams(List<int> sequence, int n)
    {
        if (sequence.Count + 1 < n)
            yield break;
        var prefix = sequence.Skip(sequence.Count - (n - 1)).ToList();
        for (int i = 0; i + n <= sequence.Count; i++)
        {
            bool same = true;
            for (int j = 0; j < n - 1 && same; j++)
                same = sequence[i + j] == prefix[j];
            if (same)
                yield return sequence[i + n - 1];
        }
    }
}
