namespace SharpLM.Evaluation.TextMetrics;

/// <summary>The shape every corpus metric needs: hypotheses, and reference streams as long as they are.</summary>
static class TextMetricInputs
{
    public static void Check(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string>> references)
    {
        if (references.Count == 0)
            throw new SharpLMException("references is empty: give at least one reference stream.");
        for (int k = 0; k < references.Count; k++)
            if (references[k].Count != hypotheses.Count)
                throw new SharpLMException(
                    $"reference stream {k + 1} has {references[k].Count} lines but there are {hypotheses.Count} hypotheses; "
                        + "each hypothesis needs one line in every reference stream."
                );
    }
}
