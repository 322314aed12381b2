using System.CommandLine;
using SharpLM.Runtime;
using SharpLM.Training;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Cli.Commands;

/// <summary>sharplm fill-mask: the most likely tokens for each [MASK] in a text, with probabilities.</summary>
public static class FillMaskCommand
{
    public sealed record Candidate(string Token, long Id, double Probability);
    public sealed record MaskPrediction(int Position, Candidate[] Candidates);

    public static Command Build(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "Masked-LM run folder ('sharplm train --objective mlm').", Required = true };
        var text = new Option<string>("--text") { Description = "Text with one or more [MASK] tokens.", Required = true };
        var top = new Option<int>("--top") { Description = "Candidates per mask.", DefaultValueFactory = _ => 5 };
        var cmd = new Command("fill-mask", "Predict the tokens hidden by [MASK] with a masked-LM model.");
        foreach (var o in new Option[] { model, text, top, TrainCommand.ThreadsOption, CliApp.JsonOption }) cmd.Options.Add(o);
        cmd.SetAction(CliApp.Guard(ctx, (p, ct) =>
        {
            TorchRuntime.ConfigureThreads(p.GetValue(TrainCommand.ThreadsOption));
            int k = p.GetValue(top);
            if (k < 1) throw new SharpLMException("--top must be at least 1.");
            var (mlm, tokenizer) = new RunFolder(p.GetValue(model)!).LoadBertMlm();
            using var _ = mlm;
            int mask = tokenizer.SpecialTokenId("[MASK]")!.Value;
            int cls = tokenizer.SpecialTokenId("[CLS]")!.Value, sep = tokenizer.SpecialTokenId("[SEP]")!.Value;
            long[] ids = [cls, .. tokenizer.Encode(p.GetValue(text)!, allowSpecial: true).Take(mlm.Config.MaxPositionEmbeddings - 2).Select(i => (long)i), sep];
            var positions = Enumerable.Range(0, ids.Length).Where(i => ids[i] == mask).ToArray();
            if (positions.Length == 0) throw new SharpLMException("The text has no [MASK] token; write [MASK] where the model should fill in a word.");
            var results = new List<MaskPrediction>();
            using (var scope = NewDisposeScope())
            using (no_grad())
            {
                var probabilities = mlm.forward(tensor(ids, [1, ids.Length]), ones(1, ids.Length, ScalarType.Bool)).softmax(-1);
                foreach (int position in positions)
                {
                    var (values, indices) = probabilities[0, position].topk(Math.Min(k, tokenizer.VocabSize));
                    var v = values.data<float>().ToArray();
                    var ix = indices.data<long>().ToArray();
                    results.Add(new MaskPrediction(position, ix.Select((id, j) => new Candidate(tokenizer.TokenText((int)id), id, v[j])).ToArray()));
                }
            }
            if (p.GetValue(CliApp.JsonOption)) { ctx.WriteJson(new { text = p.GetValue(text), masks = results }); return Task.FromResult(0); }
            foreach (var r in results)
            {
                var table = new Table().AddColumns($"mask at token {r.Position}", "probability");
                foreach (var c in r.Candidates) table.AddRow(Markup.Escape(c.Token), c.Probability.ToString("F4"));
                ctx.WriteTable(table);
            }
            return Task.FromResult(0);
        }));
        return cmd;
    }
}
