namespace SharpLM.Evaluation.TaskMetrics;

/// <summary>One labelled span: sentence, entity type, first token, last token (inclusive).</summary>
public readonly record struct TaggedEntity(int Sentence, string Type, int Start, int End);

/// <summary>Precision, recall, F1 and support of one entity type or one average.</summary>
public sealed record EntityScores(string Name, double Precision, double Recall, double F1, long Support);

/// <summary>Per-type scores and the micro, macro and weighted averages, as seqeval's classification_report gives them.</summary>
public sealed record EntityReport(
    string Mode,
    string? Scheme,
    IReadOnlyList<EntityScores> Types,
    EntityScores Micro,
    EntityScores Macro,
    EntityScores Weighted
)
{
    /// <summary>The report as seqeval prints it (digits after the point as given).</summary>
    public string Format(int digits = 2)
    {
        var rows = Types.Select(t => t.Name).Concat(["weighted avg"]);
        int width = Math.Max(Math.Max(rows.Max(n => n.Length), "weighted avg".Length), digits);
        // seqeval's StringReporter: the name right-aligned in the width, then each column right-aligned in 9 after a space.
        string Row(EntityScores s) => $"{s.Name.PadLeft(width)}  {Fixed(s.Precision)} {Fixed(s.Recall)} {Fixed(s.F1)} {s.Support, 9}";
        string Fixed(double v) => TextMetrics.PythonText.FixedPoint(v, digits).PadLeft(9);
        var lines = new List<string> { $"{"".PadLeft(width)}  {"precision", 9} {"recall", 9} {"f1-score", 9} {"support", 9}", "" };
        lines.AddRange(Types.Select(Row));
        lines.Add("");
        lines.AddRange([Row(Micro), Row(Macro), Row(Weighted)]);
        lines.Add("");
        return string.Join('\n', lines);
    }
}

/// <summary>
/// Entity-level precision, recall and F1 for sequence labelling (NER), computed as seqeval 1.2 computes them. Default
/// mode is conlleval's lenient chunking: a chunk starts at B (or S), at an I or E that follows O or another type, and
/// ends where the next token cannot continue it — so an I- without a B- still opens an entity. Strict mode takes the
/// tagging scheme (IOB2, IOE2, IOBES, BILOU; detected from the references unless given) and counts only the entities
/// the scheme well-forms, so "I-PER" after "O" is no entity. Entities match when type, start and end all agree.
/// Averages: micro over all entities, macro the plain mean over types, weighted by each type's support; a division
/// by zero counts as 0, as seqeval's default zero_division does.
/// Written by hand: no .NET library reproduces seqeval's rules, and they are the community's reference.
/// </summary>
public static class Seqeval
{
    /// <summary>The entities of one mode over all sentences.</summary>
    public static List<TaggedEntity> Entities(
        IReadOnlyList<IReadOnlyList<string>> sentences,
        string mode = "default",
        string? scheme = null
    ) =>
        mode switch
        {
            "default" => DefaultEntities(sentences),
            "strict" => StrictEntities(sentences, scheme ?? DetectScheme(sentences)),
            _ => throw new SharpLMException($"mode '{mode}' is not known; use default or strict."),
        };

    /// <summary>The report for references <paramref name="truth"/> and predictions <paramref name="predicted"/>.</summary>
    public static EntityReport Report(
        IReadOnlyList<IReadOnlyList<string>> truth,
        IReadOnlyList<IReadOnlyList<string>> predicted,
        string mode = "default",
        string? scheme = null
    )
    {
        if (truth.Count != predicted.Count)
            throw new SharpLMException($"The predictions have {predicted.Count} sentences but the references {truth.Count}.");
        for (int i = 0; i < truth.Count; i++)
            if (truth[i].Count != predicted[i].Count)
                throw new SharpLMException(
                    $"Sentence {i + 1} has {predicted[i].Count} predicted tags but {truth[i].Count} reference tags; every token needs one."
                );
        if (mode == "strict")
            scheme ??= DetectScheme(truth);
        var t = Entities(truth, mode, scheme);
        var p = Entities(predicted, mode, scheme);
        var types = t.Select(e => e.Type).Union(p.Select(e => e.Type)).Order(StringComparer.Ordinal).ToList();
        var trueSet = t.ToHashSet();
        var rows = new List<EntityScores>();
        long tpAll = 0,
            predAll = 0,
            trueAll = 0;
        foreach (var type in types)
        {
            long trueCount = t.Where(e => e.Type == type).Distinct().Count();
            var predOfType = p.Where(e => e.Type == type).Distinct().ToList();
            long tp = predOfType.Count(trueSet.Contains);
            rows.Add(Scores(type, tp, predOfType.Count, trueCount));
            (tpAll, predAll, trueAll) = (tpAll + tp, predAll + predOfType.Count, trueAll + trueCount);
        }
        var micro = Scores("micro avg", tpAll, predAll, trueAll);
        var macro =
            rows.Count == 0
                ? new EntityScores("macro avg", double.NaN, double.NaN, double.NaN, 0)
                : new EntityScores(
                    "macro avg",
                    rows.Average(r => r.Precision),
                    rows.Average(r => r.Recall),
                    rows.Average(r => r.F1),
                    trueAll
                );
        EntityScores weighted;
        if (trueAll == 0)
            // seqeval: with no reference entities, the weighted average is 0 unless nothing was predicted either
            weighted = new EntityScores("weighted avg", 0, 0, 0, 0);
        else
            weighted = new EntityScores(
                "weighted avg",
                rows.Sum(r => r.Precision * r.Support) / trueAll,
                rows.Sum(r => r.Recall * r.Support) / trueAll,
                rows.Sum(r => r.F1 * r.Support) / trueAll,
                trueAll
            );
        return new EntityReport(mode, mode == "strict" ? scheme : null, rows, micro, macro, weighted);
    }

    static EntityScores Scores(string name, long tp, long predicted, long truth)
    {
        double precision = predicted == 0 ? 0 : (double)tp / predicted,
            recall = truth == 0 ? 0 : (double)tp / truth;
        double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        return new EntityScores(name, precision, recall, f1, truth);
    }

    // ---- default mode: conlleval's chunking ----

    /// <summary>
    /// Chunks as conlleval finds them. Sentences are joined with an "O" between them (so no chunk spans two), and a
    /// tag's type is what follows its first "-" (a bare "B" or "O" has the type "_").
    /// </summary>
    static List<TaggedEntity> DefaultEntities(IReadOnlyList<IReadOnlyList<string>> sentences)
    {
        var flat = new List<(string Tag, int Sentence, int Index)>();
        for (int s = 0; s < sentences.Count; s++)
        {
            for (int i = 0; i < sentences[s].Count; i++)
                flat.Add((sentences[s][i], s, i));
            flat.Add(("O", s, sentences[s].Count));
        }
        flat.Add(("O", sentences.Count, 0));
        var chunks = new List<TaggedEntity>();
        char prevTag = 'O';
        string prevType = "";
        int begin = 0;
        for (int k = 0; k < flat.Count; k++)
        {
            string chunk = flat[k].Tag;
            char tag = chunk.Length > 0 ? chunk[0] : 'O';
            string type = TypeOf(chunk);
            if (EndsChunk(prevTag, tag, prevType, type))
                chunks.Add(new TaggedEntity(flat[begin].Sentence, prevType, flat[begin].Index, flat[begin].Index + (k - 1 - begin)));
            if (StartsChunk(prevTag, tag, prevType, type))
                begin = k;
            (prevTag, prevType) = (tag, type);
        }
        return chunks;
    }

    static string TypeOf(string chunk)
    {
        string rest = chunk.Length > 1 ? chunk[1..] : "";
        int dash = rest.IndexOf('-');
        string type = dash < 0 ? rest : rest[(dash + 1)..];
        return type.Length == 0 ? "_" : type;
    }

    static bool EndsChunk(char prevTag, char tag, string prevType, string type) =>
        prevTag is 'E' or 'S'
        || (prevTag is 'B' or 'I' && tag is 'B' or 'S' or 'O')
        || (prevTag != 'O' && prevTag != '.' && prevType != type);

    static bool StartsChunk(char prevTag, char tag, string prevType, string type) =>
        tag is 'B' or 'S' || (prevTag is 'E' or 'S' or 'O' && tag is 'E' or 'I') || (tag != 'O' && tag != '.' && prevType != type);

    // ---- strict mode: a tagging scheme's well-formed entities ----

    [Flags]
    enum Prefix
    {
        None = 0,
        I = 1,
        O = 2,
        B = 4,
        E = 8,
        S = 16,
        U = 32,
        L = 64,
        Any = I | O | B | E | S | U | L,
    }

    enum Same
    {
        Any,
        Same,
        Diff,
    }

    sealed record Scheme(
        Prefix Allowed,
        (Prefix Prev, Prefix Cur, Same Tag)[] Start,
        (Prefix Prev, Prefix Cur, Same Tag)[] Inside,
        (Prefix Prev, Prefix Cur, Same Tag)[] End
    );

    static readonly Dictionary<string, Scheme> Schemes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["IOB2"] = new(
            Prefix.I | Prefix.O | Prefix.B,
            [(Prefix.Any, Prefix.B, Same.Any)],
            [(Prefix.B, Prefix.I, Same.Same), (Prefix.I, Prefix.I, Same.Same)],
            [
                (Prefix.I, Prefix.O, Same.Any),
                (Prefix.I, Prefix.I, Same.Diff),
                (Prefix.I, Prefix.B, Same.Any),
                (Prefix.B, Prefix.O, Same.Any),
                (Prefix.B, Prefix.I, Same.Diff),
                (Prefix.B, Prefix.B, Same.Any),
            ]
        ),
        ["IOE2"] = new(
            Prefix.I | Prefix.O | Prefix.E,
            [
                (Prefix.O, Prefix.I, Same.Any),
                (Prefix.O, Prefix.E, Same.Any),
                (Prefix.E, Prefix.I, Same.Any),
                (Prefix.E, Prefix.E, Same.Any),
                (Prefix.I, Prefix.I, Same.Diff),
                (Prefix.I, Prefix.E, Same.Diff),
            ],
            [(Prefix.I, Prefix.E, Same.Same), (Prefix.I, Prefix.I, Same.Same)],
            [(Prefix.E, Prefix.Any, Same.Any)]
        ),
        ["IOBES"] = new(
            Prefix.I | Prefix.O | Prefix.B | Prefix.E | Prefix.S,
            [(Prefix.Any, Prefix.B, Same.Any), (Prefix.Any, Prefix.S, Same.Any)],
            [
                (Prefix.B, Prefix.I, Same.Same),
                (Prefix.B, Prefix.E, Same.Same),
                (Prefix.I, Prefix.I, Same.Same),
                (Prefix.I, Prefix.E, Same.Same),
            ],
            [(Prefix.S, Prefix.Any, Same.Any), (Prefix.E, Prefix.Any, Same.Any)]
        ),
        ["BILOU"] = new(
            Prefix.B | Prefix.I | Prefix.L | Prefix.O | Prefix.U,
            [(Prefix.Any, Prefix.B, Same.Any), (Prefix.Any, Prefix.U, Same.Any)],
            [
                (Prefix.B, Prefix.I, Same.Same),
                (Prefix.B, Prefix.L, Same.Same),
                (Prefix.I, Prefix.I, Same.Same),
                (Prefix.I, Prefix.L, Same.Same),
            ],
            [(Prefix.U, Prefix.Any, Same.Any), (Prefix.L, Prefix.Any, Same.Any)]
        ),
    };

    public static IReadOnlyList<string> SchemeNames => [.. Schemes.Keys];

    readonly record struct Token(Prefix Prefix, string Type)
    {
        public static Token Of(string text)
        {
            Prefix prefix = text.Length == 0 ? Prefix.None : PrefixOf(text[0]);
            if (prefix == Prefix.None)
                throw new SharpLMException(
                    $"Tag '{text}' does not start with a prefix of a tagging scheme (I, O, B, E, S, U, L); strict mode cannot read it."
                );
            string type = text[1..].Trim('-');
            return new Token(prefix, type.Length == 0 ? "_" : type);
        }

        static Prefix PrefixOf(char c) =>
            c switch
            {
                'I' => Prefix.I,
                'O' => Prefix.O,
                'B' => Prefix.B,
                'E' => Prefix.E,
                'S' => Prefix.S,
                'U' => Prefix.U,
                'L' => Prefix.L,
                _ => Prefix.None,
            };

        public bool Matches(Token prev, (Prefix Prev, Prefix Cur, Same Tag)[] patterns)
        {
            foreach (var p in patterns)
                if (
                    (p.Prev & prev.Prefix) != 0
                    && (p.Cur & Prefix) != 0
                    && (p.Tag == Same.Any || (p.Tag == Same.Same) == (prev.Type == Type))
                )
                    return true;
            return false;
        }
    }

    /// <summary>The scheme seqeval's auto_detect picks from the prefixes the references use.</summary>
    public static string DetectScheme(IReadOnlyList<IReadOnlyList<string>> sentences)
    {
        var prefixes = Prefix.None;
        foreach (var sentence in sentences)
        foreach (var tag in sentence)
            prefixes |= Token.Of(tag).Prefix;
        bool Fits(Prefix required, Prefix optional) => (prefixes & required) == required && (prefixes & ~(required | optional)) == 0;
        // Each scheme's accepted prefix sets, as seqeval lists them: its marker prefixes, with I and O optional.
        if (Fits(Prefix.B, Prefix.I | Prefix.O))
            return "IOB2";
        if (Fits(Prefix.E, Prefix.I | Prefix.O))
            return "IOE2";
        if (prefixes == Prefix.S || Fits(Prefix.B | Prefix.E, Prefix.I | Prefix.O | Prefix.S))
            return "IOBES";
        if (prefixes == Prefix.U || Fits(Prefix.B | Prefix.L, Prefix.I | Prefix.O | Prefix.U))
            return "BILOU";
        throw new SharpLMException(
            "The reference tags follow no scheme strict mode knows (IOB2, IOE2, IOBES, BILOU); give the scheme, or use default mode."
        );
    }

    static List<TaggedEntity> StrictEntities(IReadOnlyList<IReadOnlyList<string>> sentences, string schemeName)
    {
        if (!Schemes.TryGetValue(schemeName, out var scheme))
            throw new SharpLMException($"scheme '{schemeName}' is not known; use one of {string.Join(", ", Schemes.Keys)}.");
        var outside = new Token(Prefix.O, "_");
        var entities = new List<TaggedEntity>();
        for (int s = 0; s < sentences.Count; s++)
        {
            var tokens = sentences[s].Select(Token.Of).Append(outside).ToArray();
            foreach (var t in tokens)
                if ((t.Prefix & scheme.Allowed) == 0)
                    throw new SharpLMException(
                        $"Sentence {s + 1} has a tag with prefix {t.Prefix}, which the {schemeName} scheme does not allow."
                    );
            int i = 0;
            var prev = outside;
            while (i < tokens.Length)
            {
                var token = tokens[i];
                if (token.Matches(prev, scheme.Start))
                {
                    int end = i + 1;
                    var last = token;
                    while (end < tokens.Length && tokens[end].Matches(last, scheme.Inside))
                        last = tokens[end++];
                    if (tokens[end].Matches(tokens[end - 1], scheme.End))
                        entities.Add(new TaggedEntity(s, token.Type, i, end - 1));
                    i = end;
                }
                else
                    i++;
                prev = tokens[i - 1];
            }
        }
        return entities;
    }
}
