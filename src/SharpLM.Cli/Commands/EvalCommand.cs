using System.CommandLine;
using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Runtime;
using SharpLM.Tokenization;
using SharpLM.Training;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>sharplm eval: loss, perplexity and bits per byte over a whole split, in non-overlapping context-length windows.</summary>
public static class EvalCommand
{
    public static Command Build(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "Run folder written by 'sharplm train'.", Required = true };
        var data = new Option<string?>("--data") { Description = "Prepared data folder (default: the one the run was trained on)." };
        var split = new Option<string>("--split") { Description = "val or train.", DefaultValueFactory = _ => "val" };
        split.AcceptOnlyFromAmong("val", "train");
        var batch = new Option<int>("--batch-size") { Description = "Windows per forward pass.", DefaultValueFactory = _ => 16 };
        var max = new Option<int?>("--max-windows") { Description = "Evaluate only the first N windows." };
        var cmd = new Command("eval", "Evaluate a trained model: loss, perplexity and bits per byte on the validation split.");
        foreach (var o in new Option[] { model, data, split, batch, max, TrainCommand.ThreadsOption, CliApp.JsonOption }) cmd.Options.Add(o);
        cmd.SetAction(CliApp.Guard(ctx, async (p, ct) =>
        {
            TorchRuntime.ConfigureThreads(p.GetValue(TrainCommand.ThreadsOption));
            if (p.GetValue(batch) < 1) throw new SharpLMException("--batch-size must be at least 1.");
            var run = new RunFolder(p.GetValue(model)!);
            var (gpt, tokenizer) = run.LoadGpt();
            using var _ = gpt;
            string dir = run.DataDir(p.GetValue(data));
            var preparedPath = Path.Combine(dir, "tokenizer.json");
            var prepared = File.Exists(preparedPath) ? TokenizerJson.Load(preparedPath) : null;
            if (prepared is not null && prepared.VocabSize != tokenizer.VocabSize)
                throw new SharpLMException($"{dir} was tokenized with a {prepared.VocabSize}-token vocabulary but the model uses {tokenizer.VocabSize}; evaluate on data prepared with the run's tokenizer.json.");
            using var dataset = TokenDataset.Open(dir, p.GetValue(split)!);
            int block = gpt.Config.NPositions;
            var starts = LanguageModelEvaluator.CoveringWindows(dataset, block, p.GetValue(max));
            var tokenBytes = Enumerable.Range(0, tokenizer.VocabSize).Select(tokenizer.TokenByteCount).ToArray();
            var metrics = await CliApp.WithProgress(ctx, "evaluating", task => Task.FromResult(LanguageModelEvaluator.Evaluate(gpt, dataset, starts, block, p.GetValue(batch), tokenBytes,
                new CliApp.SyncProgress<(int Done, int Total)>(d => { task.MaxValue = d.Total; task.Value = d.Done; }), ct)));
            if (p.GetValue(CliApp.JsonOption))
                ctx.WriteJson(new { model = run.Path, data = Path.GetFullPath(dir), split = dataset.Split, windows = starts.Length, context = block, metrics.Loss, metrics.Perplexity, metrics.BitsPerByte, metrics.Tokens, metrics.Bytes });
            else
            {
                var table = new Table().AddColumns("split", "tokens", "loss", "perplexity", "bits/byte");
                table.AddRow(dataset.Split, metrics.Tokens.ToString("N0"), metrics.Loss.ToString("F4"), metrics.Perplexity.ToString("F3"), metrics.BitsPerByte.ToString("F4"));
                ctx.WriteTable(table);
            }
            return 0;
        }));
        return cmd;
    }
}
