namespace SharpLM.Generation;

/// <summary>
/// A sequence's generated text as tokens arrive: decoded, cut at the first stop sequence or blocked (safety filter)
/// text, and released for streaming only where it can no longer change — not inside a possible stop sequence, not
/// inside a split UTF-8 character, and (with a filter) not within the filter's hold-back of the end.
/// </summary>
public sealed class TextStream(Tokenization.Tokenizer tokenizer, IReadOnlyList<string> stops, SafetyFilter? safety = null)
{
    readonly List<int> _ids = [];
    int _released;

    public string Text { get; private set; } = "";
    public IReadOnlyList<int> Ids => _ids;

    /// <summary>"stop" (a stop sequence) or "content_filter" (blocked text) once the text has been cut; else null.</summary>
    public string? Finish { get; private set; }

    /// <summary>Adds a token; returns the text that became certain (possibly empty).</summary>
    public string Add(int id)
    {
        if (Finish is not null)
            return "";
        _ids.Add(id);
        string text = tokenizer.Decode(_ids);
        int stop = FirstStop(text, stops);
        if (stop >= 0)
        {
            text = text[..stop];
            Finish = "stop";
        }
        if (safety is not null && safety.FirstMatch(text) is int blocked and >= 0)
        {
            text = text[..Math.Max(_released, blocked)];
            Finish = "content_filter";
        }
        Text = text;
        return Release(Finish is not null);
    }

    /// <summary>The rest of the text, at the end of generation.</summary>
    public string Flush() => Release(final: true);

    string Release(bool final)
    {
        string text = Text;
        int safe = text.Length;
        if (!final)
        {
            while (safe > 0 && (text[safe - 1] == '\uFFFD' || char.IsHighSurrogate(text[safe - 1])))
                safe--;
            int end = safe;
            foreach (var s in stops)
                for (int k = Math.Min(s.Length - 1, end); k > 0; k--)
                    if (string.CompareOrdinal(text, end - k, s, 0, k) == 0)
                    {
                        safe = Math.Min(safe, end - k);
                        break;
                    }
            if (safety is not null)
                safe = Math.Min(safe, Math.Max(0, text.Length - safety.HoldBack));
            if (safe > 0 && char.IsHighSurrogate(text[safe - 1]))
                safe--;
        }
        if (safe <= _released)
            return "";
        string delta = text[_released..safe];
        _released = safe;
        return delta;
    }

    static int FirstStop(string text, IReadOnlyList<string> stops)
    {
        int first = -1;
        foreach (var s in stops)
        {
            int i = text.IndexOf(s, StringComparison.Ordinal);
            if (i >= 0 && (first < 0 || i < first))
                first = i;
        }
        return first;
    }
}
