using System.CommandLine;
using SharpLM.Pipelines;
using SharpLM.Retrieval;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>sharplm index (embed passages) and sharplm search (their exact nearest neighbours for a query).</summary>
public static class SearchCommands
{
    public static Command Index(CliContext ctx)
    {
        var model = new Option<string?>("--model") { Description = "The run whose encoder embeds the passages (BERT or GPT)." };
        var vectors = new Option<string?>("--vectors")
        {
            Description = "Instead of --model: word vectors (word2vec or GloVe text file, or an 'embeddings train' folder) to average.",
        };
        var input = new Option<string[]>("--input")
        {
            Description =
                "Files, folders or catalogue names; each paragraph (text between blank lines, long ones cut at sentences) is a passage.",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var output = new Option<string>("--output") { Description = "Index folder to write.", Required = true };
        var pooling = new Option<string>("--pooling")
        {
            Description = "mean (default), cls (BERT's first token) or last (a GPT's last token).",
            DefaultValueFactory = _ => "mean",
        };
        pooling.AcceptOnlyFromAmong("mean", "cls", "last");
        var minChars = new Option<int>("--min-chars") { Description = "Shorter passages are skipped.", DefaultValueFactory = _ => 20 };
        var maxChars = new Option<int>("--max-chars")
        {
            Description = "Longer paragraphs are cut into runs of whole sentences of about this length.",
            DefaultValueFactory = _ => 500,
        };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an earlier index in --output." };
        var cmd = new Command(
            "index",
            "Embed the paragraphs of text files with a run's encoder (or averaged word vectors), for 'sharplm search'."
        );
        foreach (var o in new Option[] { model, vectors, input, output, pooling, minChars, maxChars, overwrite, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                (p, ct) =>
                {
                    var progress = new CliApp.SyncProgress<(int Done, int Total)>(x =>
                        ctx.Err.WriteLine($"embedded {x.Done:N0}/{x.Total:N0} passages")
                    );
                    IndexInfo info;
                    switch (p.GetValue(model), p.GetValue(vectors))
                    {
                        case (string run, null):
                            info = VectorIndex.Build(
                                run,
                                p.GetValue(input)!,
                                p.GetValue(output)!,
                                Enum.Parse<Pooling>(p.GetValue(pooling)!, ignoreCase: true),
                                p.GetValue(minChars),
                                p.GetValue(overwrite),
                                p.GetValue(maxChars),
                                CliApp.Catalog(p),
                                progress,
                                ct
                            );
                            break;
                        case (null, string file):
                            if (p.GetResult(pooling) is { Implicit: false })
                                throw new SharpLMException("--pooling applies to --model; word vectors are averaged.");
                            using (var embedder = new WordVectorEmbedder(file))
                                info = VectorIndex.Build(
                                    embedder,
                                    p.GetValue(input)!,
                                    p.GetValue(output)!,
                                    p.GetValue(minChars),
                                    p.GetValue(maxChars),
                                    p.GetValue(overwrite),
                                    CliApp.Catalog(p),
                                    progress,
                                    ct
                                );
                            break;
                        case (null, null):
                            throw new SharpLMException("Give the embedder: --model RUN (an encoder) or --vectors FILE (word vectors).");
                        default:
                            throw new SharpLMException("Give --model or --vectors, not both.");
                    }
                    if (p.GetValue(CliApp.JsonOption))
                        ctx.WriteJson(info);
                    else
                        ctx.Out.WriteLine(
                            $"{Path.GetFullPath(p.GetValue(output)!)}: {info.Passages:N0} passages, {info.Dimensions} dimensions "
                                + $"({info.Pooling} pooling of {info.Model})"
                        );
                    return Task.FromResult(0);
                }
            )
        );
        return cmd;
    }

    public static Command Search(CliContext ctx)
    {
        var index = new Option<string>("--index") { Description = "An index folder written by 'sharplm index'.", Required = true };
        var query = new Option<string[]>("--query") { Description = "Query text; repeat for several.", Required = true };
        var top = new Option<int>("--top") { Description = "Passages per query.", DefaultValueFactory = _ => 5 };
        var cmd = new Command("search", "The passages of an index nearest to a query by cosine similarity (exact, brute force).");
        foreach (var o in new Option[] { index, query, top, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                (p, ct) =>
                {
                    var vectors = VectorIndex.Open(p.GetValue(index)!);
                    var queries = p.GetValue(query)!;
                    var results = vectors.Search(queries, p.GetValue(top), ct);
                    if (p.GetValue(CliApp.JsonOption))
                    {
                        ctx.WriteJson(new { index = vectors.Info, results = queries.Zip(results, (q, hits) => new { query = q, hits }) });
                        return Task.FromResult(0);
                    }
                    foreach (var (q, hits) in queries.Zip(results))
                    {
                        ctx.Out.WriteLine($"query: {q}");
                        var table = new Table().AddColumns("rank", "cosine", "source", "passage");
                        foreach (var h in hits)
                            table.AddRow(
                                h.Rank.ToString(),
                                h.Score.ToString("F4"),
                                Markup.Escape(Path.GetFileName(h.Passage.Source)),
                                Markup.Escape(h.Passage.Text.Length > 100 ? h.Passage.Text[..100] + "…" : h.Passage.Text)
                            );
                        ctx.WriteTable(table);
                    }
                    return Task.FromResult(0);
                }
            )
        );
        return cmd;
    }
}
