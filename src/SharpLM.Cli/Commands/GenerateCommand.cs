using System.CommandLine;
using SharpLM.Generation;
using SharpLM.Pipelines;

namespace SharpLM.Cli.Commands;

/// <summary>sharplm generate: continue one or more prompts; a single prompt streams to stdout as it is produced.</summary>
public static class GenerateCommand
{
    public static Command Build(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "Run folder written by 'sharplm train'.", Required = true };
        var prompt = new Option<string[]>("--prompt")
        {
            Description = "Prompt text; repeat for a batch.",
            AllowMultipleArgumentsPerToken = false,
            DefaultValueFactory = _ => [""],
        };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Tokens to generate per prompt.", DefaultValueFactory = _ => 200 };
        var temperature = new Option<double>("--temperature")
        {
            Description = "Sampling temperature (0 = greedy).",
            DefaultValueFactory = _ => 0.8,
        };
        var topK = new Option<int>("--top-k")
        {
            Description = "Sample from the k most likely tokens (0 = all).",
            DefaultValueFactory = _ => 0,
        };
        var topP = new Option<double>("--top-p")
        {
            Description = "Nucleus sampling probability mass (1 = off).",
            DefaultValueFactory = _ => 1.0,
        };
        var penalty = new Option<double>("--repetition-penalty")
        {
            Description = "Penalty for tokens already present (1 = off).",
            DefaultValueFactory = _ => 1.0,
        };
        var stop = new Option<string[]>("--stop") { Description = "Stop sequence; repeat for several.", DefaultValueFactory = _ => [] };
        var seed = new Option<long>("--seed") { Description = "Sampling seed.", DefaultValueFactory = _ => 1337 };
        var safety = new Option<string?>("--safety")
        {
            Description = "Blocked words/phrases/re:patterns, one per line: a matching prompt is refused, output is cut before a match.",
        };
        var noCache = new Option<bool>("--no-kv-cache") { Description = "Recompute the whole context every step (slow; for comparison)." };
        var precision = CliApp.PrecisionOption("fp32 (default) or bf16 matrix products and a bf16 KV cache (GPT language models).");
        var beam = new BeamOptions();
        var cmd = new Command(
            "generate",
            "Generate text from a trained model (greedy, temperature, top-k, top-p, repetition penalty, stop sequences)."
        );
        foreach (
            var o in new Option[]
            {
                model,
                prompt,
                maxNew,
                temperature,
                topK,
                topP,
                penalty,
                stop,
                seed,
                safety,
                noCache,
                precision,
                CliApp.JsonOption,
            }.Concat(beam.All)
        )
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                (p, ct) =>
                {
                    var beams = beam.Read(p);
                    if (beams is not null)
                        foreach (var o in new Option[] { temperature, topK, topP, seed })
                            if (p.GetResult(o) is { Implicit: false })
                                throw new SharpLMException($"{o.Name} does not apply to beam search, which is deterministic; drop it.");
                    var options = new GenerationOptions
                    {
                        MaxNewTokens = p.GetValue(maxNew),
                        Temperature = p.GetValue(temperature),
                        TopK = p.GetValue(topK),
                        TopP = p.GetValue(topP),
                        RepetitionPenalty = p.GetValue(penalty),
                        StopSequences = p.GetValue(stop)!,
                        Seed = p.GetValue(seed),
                        UseKvCache = !p.GetValue(noCache),
                        Safety = p.GetValue(safety) is string list ? SafetyFilter.Load(list) : null,
                        Beams = beams,
                    }.Validate();
                    using var pipeline = TextGenerationPipeline.Load(p.GetValue(model)!);
                    if (CliApp.ReadPrecision(p, precision) is { } chosen)
                        pipeline.Model.UsePrecision(chosen);
                    var prompts = p.GetValue(prompt)!;
                    bool json = p.GetValue(CliApp.JsonOption);
                    bool stream = !json && prompts.Length == 1 && (beams is null || beams.NumReturnSequences == 1);
                    if (stream)
                        ctx.Out.Write(prompts[0]);
                    var sw = System.Diagnostics.Stopwatch.StartNew();
                    var results = pipeline.Generate(
                        prompts,
                        options,
                        onText: stream
                            ? (_, text) =>
                            {
                                ctx.Out.Write(text);
                                ctx.Out.Flush();
                            }
                            : null,
                        onWarning: w => ctx.Err.WriteLine($"warning: {w}"),
                        ct
                    );
                    double seconds = sw.Elapsed.TotalSeconds;
                    int tokens = results.Sum(r => r.TokenIds.Length);
                    if (json)
                        ctx.WriteJson(
                            new
                            {
                                results,
                                tokens,
                                seconds,
                                tokensPerSecond = tokens / Math.Max(1e-9, seconds),
                            }
                        );
                    else
                    {
                        if (stream)
                            ctx.Out.WriteLine();
                        else
                            for (int i = 0; i < results.Count; i++)
                                ctx.Out.WriteLine(
                                    $"--- {i + 1} ({results[i].FinishReason}{(results[i].Score is double sc ? $", score {sc:F4}" : "")})\n"
                                        + $"{results[i].Prompt}{results[i].Text}"
                                );
                        ctx.Err.WriteLine(
                            $"{tokens} tokens in {seconds:F2} s ({tokens / Math.Max(1e-9, seconds):F1} tokens/s); finished: "
                                + $"{string.Join(", ", results.Select(r => r.FinishReason))}"
                        );
                    }
                    return Task.FromResult(0);
                }
            )
        );
        return cmd;
    }
}
