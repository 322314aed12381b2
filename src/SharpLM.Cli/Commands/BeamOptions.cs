using System.CommandLine;
using SharpLM.Generation;

namespace SharpLM.Cli.Commands;

/// <summary>Beam search flags, shared by generate and translate: Hugging Face generate()'s names and meanings.</summary>
public sealed class BeamOptions
{
    public readonly Option<int?> NumBeams = new("--num-beams") { Description = "Beam search with this many beams (deterministic)." };
    public readonly Option<double> LengthPenalty = new("--length-penalty")
    {
        Description = "Beam score = sum of log-probs / length^p; p > 0 favours longer outputs.",
        DefaultValueFactory = _ => 1.0,
    };
    public readonly Option<string> EarlyStopping = new("--early-stopping")
    {
        Description = "false (stop when no beam can improve at the current length), true (as soon as num_beams are done) or never.",
        DefaultValueFactory = _ => "false",
    };
    public readonly Option<int> NoRepeatNgramSize = new("--no-repeat-ngram-size")
    {
        Description = "Forbid any n-gram of this size from occurring twice (0 = off).",
        DefaultValueFactory = _ => 0,
    };
    public readonly Option<int> NumReturnSequences = new("--num-return-sequences")
    {
        Description = "Hypotheses returned per input, best first (at most --num-beams).",
        DefaultValueFactory = _ => 1,
    };
    public readonly Option<int> MinNewTokens = new("--min-new-tokens")
    {
        Description = "The end-of-sequence token is forbidden before this many new tokens.",
        DefaultValueFactory = _ => 0,
    };

    public BeamOptions() => EarlyStopping.AcceptOnlyFromAmong("false", "true", "never");

    public IEnumerable<Option> All => [NumBeams, LengthPenalty, EarlyStopping, NoRepeatNgramSize, NumReturnSequences, MinNewTokens];

    /// <summary>The beam settings, or null without --num-beams (the beam-only flags then are an error).</summary>
    public BeamSearchOptions? Read(ParseResult p)
    {
        if (p.GetValue(NumBeams) is not int beams)
        {
            foreach (var o in All.Skip(1))
                if (p.GetResult(o) is { Implicit: false })
                    throw new SharpLMException($"{o.Name} applies to beam search; add --num-beams.");
            return null;
        }
        return new BeamSearchOptions
        {
            NumBeams = beams,
            LengthPenalty = p.GetValue(LengthPenalty),
            EarlyStopping = p.GetValue(EarlyStopping) switch
            {
                "true" => BeamEarlyStopping.WhenFull,
                "never" => BeamEarlyStopping.Never,
                _ => BeamEarlyStopping.Heuristic,
            },
            NoRepeatNgramSize = p.GetValue(NoRepeatNgramSize),
            NumReturnSequences = p.GetValue(NumReturnSequences),
            MinNewTokens = p.GetValue(MinNewTokens),
        };
    }
}
