using System.Collections.Concurrent;

namespace SharpLM.Tokenization;

/// <summary>
/// Byte-pair encoding of one pre-tokenized piece. Tokens are kept in an internal form: for byte-level models each
/// char is one byte (0–255). Merges are applied lowest rank first, leftmost first, with a heap over a linked list,
/// so that a 10,000-character piece costs O(n log n) rather than tiktoken's O(n²); short pieces use tiktoken's scan.
/// </summary>
public sealed class BpeModel
{
    readonly string[] _tokens;
    readonly Dictionary<string, int> _ids;
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _idLookup;
    readonly Dictionary<long, (int Rank, int Merged)> _merges;
    readonly ConcurrentDictionary<string, int[]> _cache = new();
    readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheLookup;
    int _cacheCount; // ConcurrentDictionary.Count takes every lock, too slow to ask per insert
    int _cacheCapacity = 200_000;

    /// <summary>
    /// Pieces (of at most 256 chars) whose ids are remembered: filled until full, then no more are added (no eviction).
    /// 0 turns the cache off. Setting it empties the cache.
    /// </summary>
    public int CacheCapacity
    {
        get => _cacheCapacity;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _cacheCapacity = value;
            _cache.Clear();
            _cacheCount = 0;
        }
    }

    /// <summary>Use the whole piece's id when the piece is itself a token (tiktoken's rule; HF's <c>ignore_merges</c>).</summary>
    public bool WholePieceFirst { get; }
    public int? UnknownId { get; }

    /// <summary>Merges in rank order, in internal form (for tiktoken ranks, one per token: see <see cref="FromRanks"/>).</summary>
    public IReadOnlyList<(string Left, string Right)> Merges { get; private set; }
    public int VocabSize => _tokens.Length;

    /// <summary>A model from a vocabulary and merges in rank order (Hugging Face's form: rank = index in the list).</summary>
    public BpeModel(
        IReadOnlyList<string> tokens,
        IReadOnlyList<(string Left, string Right)> merges,
        bool wholePieceFirst,
        int? unknownId = null
    )
        : this(tokens, merges.Select((m, rank) => (m.Left, m.Right, rank)).ToList(), wholePieceFirst, unknownId) { }

    BpeModel(IReadOnlyList<string> tokens, List<(string Left, string Right, int Rank)> merges, bool wholePieceFirst, int? unknownId)
    {
        _tokens = tokens.ToArray();
        _ids = new Dictionary<string, int>(_tokens.Length, StringComparer.Ordinal);
        for (int i = 0; i < _tokens.Length; i++)
            if (!_ids.TryAdd(_tokens[i], i))
                throw new SharpLMException(
                    $"The vocabulary lists token '{_tokens[i]}' twice (ids {_ids[_tokens[i]]} and {i}); fix the tokenizer file."
                );
        _idLookup = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
        _cacheLookup = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
        _merges = new Dictionary<long, (int, int)>(merges.Count, PairKey.Comparer);
        var ordered = new List<(string, string)>();
        foreach (var (l, r, rank) in merges)
        {
            if (!_ids.TryGetValue(l, out int li) || !_ids.TryGetValue(r, out int ri) || !_ids.TryGetValue(l + r, out int mi))
                throw new SharpLMException(
                    $"Merge #{rank} ('{l}' + '{r}') uses a token missing from the vocabulary; the tokenizer file is inconsistent."
                );
            if (_merges.TryAdd(Key(li, ri), (rank, mi)))
                ordered.Add((l, r));
        }
        Merges = ordered;
        WholePieceFirst = wholePieceFirst;
        UnknownId = unknownId;
    }

    /// <summary>
    /// Builds the model from tiktoken-style ranks (token → rank = id). Two adjacent parts may merge when their
    /// concatenation is a token, at that token's rank, which is exactly tiktoken's rule. For saving as tokenizer.json
    /// (one merge per token) each token's merge is the last step BPE takes when it encodes the token's own bytes.
    /// </summary>
    public static BpeModel FromRanks(IReadOnlyList<string> tokensByRank)
    {
        var ids = new Dictionary<string, int>(tokensByRank.Count, StringComparer.Ordinal);
        for (int i = 0; i < tokensByRank.Count; i++)
            ids[tokensByRank[i]] = i;
        var merges = new List<(string, string, int)>();
        for (int id = 0; id < tokensByRank.Count; id++)
        {
            string t = tokensByRank[id];
            for (int k = 1; k < t.Length; k++)
                if (ids.ContainsKey(t[..k]) && ids.ContainsKey(t[k..]))
                    merges.Add((t[..k], t[k..], id));
        }
        var model = new BpeModel(tokensByRank, merges, wholePieceFirst: true, unknownId: null);
        var listed = new List<(string, string)>();
        for (int id = 0; id < tokensByRank.Count; id++)
        {
            string t = tokensByRank[id];
            if (t.Length < 2)
                continue;
            int[] parts = model.Merge(t, maxRank: id - 1);
            if (parts.Length == 2)
                listed.Add((model._tokens[parts[0]], model._tokens[parts[1]]));
        }
        model.Merges = listed;
        return model;
    }

    static long Key(int left, int right) => PairKey.Of(left, right);

    public string TokenAt(int id) => _tokens[id];

    public IReadOnlyList<string> Tokens => _tokens;

    public bool TryGetId(ReadOnlySpan<char> token, out int id) => _idLookup.TryGetValue(token, out id);

    /// <summary>Encodes one piece (internal form) and appends its ids.</summary>
    public void EncodePiece(ReadOnlySpan<char> piece, List<int> output)
    {
        if (piece.IsEmpty)
            return;
        if (WholePieceFirst && _idLookup.TryGetValue(piece, out int whole))
        {
            output.Add(whole);
            return;
        }
        if (_cacheLookup.TryGetValue(piece, out int[]? cached))
        {
            output.AddRange(cached);
            return;
        }
        int[] ids = Merge(piece);
        if (Volatile.Read(ref _cacheCount) < _cacheCapacity && piece.Length <= 256 && _cacheLookup.TryAdd(piece, ids))
            Interlocked.Increment(ref _cacheCount);
        output.AddRange(ids);
    }

    int[] Merge(ReadOnlySpan<char> piece, int maxRank = int.MaxValue) =>
        piece.Length <= 64 ? MergeShort(piece, maxRank) : MergeLong(piece, maxRank);

    /// <summary>Short pieces (almost all): tiktoken's scan for the lowest-ranked pair, on stack memory.</summary>
    int[] MergeShort(ReadOnlySpan<char> piece, int maxRank)
    {
        int n = piece.Length;
        Span<int> ids = stackalloc int[n];
        for (int i = 0; i < n; i++)
            if (!_idLookup.TryGetValue(piece.Slice(i, 1), out ids[i]))
                ids[i] =
                    UnknownId
                    ?? throw new SharpLMException(
                        $"Character U+{(int)piece[i]:X4} is not in the tokenizer's vocabulary and the tokenizer has no unknown token."
                    );
        while (n > 1)
        {
            int bestPos = -1,
                bestRank = int.MaxValue,
                bestMerged = 0;
            for (int i = 0; i + 1 < n; i++)
                if (_merges.TryGetValue(Key(ids[i], ids[i + 1]), out var m) && m.Rank < bestRank && m.Rank <= maxRank)
                    (bestPos, bestRank, bestMerged) = (i, m.Rank, m.Merged);
            if (bestPos < 0)
                break;
            ids[bestPos] = bestMerged;
            ids[(bestPos + 2)..n].CopyTo(ids[(bestPos + 1)..]);
            n--;
        }
        return ids[..n].ToArray();
    }

    int[] MergeLong(ReadOnlySpan<char> piece, int maxRank)
    {
        int n = piece.Length;
        var id = new int[n];
        var next = new int[n];
        var prev = new int[n];
        var alive = new bool[n];
        for (int i = 0; i < n; i++)
        {
            if (!_idLookup.TryGetValue(piece.Slice(i, 1), out id[i]))
            {
                id[i] =
                    UnknownId
                    ?? throw new SharpLMException(
                        $"Character U+{(int)piece[i]:X4} is not in the tokenizer's vocabulary and the tokenizer has no unknown token."
                    );
            }
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
            alive[i] = true;
        }
        if (n == 1)
            return id;

        // Heap of candidate merges ordered by (rank, position); stale entries are skipped when popped.
        var heap = new PriorityQueue<(int Pos, int Left, int Right, int Merged), long>();
        void Push(int pos)
        {
            int nx = next[pos];
            if (nx < 0)
                return;
            if (_merges.TryGetValue(Key(id[pos], id[nx]), out var m) && m.Rank <= maxRank)
                heap.Enqueue((pos, id[pos], id[nx], m.Merged), ((long)m.Rank << 32) | (uint)pos);
        }
        for (int i = 0; i + 1 < n; i++)
            Push(i);

        int count = n;
        while (heap.TryDequeue(out var c, out _))
        {
            int pos = c.Pos;
            if (!alive[pos] || id[pos] != c.Left)
                continue;
            int nx = next[pos];
            if (nx < 0 || id[nx] != c.Right)
                continue;
            id[pos] = c.Merged;
            alive[nx] = false;
            next[pos] = next[nx];
            if (next[nx] >= 0)
                prev[next[nx]] = pos;
            count--;
            if (prev[pos] >= 0)
                Push(prev[pos]);
            Push(pos);
        }
        var result = new int[count];
        for (int i = 0, k = 0; i >= 0 && k < count; i = next[i])
            result[k++] = id[i];
        return result;
    }
}
