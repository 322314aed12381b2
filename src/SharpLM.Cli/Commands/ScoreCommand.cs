using System.CommandLine;
using System.Globalization;
using SharpLM.Evaluation.TextMetrics;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>sharplm score: BLEU, chrF(++) or ROUGE of a hypothesis file against one or more reference files.</summary>
public static class ScoreCommand
{
    public static Command Build(CliContext ctx)
    {
        var metric = new Option<string>("--metric") { Description = "bleu, chrf, rouge, seqeval or squad.", Required = true };
        metric.AcceptOnlyFromAmong("bleu", "chrf", "rouge", "seqeval", "squad");
        var hyp = new Option<string?>("--hyp")
        {
            Description = "System output: one segment per line (seqeval: one sentence's space-separated tags per line).",
        };
        var refs = new Option<string[]>("--ref")
        {
            Description = "Reference file, as many lines as --hyp; repeat for several references (seqeval: one).",
            AllowMultipleArgumentsPerToken = false,
        };
        var mode = new Option<string>("--mode")
        {
            Description = "seqeval: default (conlleval's lenient chunks) or strict (a tagging scheme's well-formed entities only).",
            DefaultValueFactory = _ => "default",
        };
        mode.AcceptOnlyFromAmong("default", "strict");
        var scheme = new Option<string?>("--scheme")
        {
            Description = "seqeval strict mode: IOB2, IOE2, IOBES or BILOU (default: detected).",
        };
        var digits = new Option<int>("--digits") { Description = "seqeval: digits in the printed report.", DefaultValueFactory = _ => 2 };
        var pred = new Option<string?>("--pred") { Description = "squad: predictions, a JSON object of question id → answer text." };
        var data = new Option<string?>("--data") { Description = "squad: the SQuAD 1.1 or 2.0 JSON file the predictions answer." };
        var naProb = new Option<string?>("--na-prob")
        {
            Description = "squad 2.0: question id → probability of no answer (best thresholds).",
        };
        var naThresh = new Option<double>("--na-prob-thresh")
        {
            Description = "squad 2.0: answer \"\" where the no-answer probability exceeds this.",
            DefaultValueFactory = _ => 1.0,
        };
        var tokenize = new Option<string?>("--tokenize")
        {
            Description =
                "BLEU: 13a (default), intl, zh, char or none. ROUGE: default (rouge-score's, ASCII only) or unicode "
                + "(keeps CJK and accents).",
        };
        var lowercase = new Option<bool>("--lowercase") { Description = "BLEU/chrF: compare lower-cased text." };
        var smooth = new Option<string>("--smooth")
        {
            Description = "BLEU smoothing: exp, floor, add-k or none.",
            DefaultValueFactory = _ => "exp",
        };
        smooth.AcceptOnlyFromAmong("exp", "floor", "add-k", "none");
        var smoothValue = new Option<double?>("--smooth-value")
        {
            Description = "BLEU: the value for floor (default 0.1) or add-k (default 1).",
        };
        var wordOrder = new Option<int>("--word-order") { Description = "chrF: 0 for chrF, 2 for chrF++.", DefaultValueFactory = _ => 0 };
        var stem = new Option<bool>("--stem") { Description = "ROUGE: Porter-stem tokens longer than 3 characters." };
        var types = new Option<string>("--rouge-types")
        {
            Description = "ROUGE types, comma-separated: rouge1 … rouge9, rougeL, rougeLsum.",
            DefaultValueFactory = _ => "rouge1,rouge2,rougeL,rougeLsum",
        };
        var separator = new Option<string?>("--sentence-separator")
        {
            Description = "ROUGE: a string that separates sentences within a line (e.g. <n>); rougeLsum splits there.",
        };
        var perLine = new Option<bool>("--per-line") { Description = "Also each line's score (sentence BLEU with effective order)." };
        var cmd = new Command(
            "score",
            "BLEU and chrF as sacrebleu computes them, ROUGE as rouge-score does, entity F1 as seqeval does, and SQuAD exact match and F1 "
                + "as the official script does."
        );
        foreach (
            var o in new Option[]
            {
                metric,
                hyp,
                refs,
                tokenize,
                lowercase,
                smooth,
                smoothValue,
                wordOrder,
                stem,
                types,
                separator,
                perLine,
                mode,
                scheme,
                digits,
                pred,
                data,
                naProb,
                naThresh,
                CliApp.JsonOption,
            }
        )
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                (p, ct) =>
                {
                    string which = p.GetValue(metric)!;
                    void Only(Option option, string forMetric)
                    {
                        if (p.GetResult(option) is { Implicit: false } && which != forMetric)
                            throw new SharpLMException($"{option.Name} applies to --metric {forMetric} only; drop it.");
                    }
                    Only(smooth, "bleu");
                    Only(smoothValue, "bleu");
                    Only(wordOrder, "chrf");
                    Only(stem, "rouge");
                    Only(types, "rouge");
                    Only(separator, "rouge");
                    if (which == "chrf")
                        Only(tokenize, "bleu");
                    if (which == "rouge")
                        Only(lowercase, "bleu");
                    Only(mode, "seqeval");
                    Only(scheme, "seqeval");
                    Only(digits, "seqeval");
                    Only(pred, "squad");
                    Only(data, "squad");
                    Only(naProb, "squad");
                    Only(naThresh, "squad");
                    bool json = p.GetValue(CliApp.JsonOption);
                    if (which == "squad")
                    {
                        foreach (var o in new Option[] { hyp, refs, perLine, tokenize, lowercase })
                            if (p.GetResult(o) is { Implicit: false })
                                throw new SharpLMException($"{o.Name} does not apply to --metric squad; give --pred and --data.");
                        Squad(
                            ctx,
                            p.GetValue(pred) ?? throw new SharpLMException("--metric squad needs --pred PREDICTIONS.json."),
                            p.GetValue(data) ?? throw new SharpLMException("--metric squad needs --data SQUAD.json."),
                            p.GetValue(naProb),
                            p.GetValue(naThresh),
                            json
                        );
                        return Task.FromResult(0);
                    }
                    if (p.GetValue(hyp) is null || p.GetValue(refs) is not { Length: > 0 })
                        throw new SharpLMException($"--metric {which} needs --hyp and --ref.");
                    if (which == "seqeval")
                    {
                        foreach (var o in new Option[] { perLine, tokenize, lowercase })
                            if (p.GetResult(o) is { Implicit: false })
                                throw new SharpLMException($"{o.Name} does not apply to --metric seqeval.");
                        if (p.GetValue(refs)!.Length != 1)
                            throw new SharpLMException("--metric seqeval takes one --ref file of reference tags.");
                        Seqeval(
                            ctx,
                            p.GetValue(hyp)!,
                            p.GetValue(refs)![0],
                            p.GetValue(mode)!,
                            p.GetValue(scheme),
                            p.GetValue(digits),
                            json
                        );
                        return Task.FromResult(0);
                    }

                    var hypotheses = TextLines.Read(p.GetValue(hyp)!, "--hyp");
                    var references = p.GetValue(refs)!.Select(r => (IReadOnlyList<string>)TextLines.Read(r, "--ref")).ToList();
                    for (int k = 0; k < references.Count; k++)
                        if (references[k].Count != hypotheses.Count)
                            throw new SharpLMException(
                                $"--ref '{p.GetValue(refs)![k]}' has {references[k].Count} lines but --hyp has {hypotheses.Count}; "
                                    + "each hypothesis line needs one reference line."
                            );
                    switch (which)
                    {
                        case "bleu":
                            Bleu(
                                ctx,
                                hypotheses,
                                references,
                                p.GetValue(tokenize) ?? "13a",
                                p.GetValue(lowercase),
                                p.GetValue(smooth)!,
                                p.GetValue(smoothValue),
                                p.GetValue(perLine),
                                json
                            );
                            break;
                        case "chrf":
                            Chrf(ctx, hypotheses, references, p.GetValue(wordOrder), p.GetValue(lowercase), p.GetValue(perLine), json);
                            break;
                        default:
                            string? sep = p.GetValue(separator);
                            if (sep is { Length: > 0 })
                            {
                                hypotheses = hypotheses.Select(h => h.Replace(sep, "\n")).ToList();
                                references = references
                                    .Select(r => (IReadOnlyList<string>)r.Select(l => l.Replace(sep, "\n")).ToList())
                                    .ToList();
                            }
                            Rouge(
                                ctx,
                                hypotheses,
                                references,
                                p.GetValue(tokenize),
                                p.GetValue(stem),
                                p.GetValue(types)!,
                                p.GetValue(perLine),
                                json
                            );
                            break;
                    }
                    return Task.FromResult(0);
                }
            )
        );
        return cmd;
    }

    static string F(double x, string format) => x.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>Entity scores per type and averaged, printed as seqeval's classification_report.</summary>
    static void Seqeval(CliContext ctx, string hypPath, string refPath, string mode, string? scheme, int digits, bool json)
    {
        static List<IReadOnlyList<string>> Tags(string path, string flag) =>
            TextLines.Read(path, flag).Select(l => (IReadOnlyList<string>)SharpLM.Evaluation.TextMetrics.PythonText.Split(l)).ToList();
        var report = SharpLM.Evaluation.TaskMetrics.Seqeval.Report(Tags(refPath, "--ref"), Tags(hypPath, "--hyp"), mode, scheme);
        if (json)
            ctx.WriteJson(
                new
                {
                    metric = "seqeval",
                    report.Mode,
                    report.Scheme,
                    report.Types,
                    report.Micro,
                    report.Macro,
                    report.Weighted,
                }
            );
        else
            ctx.Out.WriteLine(report.Format(digits));
    }

    /// <summary>The official SQuAD script's numbers.</summary>
    static void Squad(CliContext ctx, string predPath, string dataPath, string? naProbPath, double threshold, bool json)
    {
        var result = SharpLM.Evaluation.TaskMetrics.SquadEvaluation.Evaluate(dataPath, predPath, naProbPath, threshold);
        if (json)
            ctx.WriteJson(result);
        else
            foreach (var (k, v) in result)
                ctx.Out.WriteLine($"{k}: {(v is double d ? F(d, "F4") : v)}");
    }

    static void Bleu(
        CliContext ctx,
        List<string> hypotheses,
        List<IReadOnlyList<string>> references,
        string tokenize,
        bool lowercase,
        string smooth,
        double? smoothValue,
        bool perLine,
        bool json
    )
    {
        var options = new BleuOptions
        {
            Tokenize = tokenize,
            Lowercase = lowercase,
            Smoothing = smooth switch
            {
                "floor" => BleuSmoothing.Floor,
                "add-k" => BleuSmoothing.AddK,
                "none" => BleuSmoothing.None,
                _ => BleuSmoothing.Exp,
            },
            SmoothingValue = smoothValue,
        };
        var corpus = new Bleu(options).Corpus(hypotheses, references);
        var sentence = new Bleu(options with { EffectiveOrder = true });
        var lines = perLine ? hypotheses.Select((h, i) => sentence.Sentence(h, references.Select(r => r[i]).ToList())).ToList() : null;
        if (json)
        {
            ctx.WriteJson(
                new
                {
                    metric = "bleu",
                    score = corpus.Score,
                    signature = corpus.Signature,
                    counts = corpus.Counts,
                    totals = corpus.Totals,
                    precisions = corpus.Precisions,
                    bp = corpus.BrevityPenalty,
                    sys_len = corpus.HypothesisLength,
                    ref_len = corpus.ReferenceLength,
                    per_line = lines?.Select(l => l.Score),
                }
            );
            return;
        }
        PrintScores(ctx, lines, corpus.ToString(), corpus.Signature);
    }

    static void Chrf(
        CliContext ctx,
        List<string> hypotheses,
        List<IReadOnlyList<string>> references,
        int wordOrder,
        bool lowercase,
        bool perLine,
        bool json
    )
    {
        var chrf = new Chrf(new ChrfOptions { WordOrder = wordOrder, Lowercase = lowercase });
        var corpus = chrf.Corpus(hypotheses, references);
        var lines = perLine ? hypotheses.Select((h, i) => chrf.Sentence(h, references.Select(r => r[i]).ToList())).ToList() : null;
        if (json)
        {
            ctx.WriteJson(
                new
                {
                    metric = "chrf",
                    name = corpus.Name,
                    score = corpus.Score,
                    signature = corpus.Signature,
                    per_line = lines?.Select(l => l.Score),
                }
            );
            return;
        }
        PrintScores(ctx, lines, corpus.ToString(), corpus.Signature);
    }

    static void Rouge(
        CliContext ctx,
        List<string> hypotheses,
        List<IReadOnlyList<string>> references,
        string? tokenize,
        bool stem,
        string types,
        bool perLine,
        bool json
    )
    {
        var tokenizer = tokenize switch
        {
            null or "default" => RougeTokenizer.Default,
            "unicode" => RougeTokenizer.Unicode,
            _ => throw new SharpLMException($"--tokenize '{tokenize}' is not a ROUGE tokenizer; use default or unicode."),
        };
        var rouge = new Rouge(
            new RougeOptions
            {
                Types = types.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                UseStemmer = stem,
                Tokenizer = tokenizer,
            }
        );
        var lines = rouge.PerLine(hypotheses, references);
        var mean = rouge.Mean(lines);
        string signature =
            $"nrefs:{references.Count}|tok:{(tokenizer == RougeTokenizer.Default ? "default" : "unicode")}|stem:{(stem ? "yes" : "no")}";
        if (json)
        {
            var result = new Dictionary<string, object?> { ["metric"] = "rouge" };
            foreach (string type in rouge.Types)
                result[type] = Json(mean[type]);
            result["signature"] = signature;
            if (perLine)
                result["per_line"] = lines.Select(l => rouge.Types.ToDictionary(t => t, t => Json(l[t])));
            ctx.WriteJson(result);
            return;
        }
        if (perLine)
            for (int i = 0; i < lines.Count; i++)
                ctx.Out.WriteLine(
                    $"{i + 1}\t"
                        + string.Join(
                            "  ",
                            rouge.Types.Select(t =>
                                $"{t} P={F(lines[i][t].Precision, "F4")} R={F(lines[i][t].Recall, "F4")} F={F(lines[i][t].FMeasure, "F4")}"
                            )
                        )
                );
        var table = new Table().AddColumns("ROUGE (mean over lines)", "precision", "recall", "F1");
        foreach (string type in rouge.Types)
            table.AddRow(type, F(mean[type].Precision, "F4"), F(mean[type].Recall, "F4"), F(mean[type].FMeasure, "F4"));
        ctx.WriteTable(table);
        ctx.Out.WriteLine(signature);
    }

    /// <summary>Each line's score (with --per-line), then the corpus score and its signature, as sacrebleu prints them.</summary>
    static void PrintScores<T>(CliContext ctx, List<T>? lines, string corpus, string signature)
    {
        if (lines != null)
            for (int i = 0; i < lines.Count; i++)
                ctx.Out.WriteLine($"{i + 1}\t{lines[i]}");
        ctx.Out.WriteLine(corpus);
        ctx.Out.WriteLine(signature);
    }

    static object Json(RougeScore s) =>
        new
        {
            precision = s.Precision,
            recall = s.Recall,
            fmeasure = s.FMeasure,
        };
}
