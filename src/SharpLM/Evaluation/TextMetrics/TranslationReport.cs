namespace SharpLM.Evaluation.TextMetrics;

/// <summary>How well outputs match references: corpus BLEU and chrF (sacrebleu's), and token/sequence error rates.</summary>
public sealed record TranslationReport(
    int Pairs,
    double Bleu,
    string BleuSignature,
    double Chrf,
    string ChrfSignature,
    double TokenErrorRate,
    double SequenceErrorRate
)
{
    /// <summary>
    /// Scores outputs against references. BLEU tokenizes with sacrebleu's "zh" when most of the references' letters are
    /// CJK, else "13a" (the signature says which).
    /// </summary>
    public static TranslationReport Score(IReadOnlyList<string> outputs, IReadOnlyList<string> references)
    {
        string tokenize = MostlyChinese(references) ? "zh" : "13a";
        var bleu = new Bleu(new BleuOptions { Tokenize = tokenize }).Corpus(outputs, [references]);
        var chrf = new Chrf().Corpus(outputs, [references]);
        var (ter, ser) = ErrorRates.Compute(outputs, references);
        return new TranslationReport(outputs.Count, bleu.Score, bleu.Signature, chrf.Score, chrf.Signature, ter, ser);
    }

    static bool MostlyChinese(IReadOnlyList<string> texts)
    {
        long cjk = 0,
            letters = 0;
        foreach (string t in texts)
        foreach (var r in t.EnumerateRunes())
            if (System.Text.Rune.IsLetter(r))
            {
                letters++;
                if (r.Value is >= 0x3400 and <= 0x9FFF or >= 0xF900 and <= 0xFAFF or >= 0x20000 and <= 0x3FFFF)
                    cjk++;
            }
        return letters > 0 && cjk * 2 > letters;
    }

    public ReportTable ToTable() =>
        new(
            ["pairs", "BLEU", "chrF2", "token error rate", "sequence error rate"],
            [
                [
                    Pairs.ToString("N0"),
                    Bleu.ToString("F2"),
                    Chrf.ToString("F2"),
                    TokenErrorRate.ToString("P2"),
                    SequenceErrorRate.ToString("P2"),
                ],
            ]
        );
}
