using System.CommandLine;
using SharpLM.Cli;
using SharpLM.Retrieval;
using Spectre.Console;

namespace SharpLM.Bench;

/// <summary>sharplm-bench export (decode speed in the runtimes the exports target) and sharplm-bench search (retrieval).</summary>
public static class InteropBenchCommands
{
    public static Command Export(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "A trained GPT run.", Required = true };
        var tokens = new Option<int>("--new-tokens") { Description = "Greedy tokens decoded per timing.", DefaultValueFactory = _ => 200 };
        var repeats = new Option<int>("--repeats") { Description = "Timings per runtime (median reported).", DefaultValueFactory = _ => 3 };
        var threads = new Option<int>("--threads") { Description = "CPU threads for every runtime.", DefaultValueFactory = _ => 2 };
        var cmd = new Command(
            "export",
            "Greedy decode tokens/s of a GPT run in SharpLM vs onnxruntime (its ONNX export) and llama.cpp (its GGUF exports)."
        );
        foreach (var o in new Option[] { model, tokens, repeats, threads, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                (p, _) =>
                {
                    Runtime.TorchRuntime.ConfigureThreads(p.GetValue(threads));
                    Runtime.TorchRuntime.EnsureLoaded();
                    var r = ExportBenchmark.Run(
                        p.GetValue(model)!,
                        p.GetValue(tokens),
                        p.GetValue(repeats),
                        p.GetValue(threads),
                        new CliApp.SyncProgress<string>(s => ctx.Err.WriteLine($"bench: {s}"))
                    );
                    if (p.GetValue(CliApp.JsonOption))
                    {
                        ctx.WriteJson(r);
                        return Task.FromResult(0);
                    }
                    var table = new Table().AddColumns("runtime", "weights", "decode tokens/s", "vs SharpLM", "same greedy tokens");
                    foreach (var row in r.Rows)
                        table.AddRow(
                            row.Runtime,
                            row.Weights,
                            row.DecodeTokensPerSecond.ToString("F1"),
                            $"{row.Ratio:F2}x",
                            row.GreedyAgreement.ToString("P0")
                        );
                    ctx.WriteTable(table);
                    ctx.Out.WriteLine(
                        $"{r.Model}: {r.Parameters:N0} parameters, {r.Threads} threads, prompt {r.PromptTokens} tokens, "
                            + $"{r.NewTokens} new tokens."
                    );
                    return Task.FromResult(0);
                }
            )
        );
        return cmd;
    }

    public static Command Search(CliContext ctx)
    {
        var model = new Option<string?>("--model") { Description = "A run whose encoder embeds passages and queries." };
        var vectors = new Option<string?>("--vectors")
        {
            Description = "Word vectors to average (word2vec or GloVe text, or an 'embeddings train' folder); with --model, a row each.",
        };
        var input = new Option<string[]>("--input")
        {
            Description = "Corpus files, folders or catalogue names (default: sotu).",
            DefaultValueFactory = _ => ["sotu"],
            AllowMultipleArgumentsPerToken = true,
        };
        var queries = new Option<int>("--queries") { Description = "Paragraphs sampled as queries.", DefaultValueFactory = _ => 500 };
        var seed = new Option<int>("--seed") { Description = "Seed of the sample.", DefaultValueFactory = _ => 1 };
        var cmd = new Command(
            "search",
            "Recall@1/@10 and MRR of semantic search (a paragraph's first sentence finds its paragraph), and queries/s."
        );
        foreach (var o in new Option[] { model, vectors, input, queries, seed, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                (p, _) =>
                {
                    Runtime.TorchRuntime.EnsureLoaded();
                    var embedders = new List<Func<ITextEmbedder>>();
                    if (p.GetValue(model) is string run)
                        embedders.Add(() => new EncoderEmbedder(run, Pipelines.Pooling.Mean));
                    if (p.GetValue(vectors) is string file)
                        embedders.Add(() => new WordVectorEmbedder(file));
                    if (embedders.Count == 0)
                        throw new SharpLMException("Give --model RUN, --vectors FILE, or both (a row each).");
                    var rows = embedders
                        .Select(make =>
                            SearchBenchmark.Run(
                                make,
                                p.GetValue(input)!,
                                p.GetValue(queries),
                                p.GetValue(seed),
                                new CliApp.SyncProgress<string>(s => ctx.Err.WriteLine($"bench: {s}"))
                            )
                        )
                        .ToList();
                    if (p.GetValue(CliApp.JsonOption))
                        if (rows.Count == 1)
                            ctx.WriteJson(rows[0]);
                        else
                            ctx.WriteJson(rows);
                    else
                        foreach (var r in rows)
                            ctx.Out.WriteLine(
                                $"{r.Model}: {r.Passages:N0} passages × {r.Dimensions} (indexed at {r.IndexPassagesPerSecond:N0}/s); "
                                    + $"{r.Queries} queries: recall@1 {r.RecallAt1:P1}, recall@10 {r.RecallAt10:P1} "
                                    + $"(chance {r.ChanceRecallAt10:P2}), MRR {r.MeanReciprocalRank:F3}; {r.QueriesPerSecond:N0} queries/s "
                                    + $"({r.SearchOnlyQueriesPerSecond:N0}/s for the exact search alone)"
                            );
                    return Task.FromResult(0);
                }
            )
        );
        return cmd;
    }
}
