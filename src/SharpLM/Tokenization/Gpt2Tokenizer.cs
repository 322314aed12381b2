namespace SharpLM.Tokenization;

/// <summary>GPT-2's tokenizer (tiktoken's r50k_base), built from the <c>r50k_base.tiktoken</c> ranks file.</summary>
public static class Gpt2Tokenizer
{
    public const string EndOfText = "<|endoftext|>";
    public const int EndOfTextId = 50256;

    /// <summary>Reads a tiktoken ranks file (one "base64-bytes rank" pair per line).</summary>
    public static ByteLevelBpeTokenizer FromTiktokenFile(string path)
    {
        if (!File.Exists(path))
            throw new SharpLMException($"The GPT-2 ranks file {path} does not exist; run 'sharplm data get gpt2-tokenizer'.");
        var tokens = new List<string>(50257);
        int lineNo = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNo++;
            if (line.Length == 0)
                continue;
            int space = line.IndexOf(' ');
            if (space <= 0 || !int.TryParse(line.AsSpan(space + 1), out int rank) || rank != tokens.Count)
                throw new SharpLMException(
                    $"{path} line {lineNo} is not 'base64 rank' in rank order; the ranks file is corrupt; download the gpt2-tokenizer "
                        + "data set again (sharplm data get gpt2-tokenizer --force)."
                );
            byte[] bytes;
            try
            {
                bytes = Convert.FromBase64String(line[..space]);
            }
            catch (FormatException)
            {
                throw new SharpLMException(
                    $"{path} line {lineNo} has invalid base64; the ranks file is corrupt; download the gpt2-tokenizer data set again "
                        + "(sharplm data get gpt2-tokenizer --force)."
                );
            }
            tokens.Add(
                string.Create(
                    bytes.Length,
                    bytes,
                    (span, b) =>
                    {
                        for (int i = 0; i < b.Length; i++)
                            span[i] = (char)b[i];
                    }
                )
            );
        }
        if (tokens.Count != EndOfTextId)
            throw new SharpLMException(
                $"{path} has {tokens.Count} ranks, but r50k_base has {EndOfTextId}; pass the r50k_base.tiktoken file."
            );
        return new ByteLevelBpeTokenizer(
            BpeModel.FromRanks(tokens),
            Gpt2PreTokenizer.Instance,
            [new AddedToken(EndOfTextId, EndOfText, Special: true)]
        );
    }
}
