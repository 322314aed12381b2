using System.CommandLine;
using SharpLM.Bench;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

public static class BenchCommands
{
    public static Command Build(CliContext ctx)
    {
        var bench = new Command("bench", "Benchmarks (ratios against a baseline measured in the same run).");
        var corpus = new Option<string>("--input") { Description = "Corpus (file or data set).", DefaultValueFactory = _ => "moby-dick" };
        var repeats = new Option<int>("--repeats") { Description = "Timed runs per encoder (median reported).", DefaultValueFactory = _ => 5 };
        var vocab = new Option<int>("--vocab-size") { Description = "Vocabulary size of the BPE training run.", DefaultValueFactory = _ => 8000 };
        var tok = new Command("tokenizer", "GPT-2 encode throughput vs Microsoft.ML.Tokenizers (same text, same run) and BPE training speed.");
        foreach (var o in new Option[] { corpus, repeats, vocab, CliApp.JsonOption }) tok.Options.Add(o);
        tok.SetAction(CliApp.Guard(ctx, async (p, _) =>
        {
            var status = new CliApp.SyncProgress<string>(s => ctx.Err.WriteLine($"bench: {s}"));
            var r = await TokenizerBenchmark.RunAsync(CliApp.Catalog(p), p.GetValue(corpus)!, p.GetValue(repeats), p.GetValue(vocab), status);
            if (p.GetValue(CliApp.JsonOption)) { ctx.WriteJson(r); return 0; }
            var table = new Table().AddColumns("encoder", "MB/s", "median s", "tokens");
            foreach (var t in new[] { r.SharpLM, r.MicrosoftMLTokenizers })
                table.AddRow(Markup.Escape(t.Name), t.MegabytesPerSecond.ToString("F2"), t.MedianSeconds.ToString("F3"), t.Tokens.ToString("N0"));
            ctx.WriteTable(table);
            ctx.Out.WriteLine($"corpus {r.Corpus} ({r.Megabytes:F2} MB): SharpLM / Microsoft.ML.Tokenizers throughput = {r.Ratio:F2}x; ids identical: {(r.IdsIdentical ? "yes" : "NO")}");
            ctx.Out.WriteLine($"BPE training, vocabulary {r.TrainVocabSize}: {r.TrainSeconds:F2} s ({r.TrainMegabytesPerSecond:F2} MB/s)");
            return 0;
        }));
        bench.Subcommands.Add(tok);
        return bench;
    }
}
