using SharpLM.Tokenization;

namespace SharpLM.Data;

/// <summary>
/// One model input of extractive question answering: [CLS] question [SEP] a window of the context [SEP], with
/// segments (0 question, 1 context), the context word each token came from (−1 for the question and specials), whether
/// this window is the one where a token has the most context on both sides, and the answer's start and end token (0,
/// the [CLS] position, when the answer is not wholly inside the window or there is none).
/// </summary>
public sealed record QaWindow(
    int Question,
    long[] Ids,
    long[] Segments,
    int[] ContextWord,
    bool[] MaxContext,
    int StartLabel,
    int EndLabel,
    IReadOnlyList<WordSpan> Words
);

/// <summary>A predicted answer: its text and character span in the context, its score, and the best "no answer" score.</summary>
public sealed record QaAnswer(string Text, int Start, int End, double Score, double NullScore);

/// <summary>
/// Cuts questions and long contexts into model inputs and maps predicted spans back to characters. The context is split
/// into words with their offsets (<see cref="WordSpans"/>) and each word is tokenized on its own, so every context token
/// knows its word; windows of at most <c>maxLength</c> tokens start every <c>docStride</c> context tokens (the step
/// between window starts, as in BERT's run_squad), so an answer cut by one window's end lies whole in a later one. A
/// span is read in the window where its first token has the most context on both sides. Written by hand: no .NET
/// library implements SQuAD windowing.
/// </summary>
public sealed class QaWindows
{
    readonly Tokenizer _tokenizer;
    readonly int _cls,
        _sep;

    public int MaxLength { get; }
    public int DocStride { get; }
    public int MaxQuestionTokens { get; }

    public QaWindows(Tokenizer tokenizer, int maxLength = 384, int docStride = 128, int maxQuestionTokens = 64)
    {
        _tokenizer = tokenizer;
        _cls =
            tokenizer.SpecialTokenId("[CLS]")
            ?? throw new SharpLMException("The tokenizer has no [CLS] token; question answering needs a WordPiece (BERT) tokenizer.");
        _sep =
            tokenizer.SpecialTokenId("[SEP]")
            ?? throw new SharpLMException("The tokenizer has no [SEP] token; question answering needs a WordPiece (BERT) tokenizer.");
        if (maxQuestionTokens < 1)
            throw new SharpLMException($"max_question_tokens must be positive (got {maxQuestionTokens}).");
        if (maxLength < maxQuestionTokens + 4)
            throw new SharpLMException(
                $"max_length ({maxLength}) must leave room for the question ({maxQuestionTokens} tokens), three specials and context."
            );
        if (docStride < 1)
            throw new SharpLMException($"doc_stride must be positive (got {docStride}).");
        (MaxLength, DocStride, MaxQuestionTokens) = (maxLength, docStride, maxQuestionTokens);
    }

    /// <summary>
    /// The windows of question number <paramref name="index"/>; with <paramref name="labelled"/>, each carries the first
    /// gold answer's token span (or 0, 0).
    /// </summary>
    public List<QaWindow> Encode(SquadQuestion q, int index, bool labelled)
    {
        var words = WordSpans.Split(q.Context);
        var docIds = new List<long>();
        var docWord = new List<int>();
        var firstToken = new int[words.Count];
        var lastToken = new int[words.Count];
        for (int w = 0; w < words.Count; w++)
        {
            firstToken[w] = docIds.Count;
            foreach (int id in _tokenizer.Encode(words[w].Text))
            {
                docIds.Add(id);
                docWord.Add(w);
            }
            lastToken[w] = docIds.Count - 1; // < firstToken when the tokenizer drops the word
        }
        var question = _tokenizer.Encode(q.Question).Take(MaxQuestionTokens).Select(i => (long)i).ToArray();
        int room = MaxLength - question.Length - 3;

        var spans = new List<(int Start, int Length)>();
        for (int start = 0; ; )
        {
            int length = Math.Min(room, docIds.Count - start);
            spans.Add((start, length));
            if (start + length >= docIds.Count)
                break;
            start += Math.Min(length, DocStride);
        }

        (int Start, int End)? answer = null;
        if (labelled && q.Answers.Count > 0)
            answer = AnswerTokens(q.Answers[0], words, firstToken, lastToken);

        int offset = question.Length + 2;
        var windows = new List<QaWindow>(spans.Count);
        for (int s = 0; s < spans.Count; s++)
        {
            var (start, length) = spans[s];
            int n = offset + length + 1;
            var ids = new long[n];
            var segments = new long[n];
            var contextWord = new int[n];
            var maxContext = new bool[n];
            Array.Fill(contextWord, -1);
            ids[0] = _cls;
            question.CopyTo(ids, 1);
            ids[question.Length + 1] = _sep;
            for (int k = 0; k < length; k++)
            {
                ids[offset + k] = docIds[start + k];
                segments[offset + k] = 1;
                contextWord[offset + k] = docWord[start + k];
                maxContext[offset + k] = IsMaxContext(spans, s, start + k);
            }
            ids[n - 1] = _sep;
            segments[n - 1] = 1;
            int startLabel = 0,
                endLabel = 0;
            if (answer is var (a, b) && a >= start && b < start + length)
                (startLabel, endLabel) = (offset + a - start, offset + b - start);
            windows.Add(new QaWindow(index, ids, segments, contextWord, maxContext, startLabel, endLabel, words));
        }
        return windows;
    }

    /// <summary>The context tokens of an answer: the first token of its first word to the last token of its last word.</summary>
    static (int, int)? AnswerTokens(SquadAnswer answer, List<WordSpan> words, int[] firstToken, int[] lastToken)
    {
        int end = answer.Start + answer.Text.Length;
        int first = words.FindIndex(w => w.End > answer.Start);
        int last = words.FindLastIndex(w => w.Start < end);
        if (first < 0 || last < first)
            return null; // an answer of only spaces or punctuation the tokenizer drops: no span to learn
        int a = firstToken[first],
            b = lastToken[last];
        return b >= a ? (a, b) : null;
    }

    /// <summary>
    /// Whether window <paramref name="s"/> gives context token <paramref name="token"/> the most context (the smaller of its
    /// left and right neighbours, plus a hundredth of the window length to break ties), as BERT's run_squad decides.
    /// </summary>
    static bool IsMaxContext(List<(int Start, int Length)> spans, int s, int token)
    {
        double Score((int Start, int Length) span) =>
            Math.Min(token - span.Start, span.Start + span.Length - 1 - token) + 0.01 * span.Length;
        double mine = Score(spans[s]);
        for (int o = 0; o < spans.Count; o++)
            if (o != s && token >= spans[o].Start && token < spans[o].Start + spans[o].Length)
            {
                double other = Score(spans[o]);
                if (other > mine || (other == mine && o < s))
                    return false;
            }
        return true;
    }

    /// <summary>
    /// The best answer of one question from its windows' start and end logits: among the <paramref name="nBest"/> best
    /// starts and ends of each window, spans inside the context, start ≤ end, at most <paramref name="maxAnswerTokens"/>
    /// tokens, starting where the window has the token's most context; score = start + end logit. The null score is the
    /// smallest [CLS] start + end over the windows. No valid span gives an empty answer.
    /// </summary>
    public static QaAnswer Best(
        string context,
        IReadOnlyList<QaWindow> windows,
        IReadOnlyList<float[]> startLogits,
        IReadOnlyList<float[]> endLogits,
        int maxAnswerTokens = 30,
        int nBest = 20
    )
    {
        double bestScore = double.NegativeInfinity,
            nullScore = double.PositiveInfinity;
        int bestStart = -1,
            bestEnd = -1;
        IReadOnlyList<WordSpan>? words = null;
        for (int w = 0; w < windows.Count; w++)
        {
            var window = windows[w];
            float[] s = startLogits[w],
                e = endLogits[w];
            nullScore = Math.Min(nullScore, s[0] + e[0]);
            foreach (int i in Top(s, window.Ids.Length, nBest))
            {
                if (window.ContextWord[i] < 0 || !window.MaxContext[i])
                    continue;
                foreach (int j in Top(e, window.Ids.Length, nBest))
                {
                    if (window.ContextWord[j] < 0 || j < i || j - i + 1 > maxAnswerTokens)
                        continue;
                    double score = s[i] + e[j];
                    if (score > bestScore)
                        (bestScore, bestStart, bestEnd, words) = (score, window.ContextWord[i], window.ContextWord[j], window.Words);
                }
            }
        }
        if (words is null)
            return new QaAnswer("", 0, 0, double.NegativeInfinity, nullScore);
        int from = words[bestStart].Start,
            to = words[bestEnd].End;
        return new QaAnswer(context[from..to], from, to, bestScore, nullScore);
    }

    /// <summary>The positions of the <paramref name="n"/> largest of the first <paramref name="length"/> values.</summary>
    static IEnumerable<int> Top(float[] values, int length, int n) =>
        Enumerable.Range(0, Math.Min(length, values.Length)).OrderByDescending(i => values[i]).ThenBy(i => i).Take(n);
}
