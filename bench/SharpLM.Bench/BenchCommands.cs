using System.CommandLine;
using SharpLM.Cli;
using SharpLM.Cli.Commands;
using Spectre.Console;

namespace SharpLM.Bench;

public static class BenchCommands
{
    /// <summary>`sharplm-bench`: every benchmark, each measuring against a baseline in the same run.</summary>
    public static RootCommand BuildRoot(CliContext ctx)
    {
        var bench = new RootCommand("SharpLM benchmarks (ratios against a baseline measured in the same run).");
        bench.Options.Add(CliApp.DataDirOption);
        bench.Options.Add(CliApp.RegistryOption);
        var corpus = new Option<string>("--input") { Description = "Corpus (file or data set).", DefaultValueFactory = _ => "moby-dick" };
        var repeats = new Option<int>("--repeats")
        {
            Description = "Timed runs per encoder (median reported).",
            DefaultValueFactory = _ => 5,
        };
        var vocab = new Option<int>("--vocab-size")
        {
            Description = "Vocabulary size of the BPE training run.",
            DefaultValueFactory = _ => 8000,
        };
        var tok = new Command(
            "tokenizer",
            "GPT-2 encode throughput vs Microsoft.ML.Tokenizers (same text, same run) and BPE training speed."
        );
        foreach (var o in new Option[] { corpus, repeats, vocab, CliApp.JsonOption })
            tok.Options.Add(o);
        tok.SetAction(
            CliApp.Guard(
                ctx,
                async (p, _) =>
                {
                    var status = new CliApp.SyncProgress<string>(s => ctx.Err.WriteLine($"bench: {s}"));
                    var r = await TokenizerBenchmark.RunAsync(
                        CliApp.Catalog(p),
                        p.GetValue(corpus)!,
                        p.GetValue(repeats),
                        p.GetValue(vocab),
                        status
                    );
                    if (p.GetValue(CliApp.JsonOption))
                    {
                        ctx.WriteJson(r);
                        return 0;
                    }
                    var table = new Table().AddColumns(
                        "cache entries (each)",
                        "pass",
                        "SharpLM MB/s",
                        "Microsoft.ML.Tokenizers MB/s",
                        "ratio"
                    );
                    foreach (var c in r.Comparisons)
                        table.AddRow(
                            c.CacheEntries.ToString("N0"),
                            c.Pass,
                            c.SharpLM.MegabytesPerSecond.ToString("F2"),
                            c.MicrosoftMLTokenizers.MegabytesPerSecond.ToString("F2"),
                            $"{c.Ratio:F2}x"
                        );
                    ctx.WriteTable(table);
                    ctx.Out.WriteLine(
                        $"corpus {r.Corpus} ({r.Megabytes:F2} MB, {r.DistinctPieces:N0} distinct pre-tokens); ids identical: "
                            + $"{(r.IdsIdentical ? "yes" : "NO")}"
                    );
                    ctx.Out.WriteLine(
                        $"BPE training, vocabulary {r.TrainVocabSize}: {r.TrainSeconds:F2} s ({r.TrainMegabytesPerSecond:F2} MB/s)"
                    );
                    return 0;
                }
            )
        );
        bench.Subcommands.Add(tok);
        bench.Subcommands.Add(BuildTrain(ctx));
        bench.Subcommands.Add(BuildGenerate(ctx));
        bench.Subcommands.Add(BuildServe(ctx));
        bench.Subcommands.Add(BuildClassify(ctx));
        bench.Subcommands.Add(BuildHeap(ctx));
        bench.Subcommands.Add(BuildLstm(ctx));
        bench.Subcommands.Add(CompressionBenchCommands.Quantize(ctx));
        bench.Subcommands.Add(CompressionBenchCommands.Prune(ctx));
        bench.Subcommands.Add(InteropBenchCommands.Export(ctx));
        bench.Subcommands.Add(InteropBenchCommands.Search(ctx));
        return bench;
    }

    static Command BuildLstm(CliContext ctx)
    {
        var steps = new Option<int>("--steps") { Description = "Optimiser steps for each model.", DefaultValueFactory = _ => 1000 };
        var layers = new Option<int>("--lstm-layers")
        {
            Description = "LSTM layers (its width is set to match the GPT's parameters).",
            DefaultValueFactory = _ => 2,
        };
        var output = new Option<string>("--output")
        {
            Description = "Folder for the prepared data and both runs.",
            DefaultValueFactory = _ => "runs/bench-lstm",
        };
        var cmd = new Command(
            "lstm",
            "An LSTM and a GPT of the same size on character-level moby-dick: validation loss at equal steps and time, tokens/s."
        );
        foreach (var o in new Option[] { steps, layers, output, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                async (p, ct) =>
                {
                    if (p.GetValue(steps) < 10)
                        throw new SharpLMException("--steps must be at least 10.");
                    var status = new CliApp.SyncProgress<string>(s => ctx.Err.WriteLine($"bench: {s}"));
                    var r = await LstmBenchmark.RunAsync(
                        p.GetValue(output)!,
                        p.GetValue(steps),
                        p.GetValue(layers),
                        CliApp.Catalog(p),
                        status,
                        ct
                    );
                    if (p.GetValue(CliApp.JsonOption))
                    {
                        ctx.WriteJson(r);
                        return 0;
                    }
                    static string At(LanguageModelRun run, Func<Evaluation, bool> when) =>
                        run.Evaluations.LastOrDefault(when) is { Step: > 0 } e ? $"{e.ValLoss:F4} (step {e.Step})" : "–";
                    var table = new Table().AddColumns(
                        "model",
                        "shape",
                        "parameters",
                        "tokens/s",
                        $"val loss at step {r.Steps}",
                        $"val loss by {r.EqualTimeSeconds:F0} s"
                    );
                    foreach (var run in new[] { r.Gpt, r.Lstm })
                        table.AddRow(
                            run.Model,
                            run.Shape,
                            run.Parameters.ToString("N0"),
                            run.TokensPerSecond.ToString("N0"),
                            At(run, e => e.Step <= r.Steps),
                            At(run, e => e.Seconds <= r.EqualTimeSeconds)
                        );
                    ctx.WriteTable(table);
                    ctx.Out.WriteLine($"LSTM tokens/s ÷ GPT tokens/s = {r.Lstm.TokensPerSecond / r.Gpt.TokensPerSecond:F2}");
                    return 0;
                }
            )
        );
        return cmd;
    }

    static Command BuildHeap(CliContext ctx)
    {
        var rounds = new Option<int>("--rounds")
        {
            Description = "Alternating rounds of glibc default / kept in heap.",
            DefaultValueFactory = _ => 3,
        };
        var iterations = new Option<int>("--iterations")
        {
            Description = "Timed repetitions per workload and round (median over all reported).",
            DefaultValueFactory = _ => 5,
        };
        var cmd = new Command(
            "heap",
            "Large-tensor allocation: glibc's default (mmap per buffer over 32 MB) vs freed buffers kept in the heap, same run."
        );
        var threads = new Option<int?>("--threads") { Description = "Intra-op CPU threads (default: all cores)." };
        foreach (var o in new Option[] { rounds, iterations, threads, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                (p, _) =>
                {
                    Runtime.TorchRuntime.ConfigureThreads(p.GetValue(threads));
                    if (p.GetValue(rounds) < 1 || p.GetValue(iterations) < 1)
                        throw new SharpLMException("--rounds and --iterations must be at least 1.");
                    var r = HeapBenchmark.Run(
                        p.GetValue(rounds),
                        p.GetValue(iterations),
                        new CliApp.SyncProgress<string>(s => ctx.Err.WriteLine($"bench: {s}"))
                    );
                    if (p.GetValue(CliApp.JsonOption))
                    {
                        ctx.WriteJson(r);
                        return Task.FromResult(0);
                    }
                    var table = new Table().AddColumns("workload", "glibc default ms", "kept in heap ms", "speed-up");
                    foreach (var x in r.Runs)
                        table.AddRow(Markup.Escape(x.Workload), x.SystemMs.ToString("F1"), x.KeptMs.ToString("F1"), $"{x.Speedup:F2}x");
                    ctx.WriteTable(table);
                    ctx.Out.WriteLine($"{r.Threads} thread(s); medians over alternating rounds of one run.");
                    return Task.FromResult(0);
                }
            )
        );
        return cmd;
    }

    static Command BuildTrain(CliContext ctx)
    {
        var presets = new Option<string[]>("--preset")
        {
            Description = "Presets to measure.",
            DefaultValueFactory = _ => ["baby", "small"],
            AllowMultipleArgumentsPerToken = true,
        };
        var threads = new Option<int[]>("--threads")
        {
            Description = "Thread counts to compare (default: 1 and all cores).",
            AllowMultipleArgumentsPerToken = true,
        };
        var babySteps = new Option<int>("--baby-steps")
        {
            Description = "Timed steps for baby (median reported).",
            DefaultValueFactory = _ => 30,
        };
        var smallSteps = new Option<int>("--small-steps")
        {
            Description = "Timed steps for small (median reported).",
            DefaultValueFactory = _ => 3,
        };
        var precisions = new Option<string[]>("--precision")
        {
            Description = "Precisions to compare in the same run: fp32 and/or bf16 (mixed precision).",
            DefaultValueFactory = _ => ["fp32"],
            AllowMultipleArgumentsPerToken = true,
        };
        var cmd = new Command(
            "train",
            "Training tokens/s and model FLOPs utilisation (vs peak matmul measured in the same run) per preset, thread count and "
                + "precision."
        );
        foreach (var o in new Option[] { presets, threads, precisions, babySteps, smallSteps, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                (p, _) =>
                {
                    Runtime.TorchRuntime.EnsureLoaded();
                    var counts = p.GetValue(threads) is { Length: > 0 } t
                        ? t
                        : new[] { 1, Environment.ProcessorCount }.Distinct().ToArray();
                    if (counts.Any(c => c < 1))
                        throw new SharpLMException("--threads values must be at least 1.");
                    foreach (var preset in p.GetValue(presets)!)
                        Training.TrainingPreset.Get(preset);
                    var status = new CliApp.SyncProgress<string>(s => ctx.Err.WriteLine($"bench: {s}"));
                    var chosen = p.GetValue(precisions)!
                        .Select(x => Models.Layers.MixedPrecision.Parse(x, "--precision"))
                        .Distinct()
                        .ToList();
                    var r = TrainBenchmark.Run(p.GetValue(presets)!, counts, p.GetValue(babySteps), p.GetValue(smallSteps), chosen, status);
                    if (p.GetValue(CliApp.JsonOption))
                    {
                        ctx.WriteJson(r);
                        return Task.FromResult(0);
                    }
                    var table = new Table().AddColumns(
                        "preset",
                        "precision",
                        "threads",
                        "parameters",
                        "tokens/step",
                        "s/step",
                        "tokens/s",
                        "model GFLOP/s",
                        "peak matmul GFLOP/s",
                        "MFU",
                        "MFU vs fp32 peak",
                        "RSS MB start→end"
                    );
                    foreach (var x in r.Runs)
                        table.AddRow(
                            x.Preset,
                            x.Precision,
                            x.Threads.ToString(),
                            x.Parameters.ToString("N0"),
                            x.TokensPerStep.ToString("N0"),
                            x.SecondsPerStep.ToString("F3"),
                            x.TokensPerSecond.ToString("N0"),
                            x.ModelGflops.ToString("F1"),
                            x.PeakGflops.ToString("F1"),
                            x.Utilisation.ToString("P0"),
                            x.Fp32Utilisation.ToString("P0"),
                            $"{x.RssStartMb:F0}→{x.RssEndMb:F0}"
                        );
                    ctx.WriteTable(table);
                    foreach (var preset in r.Runs.Select(x => x.Preset).Distinct())
                    foreach (int n in counts)
                    {
                        var fp32 = r.Runs.FirstOrDefault(x => x.Preset == preset && x.Threads == n && x.Precision == "fp32");
                        var bf16 = r.Runs.FirstOrDefault(x => x.Preset == preset && x.Threads == n && x.Precision == "bf16");
                        if (fp32 is not null && bf16 is not null)
                            ctx.Out.WriteLine(
                                $"{preset}, {n} thread(s): bf16 / fp32 tokens/s = {bf16.TokensPerSecond / fp32.TokensPerSecond:F2}x"
                            );
                    }
                    foreach (var preset in r.Runs.Select(x => x.Preset).Distinct())
                    {
                        var rows = r
                            .Runs.Where(x => x.Preset == preset && x.Precision == Models.Layers.MixedPrecision.Name(chosen[0]))
                            .OrderBy(x => x.Threads)
                            .ToList();
                        if (rows.Count > 1)
                            ctx.Out.WriteLine(
                                $"{preset}: {rows[^1].Threads} threads / {rows[0].Threads} thread tokens/s = "
                                    + $"{rows[^1].TokensPerSecond / rows[0].TokensPerSecond:F2}x"
                            );
                    }
                    return Task.FromResult(0);
                }
            )
        );
        return cmd;
    }

    static Command BuildServe(CliContext ctx)
    {
        var clients = new Option<int[]>("--clients")
        {
            Description = "Concurrent clients per level; the first is the baseline.",
            DefaultValueFactory = _ => [1, 4, 16],
            AllowMultipleArgumentsPerToken = true,
        };
        var requests = new Option<int>("--requests-per-client")
        {
            Description = "Requests each client sends, one after another.",
            DefaultValueFactory = _ => 8,
        };
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "Prompt length in tokens.", DefaultValueFactory = _ => 64 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens generated per request.", DefaultValueFactory = _ => 128 };
        var maxBatch = new Option<int>("--max-batch") { Description = "The server's --max-batch.", DefaultValueFactory = _ => 16 };
        var cmd = new Command(
            "serve",
            "Requests/s, tokens/s, time to first token and latency of `sharplm serve` over HTTP with 1, 4 and 16 concurrent clients."
        );
        foreach (var o in new Option[] { clients, requests, promptTokens, maxTokens, maxBatch, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                async (p, _) =>
                {
                    Runtime.TorchRuntime.EnsureLoaded();
                    var levels = p.GetValue(clients)!;
                    int perClient = p.GetValue(requests),
                        prompt = p.GetValue(promptTokens),
                        max = p.GetValue(maxTokens),
                        batch = p.GetValue(maxBatch);
                    int context = Training.TrainingPreset.Get("small").Shape.Context;
                    if (levels.Length == 0 || levels.Any(c => c is < 1 or > 256))
                        throw new SharpLMException("--clients must be between 1 and 256.");
                    if (perClient < 1 || prompt < 1 || max < 1 || prompt + max > context)
                        throw new SharpLMException(
                            "--requests-per-client, --prompt-tokens and --max-tokens must be positive, with prompt + max tokens at "
                                + $"most {context}."
                        );
                    if (batch is < 1 or > 256)
                        throw new SharpLMException("--max-batch must be between 1 and 256.");
                    var status = new CliApp.SyncProgress<string>(s => ctx.Err.WriteLine($"bench: {s}"));
                    var r = await ServeBenchmark.RunAsync(levels, perClient, prompt, max, batch, status);
                    if (p.GetValue(CliApp.JsonOption))
                    {
                        ctx.WriteJson(r);
                        return 0;
                    }
                    var table = new Table().AddColumns(
                        "clients",
                        "requests",
                        "requests/s",
                        "tokens/s",
                        "TTFT p50 ms",
                        "TTFT p99 ms",
                        "latency p50 s",
                        "latency p99 s"
                    );
                    foreach (var l in r.Levels)
                        table.AddRow(
                            l.Clients.ToString(),
                            l.Requests.ToString(),
                            l.RequestsPerSecond.ToString("F2"),
                            l.TokensPerSecond.ToString("F1"),
                            (l.TimeToFirstTokenP50 * 1000).ToString("F0"),
                            (l.TimeToFirstTokenP99 * 1000).ToString("F0"),
                            l.LatencyP50.ToString("F2"),
                            l.LatencyP99.ToString("F2")
                        );
                    ctx.WriteTable(table);
                    ctx.Out.WriteLine(
                        $"tokens/s at {r.Levels[^1].Clients} clients vs {r.Levels[0].Clients}: {r.ThroughputRatio:F2}x; model: {r.Model}, "
                            + $"{r.Parameters:N0} parameters, {r.Threads} threads, max batch {r.MaxBatch}, prompt {r.PromptTokens} tokens, "
                            + $"{r.MaxTokens} generated per request"
                    );
                    return 0;
                }
            )
        );
        return cmd;
    }

    static Command BuildGenerate(CliContext ctx)
    {
        var contexts = new Option<int[]>("--context")
        {
            Description = "Prompt lengths in tokens.",
            DefaultValueFactory = _ => [64, 512],
            AllowMultipleArgumentsPerToken = true,
        };
        var newTokens = new Option<int>("--new-tokens")
        {
            Description = "Tokens generated per measurement.",
            DefaultValueFactory = _ => 64,
        };
        var cmd = new Command("generate", "Decode tokens/s with and without the KV cache at given context lengths (same model, same run).");
        foreach (var o in new Option[] { contexts, newTokens, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                (p, _) =>
                {
                    Runtime.TorchRuntime.EnsureLoaded();
                    var ctxs = p.GetValue(contexts)!;
                    int n = p.GetValue(newTokens);
                    if (n < 1 || ctxs.Any(c => c < 1 || c + n > 1024))
                        throw new SharpLMException(
                            "--context and --new-tokens must be positive and add up to at most 1024 (the benchmark model's context)."
                        );
                    var status = new CliApp.SyncProgress<string>(s => ctx.Err.WriteLine($"bench: {s}"));
                    var r = GenerateBenchmark.Run(ctxs, n, status);
                    if (p.GetValue(CliApp.JsonOption))
                    {
                        ctx.WriteJson(r);
                        return Task.FromResult(0);
                    }
                    var table = new Table().AddColumns(
                        "context",
                        "new tokens",
                        "KV cache tokens/s",
                        "recompute tokens/s",
                        "ratio",
                        "same tokens"
                    );
                    foreach (var x in r.Runs)
                        table.AddRow(
                            x.Context.ToString(),
                            x.NewTokens.ToString(),
                            x.CachedTokensPerSecond.ToString("F1"),
                            x.UncachedTokensPerSecond.ToString("F1"),
                            $"{x.Ratio:F2}x",
                            x.SameTokens ? "yes" : "NO"
                        );
                    ctx.WriteTable(table);
                    ctx.Out.WriteLine($"model: {r.Model}, {r.Parameters:N0} parameters, {r.Threads} threads");
                    return Task.FromResult(0);
                }
            )
        );
        return cmd;
    }

    static Command BuildClassify(CliContext ctx)
    {
        var (options, parse) = FineTuneCommand.RequestOptions(Path.Combine("runs", "bench-classify"));
        var threads = new Option<int>("--threads")
        {
            Description = "Threads for both models (libtorch and SDCA; SDCA is deterministic only on 1).",
            DefaultValueFactory = _ => 1,
        };
        var cmd = new Command(
            "classify",
            "A fine-tuned SharpLM classifier vs ML.NET (FeaturizeText + SDCA) on the same split and thread count: accuracy, macro-F1, "
                + "training time."
        );
        foreach (var o in options.Append(threads).Append(CliApp.JsonOption))
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                async (p, ct) =>
                {
                    if (p.GetValue(threads) < 1)
                        throw new SharpLMException("--threads must be at least 1.");
                    // the benchmark's own scratch run (only a run folder SharpLM wrote is replaced)
                    var request = parse(p) with
                    {
                        Overwrite = true,
                    };
                    var r = await TrainingView.RunAsync(
                        ctx,
                        request.Training.LogInterval,
                        progress => ClassifyBenchmark.RunAsync(request, CliApp.Catalog(p), p.GetValue(threads), progress, ct)
                    );
                    if (p.GetValue(CliApp.JsonOption))
                    {
                        ctx.WriteJson(r);
                        return 0;
                    }
                    var table = new Table().AddColumns("model", "accuracy", "macro-F1", "training s");
                    foreach (var s in r.Scores)
                        table.AddRow(
                            Markup.Escape(s.Name),
                            s.Accuracy.ToString("F4"),
                            s.MacroF1.ToString("F4"),
                            s.TrainSeconds.ToString("F1")
                        );
                    ctx.WriteTable(table);
                    ctx.Out.WriteLine(
                        $"data {r.Data}: {r.TrainExamples} training and {r.TestExamples} test examples (stratified, seed "
                            + $"{request.Training.Seed}); {r.Threads} thread(s) each; SharpLM's time includes tokenization and "
                            + "validation."
                    );
                    return 0;
                }
            )
        );
        return cmd;
    }
}
