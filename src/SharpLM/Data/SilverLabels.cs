using System.Text;
using System.Text.Json;
using SharpLM.Catalogue;
using SharpLM.IO;

namespace SharpLM.Data;

/// <summary>First names and US state names: the lists silver labels are matched against.</summary>
public sealed record Gazetteer(IReadOnlySet<string> FirstNames, IReadOnlyList<string[]> States);

/// <summary>What a silver data set holds: counts per part and entity type, for its README and the command's report.</summary>
public sealed record SilverSummary(string Task, int TrainItems, int TestItems, IReadOnlyDictionary<string, int> Entities, string Output);

/// <summary>
/// Silver-labelled NER and question-answering data made from the State of the Union addresses with gazetteers (the
/// stdlib first-name and US-state lists), by fixed rules, so anyone can rebuild the same files:
/// <list type="bullet">
/// <item>LOC: a US state name (longest match first, "New York" before "York"), exact case.</item>
/// <item>PER: a first name from the lists, capitalised, that is not a state name and that the corpus rarely writes in
/// lower case (so "Will", "Grant", "May" are left out), followed by up to three capitalised words or initials ("D.")
/// as the rest of the name, or alone after a title ("President"); months, a few list words that are places here, and
/// names ending in a place word ("Rocky Mountains") are left out.</item>
/// </list>
/// Silver labels are what the rules say, not what a person would say: "President Lincoln" has no first name and is
/// missed, "Washington" alone is a state. Speeches from years ending in 5 are the test part (about a tenth, spread
/// over all eras); the rest is for training. NER keeps every sentence with an entity and as many without, chosen by
/// seed. QA turns a tagged sentence into a cloze question ("... which state ...?") over the ~600-character run of
/// sentences around it; with <c>unanswerable</c>, every fourth question is also asked of a neighbouring run that
/// does not contain its answer (SQuAD 2.0).
/// </summary>
public static class SilverLabels
{
    public static async Task<Gazetteer> LoadGazetteerAsync(DataCatalogClient catalog, CancellationToken ct = default)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (string list in new[] { "female-first-names", "male-first-names" })
        {
            string dir = await catalog.GetAsync(Catalog.Get(list), ct: ct);
            foreach (var line in File.ReadLines(Path.Combine(dir, "data", "names.txt")))
                if (line.Trim().Length > 1)
                    names.Add(line.Trim());
        }
        string states = await catalog.GetAsync(Catalog.Get("us-states"), ct: ct);
        var stateWords = File.ReadLines(Path.Combine(states, "data", "data.txt"))
            .Where(l => l.Trim().Length > 0)
            .Select(l => WordSpans.Split(l.Trim()).Select(w => w.Text).ToArray())
            .OrderByDescending(s => s.Length)
            .ToList();
        return new Gazetteer(names, stateWords);
    }

    /// <summary>The speeches of a sotu folder: (file name, year, text), in file-name order.</summary>
    public static List<(string Name, int Year, string Text)> Speeches(string sotuDir)
    {
        var files = Directory.GetFiles(Path.Combine(sotuDir, "data"), "*.txt").Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0)
            throw new SharpLMException($"{sotuDir} has no speeches (data/*.txt); fetch them with 'sharplm data get sotu'.");
        return files
            .Select(f =>
                (Path.GetFileNameWithoutExtension(f), int.TryParse(Path.GetFileName(f)[..4], out int y) ? y : 0, File.ReadAllText(f).Trim())
            )
            .ToList();
    }

    /// <summary>First names the corpus writes in lower case more than a fifth as often as capitalised: ordinary words.</summary>
    public static HashSet<string> AmbiguousNames(IEnumerable<string> texts, Gazetteer g)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var text in texts)
        foreach (var w in WordSpans.Split(text))
            if (g.FirstNames.Contains(w.Text) || g.FirstNames.Contains(Capitalised(w.Text)))
                counts[w.Text] = counts.GetValueOrDefault(w.Text) + 1;
        return g
            .FirstNames.Where(n => counts.GetValueOrDefault(n.ToLowerInvariant()) * 5 > counts.GetValueOrDefault(n))
            .ToHashSet(StringComparer.Ordinal);
    }

    static string Capitalised(string w) => w.Length == 0 ? w : char.ToUpperInvariant(w[0]) + w[1..];

    /// <summary>BIO tags of a sentence's words by the rules above.</summary>
    public static string[] Tag(IReadOnlyList<string> words, Gazetteer g, IReadOnlySet<string> ambiguous)
    {
        var tags = Enumerable.Repeat("O", words.Count).ToArray();
        for (int i = 0; i < words.Count; i++)
        {
            var state = g.States.FirstOrDefault(s => i + s.Length <= words.Count && s.Select((w, k) => words[i + k] == w).All(x => x));
            if (state is not null)
            {
                tags[i] = "B-LOC";
                for (int k = 1; k < state.Length; k++)
                    tags[i + k] = "I-LOC";
                i += state.Length - 1;
                continue;
            }
            if (
                !g.FirstNames.Contains(words[i])
                || ambiguous.Contains(words[i])
                || NotNames.Contains(words[i])
                || Titles.Contains(words[i])
            )
                continue;
            int j = i + 1,
                extra = 0;
            while (j < words.Count && extra < 3)
            {
                if (j + 1 < words.Count && words[j].Length == 1 && char.IsUpper(words[j][0]) && words[j + 1] == ".")
                    j += 2;
                else if (words[j].Length > 1 && char.IsUpper(words[j][0]) && words[j].Skip(1).All(char.IsLower))
                    j++;
                else
                    break;
                extra++;
            }
            bool titled = i > 0 && Titles.Contains(words[i - 1]) || i > 1 && words[i - 1] == "." && Titles.Contains(words[i - 2]);
            // a person is a first name with a surname ("Abraham Lincoln") or a title ("President Lincoln"), not a place ("Rocky Mountains")
            if ((extra == 0 && !titled) || PlaceWords.Contains(words[j - 1]))
                continue;
            tags[i] = "B-PER";
            for (int k = i + 1; k < j; k++)
                tags[k] = "I-PER";
            i = j - 1;
        }
        return tags;
    }

    static bool IsTest(int year) => year % 10 == 5;

    /// <summary>Words of the name lists that in these speeches are months, places or parts of names of things.</summary>
    static readonly HashSet<string> NotNames =
    [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
        "Al",
        "El",
        "Costa",
        "Vera",
        "King",
        "Asia",
        "Israel",
        "Pearl",
        "Christian",
        "Rocky",
        "Bay",
        "Domingo",
        "Salvador",
    ];

    /// <summary>Last words that make a name a place or a thing ("Philippine Islands", "Monroe Doctrine").</summary>
    static readonly HashSet<string> PlaceWords =
    [
        "Islands",
        "Island",
        "Mountains",
        "Harbor",
        "Bay",
        "River",
        "Lake",
        "Canal",
        "Sea",
        "Ocean",
        "Doctrine",
        "Act",
        "Treaty",
        "Street",
        "County",
        "City",
        "Isthmus",
        "Strait",
        "Straits",
        "Valley",
        "Peninsula",
        "Administration",
        "Center",
        "Library",
        "Indians",
        "Plan",
        "Seaway",
        "Barracks",
    ];

    /// <summary>Titles that make a lone first name or surname a person ("President Lincoln").</summary>
    static readonly HashSet<string> Titles =
    [
        "President",
        "Mr",
        "Mrs",
        "Miss",
        "Ms",
        "General",
        "Secretary",
        "Senator",
        "Governor",
        "Dr",
        "Justice",
        "Captain",
        "Admiral",
        "Representative",
        "Congressman",
        "Congresswoman",
        "Judge",
        "Sergeant",
        "Colonel",
        "Lieutenant",
        "Major",
    ];

    /// <summary>Silver NER sentences: (train, test).</summary>
    public static (List<TaggedSentence> Train, List<TaggedSentence> Test) Ner(
        IReadOnlyList<(string Name, int Year, string Text)> speeches,
        Gazetteer g,
        int seed
    )
    {
        var ambiguous = AmbiguousNames(speeches.Select(s => s.Text), g);
        var train = new List<TaggedSentence>();
        var test = new List<TaggedSentence>();
        for (int s = 0; s < speeches.Count; s++)
        {
            var tagged = new List<TaggedSentence>();
            var plain = new List<TaggedSentence>();
            foreach (var sentence in Sentences.Split(speeches[s].Text))
            {
                var words = WordSpans.Split(sentence).Select(w => w.Text).ToArray();
                if (words.Length < 4 || words.Length > 80)
                    continue;
                var tags = Tag(words, g, ambiguous);
                (tags.Any(t => t != "O") ? tagged : plain).Add(new TaggedSentence(words, tags));
            }
            // as many sentences without entities as with, picked by seed
            var rng = new SplitMix64(SplitMix64.Mix((ulong)seed, 0x5E1E, (ulong)s));
            var picked = plain.Select(p => (Key: rng.Next(), p)).OrderBy(x => x.Key).Take(tagged.Count).Select(x => x.p);
            var part = IsTest(speeches[s].Year) ? test : train;
            part.AddRange(tagged.Concat(picked));
        }
        return (train, test);
    }

    /// <summary>Silver cloze questions over runs of sentences: (train, test).</summary>
    public static (List<SquadQuestion> Train, List<SquadQuestion> Test) Qa(
        IReadOnlyList<(string Name, int Year, string Text)> speeches,
        Gazetteer g,
        bool unanswerable
    )
    {
        var ambiguous = AmbiguousNames(speeches.Select(s => s.Text), g);
        var train = new List<SquadQuestion>();
        var test = new List<SquadQuestion>();
        int paragraph = 0,
            asked = 0;
        foreach (var (name, year, text) in speeches)
        {
            var runs = Sentences.Runs(text, 600).ToList();
            for (int r = 0; r < runs.Count; r++, paragraph++)
            {
                string context = runs[r];
                int offset = 0,
                    number = 0;
                foreach (var sentence in Sentences.Split(context))
                {
                    int at = context.IndexOf(sentence, offset, StringComparison.Ordinal);
                    offset = at + sentence.Length;
                    var spans = WordSpans.Split(sentence);
                    if (spans.Count < 6 || spans.Count > 60)
                        continue;
                    var tags = Tag(spans.Select(w => w.Text).ToArray(), g, ambiguous);
                    int b = Array.FindIndex(tags, t => t.StartsWith("B-", StringComparison.Ordinal));
                    if (b < 0)
                        continue;
                    int e = b;
                    while (e + 1 < tags.Length && tags[e + 1].StartsWith("I-", StringComparison.Ordinal))
                        e++;
                    string type = tags[b][2..];
                    string answer = sentence[spans[b].Start..spans[e].End];
                    string question =
                        sentence[..spans[b].Start] + (type == "LOC" ? "which state" : "which person") + sentence[spans[e].End..];
                    question = question.TrimEnd('.', '!', '?', ' ') + "?";
                    string id = $"{name}-{r}-{number++}";
                    var part = IsTest(year) ? test : train;
                    part.Add(new SquadQuestion(id, question, context, paragraph, [new SquadAnswer(answer, at + spans[b].Start)]));
                    if (unanswerable && asked++ % 4 == 0)
                    {
                        int other = r + 1 < runs.Count ? r + 1 : r - 1;
                        if (other >= 0 && !runs[other].Contains(answer, StringComparison.Ordinal))
                            part.Add(new SquadQuestion(id + "-none", question, runs[other], paragraph - r + other, []));
                    }
                }
            }
        }
        return (train, test);
    }

    /// <summary>Builds the data set into <paramref name="output"/> (a new folder, an empty one, or one this command wrote).</summary>
    public static async Task<SilverSummary> WriteAsync(
        string task,
        string output,
        DataCatalogClient catalog,
        int seed,
        CancellationToken ct = default
    )
    {
        if (task is not ("ner" or "qa" or "qa2"))
            throw new SharpLMException($"task '{task}' is not ner, qa (SQuAD 1.1) or qa2 (SQuAD 2.0, with unanswerable questions).");
        OutputFolder.Inspect(output, FolderKind.SilverData);
        var g = await LoadGazetteerAsync(catalog, ct);
        var speeches = Speeches(await catalog.GetAsync(Catalog.Get("sotu"), ct: ct));
        string tmp = OutputFolder.CreateTemporaryBeside(output, FolderKind.SilverData);
        var entities = new SortedDictionary<string, int>(StringComparer.Ordinal);
        int trainCount,
            testCount;
        try
        {
            if (task == "ner")
            {
                var (train, test) = Ner(speeches, g, seed);
                WriteJsonLines(Path.Combine(tmp, "train.jsonl"), train);
                WriteJsonLines(Path.Combine(tmp, "test.jsonl"), test);
                foreach (var t in train.Concat(test).SelectMany(s => s.Tags).Where(t => t.StartsWith("B-", StringComparison.Ordinal)))
                    entities[t[2..]] = entities.GetValueOrDefault(t[2..]) + 1;
                (trainCount, testCount) = (train.Count, test.Count);
            }
            else
            {
                bool v2 = task == "qa2";
                var (train, test) = Qa(speeches, g, v2);
                Squad.Save(Path.Combine(tmp, "train.json"), train, v2, "sotu-silver");
                Squad.Save(Path.Combine(tmp, "test.json"), test, v2, "sotu-silver");
                foreach (var q in train.Concat(test))
                {
                    string kind =
                        !q.HasAnswer ? "unanswerable"
                        : q.Question.Contains("which state", StringComparison.Ordinal) ? "LOC"
                        : "PER";
                    entities[kind] = entities.GetValueOrDefault(kind) + 1;
                }
                (trainCount, testCount) = (train.Count, test.Count);
            }
            var summary = new SilverSummary(task, trainCount, testCount, entities, output);
            AtomicFile.WriteAllText(Path.Combine(tmp, "README.md"), Readme(summary, seed));
            OutputFolder.SwapIn(tmp, output, FolderKind.SilverData);
            return summary;
        }
        catch
        {
            if (Directory.Exists(tmp))
                OutputFolder.Delete(tmp, FolderKind.SilverData);
            throw;
        }
    }

    static void WriteJsonLines(string path, IEnumerable<TaggedSentence> sentences)
    {
        var text = new StringBuilder();
        foreach (var s in sentences)
            text.Append(JsonSerializer.Serialize(new { tokens = s.Words, tags = s.Tags })).Append('\n');
        AtomicFile.WriteAllText(path, text.ToString());
    }

    static string Readme(SilverSummary s, int seed) =>
        $"""
        # Silver {(s.Task == "ner" ? "named-entity" : "question-answering")} data from the State of the Union addresses

        Made by `sharplm data silver --task {s.Task} --seed {seed}` from the catalogue's `sotu`, `female-first-names`,
        `male-first-names` and `us-states` packages. The labels are silver: rules over name lists, not a person's judgement.

        - LOC: a US state name (longest match first), exact case.
        - PER: a capitalised first name from the lists that is not a state and that the corpus rarely writes in lower case
          ("Will", "Grant" and "May" are ordinary words here), with up to three following capitalised words or initials, or
          alone after a title (President, Mr., General, ...). Left out: months and words the lists hold that are places here
          (Al, El, Costa, Vera, King, Asia, Israel, Pearl, Christian, Rocky, Bay, Domingo, Salvador), and names ending in a
          place word (Islands, Mountains, Harbor, Doctrine, ...).
        - Test part: the speeches from years ending in 5; training part: all others.
        {(s.Task == "ner"
            ? "- Sentences (4-80 words) with at least one entity, and as many without, picked by seed."
            : "- Each question is a tagged sentence with its first entity replaced by \"which state\" / \"which person\" (a cloze);"
              + "\n  its context is the run of sentences (at most ~600 characters) that holds it."
              + (s.Task == "qa2" ? "\n- Every fourth question is also asked of the next run when that run lacks the answer:"
                  + " unanswerable (SQuAD 2.0)." : ""))}

        Training items: {s.TrainItems}; test items: {s.TestItems}; {string.Join(", ", s.Entities.Select(e => $"{e.Key} {e.Value}"))}.
        """;
}
