using System.Text;

namespace SharpLM.Evaluation.TextMetrics;

/// <summary>Hypothesis and reference files, one segment per line, read the way sacrebleu reads them.</summary>
public static class TextLines
{
    /// <summary>
    /// UTF-8; a line ends at '\n' only (a '\r' stays until the right-strip); each line is right-stripped of whitespace.
    /// <paramref name="name"/> names the file in messages (e.g. "--hyp"). A missing or empty file is a one-line error.
    /// </summary>
    public static List<string> Read(string path, string name)
    {
        if (Directory.Exists(path))
            throw new SharpLMException($"{name} '{path}' is a folder; give a text file with one segment per line.");
        if (!File.Exists(path))
            throw new SharpLMException($"{name} '{path}' does not exist; give a text file with one segment per line.");
        string text;
        try
        {
            // Decoded by hand: File.ReadAllText would follow a UTF-16 byte-order mark.
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(File.ReadAllBytes(path));
        }
        catch (DecoderFallbackException)
        {
            throw new SharpLMException($"{name} '{path}' is not UTF-8 text; convert it to UTF-8.");
        }
        if (text.Length > 0 && text[0] == '\uFEFF')
            text = text[1..];
        if (text.Length == 0)
            throw new SharpLMException($"{name} '{path}' is empty; it needs one line per segment.");
        var lines = text.Split('\n').ToList();
        if (text.EndsWith('\n'))
            lines.RemoveAt(lines.Count - 1);
        return lines.Select(PythonText.RStrip).ToList();
    }
}
