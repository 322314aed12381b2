using System.CommandLine;
using SharpLM.Catalogue;
using SharpLM.Data;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

public static class PrepareCommand
{
    public static Command Build(CliContext ctx)
    {
        var input = new Option<string[]>("--input")
        {
            Description = "Text files, folders or data set names.",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var tok = new Option<string>("--tokenizer")
        {
            Description = "gpt2, char (vocabulary = the corpus's characters), or a tokenizer.json.",
            Required = true,
        };
        var output = new Option<string>("--output")
        {
            Description = "Folder for the shards, tokenizer.json and summary.json.",
            Required = true,
        };
        var val = new Option<double>("--val-fraction")
        {
            Description = "Fraction held out for validation.",
            DefaultValueFactory = _ => 0.1,
        };
        var seed = new Option<int>("--seed") { Description = "Seed of the train/validation split.", DefaultValueFactory = _ => 1337 };
        var split = new Option<string>("--split")
        {
            Description = "auto (characters for one document, else documents), documents or characters.",
            DefaultValueFactory = _ => "auto",
        };
        split.AcceptOnlyFromAmong("auto", "documents", "characters");
        var shardTokens = new Option<long>("--shard-tokens")
        {
            Description = "Tokens per shard file.",
            DefaultValueFactory = _ => 100_000_000,
        };
        var noClean = new Option<bool>("--no-clean") { Description = "Keep the text exactly as read (no NFC, keep control characters)." };
        var html = new Option<bool>("--strip-html") { Description = "Remove HTML tags, scripts and styles; decode entities." };
        var lower = new Option<bool>("--lowercase") { Description = "Lowercase the text." };
        var stop = new Option<bool>("--remove-stopwords") { Description = "Remove English stop words (classic NLP; implies lowercase)." };
        var stem = new Option<bool>("--stem") { Description = "Porter-stem every word (classic NLP; implies lowercase)." };
        var pii = new Option<bool>("--redact-pii")
        {
            Description = "Replace e-mail addresses, phone numbers and IP addresses by [EMAIL], [PHONE], [IP] (patterns, not a guarantee).",
        };
        var noEot = new Option<bool>("--no-eot") { Description = "Do not put <|endoftext|> before each document." };
        var cmd = new Command("prepare", "Clean a corpus, split train/validation deterministically and write llm.c token shards.");
        foreach (
            var o in new Option[]
            {
                input,
                tok,
                output,
                val,
                seed,
                split,
                shardTokens,
                noClean,
                html,
                lower,
                stop,
                stem,
                pii,
                noEot,
                CliApp.JsonOption,
            }
        )
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                async (p, _) =>
                {
                    bool clean = !p.GetValue(noClean);
                    var options = new PrepareOptions
                    {
                        Inputs = p.GetValue(input)!,
                        Tokenizer = p.GetValue(tok)!,
                        OutputDir = p.GetValue(output)!,
                        ValFraction = p.GetValue(val),
                        Seed = p.GetValue(seed),
                        Split = Enum.Parse<SplitMode>(p.GetValue(split)!, ignoreCase: true),
                        ShardTokens = p.GetValue(shardTokens),
                        EndOfTextBetweenDocuments = !p.GetValue(noEot),
                        Cleaning = new CleaningOptions
                        {
                            Nfc = clean,
                            RemoveControlCharacters = clean,
                            StripHtml = p.GetValue(html),
                            Lowercase = p.GetValue(lower),
                            RemoveStopWords = p.GetValue(stop),
                            Stem = p.GetValue(stem),
                            RedactPii = p.GetValue(pii),
                        },
                    };
                    var summary = await Run(ctx, CliApp.Catalog(p), options);
                    if (p.GetValue(CliApp.JsonOption))
                        ctx.WriteJson(summary);
                    else
                        Print(ctx, summary, options.OutputDir);
                    return 0;
                }
            )
        );
        return cmd;
    }

    public static Task<PrepareSummary> Run(CliContext ctx, DataCatalogClient catalog, PrepareOptions options) =>
        CliApp.WithProgress(
            ctx,
            "preparing",
            task =>
                new CorpusPreparer(catalog).RunAsync(
                    options,
                    new CliApp.SyncProgress<PrepareProgress>(pp =>
                    {
                        task.Description = pp.Stage;
                        if (pp.TotalCharacters is long t)
                        {
                            task.MaxValue = t;
                            task.Value = pp.Characters;
                        }
                        else
                            task.IsIndeterminate = true;
                    }),
                    CliApp.DownloadReporter(task)
                )
        );

    public static void Print(CliContext ctx, PrepareSummary s, string outputDir)
    {
        var table = new Table().AddColumns("split", "documents", "characters", "tokens", "shards");
        table.AddRow(
            "train",
            s.Train.Documents.ToString("N0"),
            s.Train.Characters.ToString("N0"),
            s.Train.Tokens.ToString("N0"),
            string.Join(' ', s.Train.Shards)
        );
        table.AddRow(
            "val",
            s.Val.Documents.ToString("N0"),
            s.Val.Characters.ToString("N0"),
            s.Val.Tokens.ToString("N0"),
            string.Join(' ', s.Val.Shards)
        );
        ctx.WriteTable(table);
        ctx.Out.WriteLine(
            $"tokenizer {s.Tokenizer} (vocabulary {s.VocabSize:N0}), split by {s.SplitMode}, {s.TokensPerChar:F3} tokens/char, "
                + $"{s.Seconds:F1} s ({s.MillionCharactersPerSecond:F2} M chars/s)"
        );
        if (s.Redacted is { } r)
            ctx.Out.WriteLine($"redacted {r.Emails:N0} e-mail addresses, {r.Phones:N0} phone numbers, {r.IpAddresses:N0} IP addresses");
        ctx.Out.WriteLine($"wrote {Path.GetFullPath(outputDir)} (shards, tokenizer.json, {CorpusPreparer.SummaryFile})");
    }
}
