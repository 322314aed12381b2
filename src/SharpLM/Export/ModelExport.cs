using SharpLM.IO;
using SharpLM.Kinds;
using SharpLM.Training;

namespace SharpLM.Export;

/// <summary>The formats a run can be exported to.</summary>
public enum ExportFormat
{
    /// <summary>A Hugging Face transformers folder (config.json, model.safetensors, tokenizer files, model card).</summary>
    HuggingFace,

    /// <summary>An ONNX graph (model.onnx) that onnxruntime runs.</summary>
    Onnx,

    /// <summary>A GGUF file (model.gguf) that llama.cpp runs.</summary>
    Gguf,
}

public static class ExportFormats
{
    public static readonly string[] Names = ["hf", "onnx", "gguf"];

    public static ExportFormat Parse(string name) =>
        name.ToLowerInvariant() switch
        {
            "hf" or "huggingface" => ExportFormat.HuggingFace,
            "onnx" => ExportFormat.Onnx,
            "gguf" => ExportFormat.Gguf,
            _ => throw new SharpLMException($"format '{name}' is not known; use one of {string.Join(", ", Names)}."),
        };

    public static string Name(this ExportFormat f) => Names[(int)f];
}

public sealed record ExportRequest
{
    /// <summary>A run or model folder SharpLM can load.</summary>
    public required string Model { get; init; }

    /// <summary>The folder to write (created; or replaced when it is an earlier export and <see cref="OverwriteOutput"/>).</summary>
    public required string Output { get; init; }
    public required ExportFormat Format { get; init; }

    /// <summary>GGUF tensor type: f32, f16 or q8_0.</summary>
    public string GgufType { get; init; } = "f32";
    public bool OverwriteOutput { get; init; }
}

/// <summary>What an export wrote, and how the written model compared with the run it came from.</summary>
public sealed record ExportResult(string Output, string Format, string Kind, IReadOnlyList<string> Files, long Bytes, string Check);

/// <summary>
/// Writes a run in another format into a temporary folder beside the output, checks what was written, and only then
/// puts it in place: a failed export leaves nothing half-written and an earlier export untouched.
/// </summary>
public static class ModelExport
{
    public static ExportResult Run(ExportRequest r)
    {
        var source = new RunFolder(r.Model);
        ModelRegistry.ForRun(source); // a folder SharpLM can load, or its one-line reason
        source.RequireWeights();
        string output = Path.GetFullPath(r.Output).TrimEnd(Path.DirectorySeparatorChar);
        if (output == source.Path.TrimEnd(Path.DirectorySeparatorChar))
            throw new SharpLMException("output_dir must be another folder than the model being exported.");
        if (OutputFolder.Inspect(output, FolderKind.Export) == FolderState.Owned && !r.OverwriteOutput)
            throw new SharpLMException($"{output} already holds an export; choose another output_dir or replace it with overwrite_output.");
        if (r.Format == ExportFormat.Gguf)
            GgufExport.RequireType(r.GgufType);
        using var loaded = ModelRegistry.Load(source.Path);
        string tmp = OutputFolder.CreateTemporaryBeside(output, FolderKind.Export);
        try
        {
            string check = r.Format switch
            {
                ExportFormat.HuggingFace => HuggingFaceExport.Write(loaded, tmp),
                ExportFormat.Onnx => OnnxExport.Write(loaded, tmp),
                ExportFormat.Gguf => GgufExport.Write(loaded, tmp, r.GgufType),
                _ => throw new ArgumentOutOfRangeException(nameof(r)),
            };
            var files = Directory
                .EnumerateFiles(tmp)
                .Select(Path.GetFileName)
                .Where(n => n != OutputFolder.MarkerFile)
                .Order(StringComparer.Ordinal)
                .ToList();
            long bytes = files.Sum(f => new FileInfo(Path.Combine(tmp, f!)).Length);
            OutputFolder.SwapIn(tmp, output, FolderKind.Export);
            return new ExportResult(output, r.Format.Name(), loaded.Kind.Name, files!, bytes, check);
        }
        catch
        {
            if (Directory.Exists(tmp))
                OutputFolder.Delete(tmp, FolderKind.Export);
            throw;
        }
    }

    /// <summary>
    /// The end-of-text id an export declares for a GPT: its own, else the tokenizer's &lt;|endoftext|&gt;; a run without
    /// one (a char-level run) declares its newline (else id 0), so runtimes that stop at the end token stop at the end of
    /// a line.
    /// </summary>
    internal static int EndToken(Models.GptConfig config, Tokenization.Tokenizer tokenizer)
    {
        if ((config.EosTokenId ?? tokenizer.SpecialTokenId(Tokenization.Gpt2Tokenizer.EndOfText)) is int id)
            return id;
        try
        {
            return tokenizer.Encode("\n") is [int newline] ? newline : 0;
        }
        catch (SharpLMException)
        {
            return 0; // a character vocabulary without the newline
        }
    }

    /// <summary>A one-line refusal: <paramref name="format"/> cannot hold this kind of model.</summary>
    internal static SharpLMException CannotHold(LoadedModel loaded, string format, string holds) =>
        new($"{loaded.Run.Path} holds a {loaded.Kind.Description}; {format} export holds {holds}.");
}
