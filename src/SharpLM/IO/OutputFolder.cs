using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace SharpLM.IO;

/// <summary>
/// A kind of folder SharpLM writes: its marker (what says SharpLM wrote it), the entries it may hold at its top level,
/// and (for folders written before markers existed) the file that identified it then.
/// </summary>
public sealed record FolderKind(string Name, string Description, string[] Entries, string? LegacyMarker = null)
{
    /// <summary>Written by 'prepare': token shards, tokenizer.json, summary.json.</summary>
    public static readonly FolderKind PreparedData = new(
        "prepared-data",
        "prepared data folder",
        ["summary.json", "tokenizer.json", "train_*.bin", "val_*.bin"],
        "summary.json"
    );

    /// <summary>A training or fine-tuning run.</summary>
    public static readonly FolderKind Run = new(
        "run",
        "run folder",
        [
            "config.json",
            "tokenizer.json",
            "vocab.json",
            "merges.txt",
            "vocab.txt",
            "tokenizer_config.json",
            "model.safetensors",
            "training.json",
            "data.txt",
            "checkpoint",
            "checkpoint.tmp",
            "checkpoint.old",
            "logs",
            "loss.png",
            "metrics.json",
            "test_report.json",
            "split.json",
            "pairs_split.json",
            FolderLock.FileName,
        ],
        "training.json"
    );

    /// <summary>Written by 'export': a model in another tool's format (Hugging Face folder, ONNX, GGUF).</summary>
    public static readonly FolderKind Export = new(
        "export",
        "export folder",
        [
            "config.json",
            "model.safetensors",
            "tokenizer.json",
            "tokenizer_config.json",
            "special_tokens_map.json",
            "generation_config.json",
            "README.md",
            "model.onnx",
            "model.onnx.data",
            "genai_config.json",
            "model.gguf",
        ]
    );

    /// <summary>Written by 'index': passage vectors for semantic search.</summary>
    public static readonly FolderKind SearchIndex = new(
        "index",
        "search index folder",
        ["index.json", "vectors.safetensors", "passages.jsonl"],
        "index.json"
    );

    /// <summary>Written by 'embeddings train'.</summary>
    public static readonly FolderKind WordVectors = new("word-vectors", "word vectors folder", ["vectors.txt"]);

    /// <summary>Written by 'data split'.</summary>
    public static readonly FolderKind LabelledSplit = new(
        "split",
        "labelled-data split folder",
        ["train.jsonl", "val.jsonl", "test.jsonl"]
    );

    /// <summary>Written by 'data silver': silver-labelled NER sentences or SQuAD questions, and how they were made.</summary>
    public static readonly FolderKind SilverData = new("silver", "silver-labelled data folder", ["train.*", "test.*", "README.md"]);

    /// <summary>Written by 'tokenizer train'.</summary>
    public static readonly FolderKind Tokenizer = new("tokenizer", "tokenizer folder", ["tokenizer.json"]);

    /// <summary>Written by 'tune': tune.json and one temporary run per combination and fold.</summary>
    public static readonly FolderKind Tune = new("tune", "grid-search folder", ["tune.json", "c*-f*"], "tune.json");

    /// <summary>A file name SharpLM gives its own temporary files and folders (AtomicFile, shard writers, swaps).</summary>
    internal static readonly Regex Temporary = new(@"\.(tmp|old)-[0-9a-f-]+(\.png)?$", RegexOptions.CultureInvariant);

    readonly Regex[] _patterns = Entries
        .Select(e => new Regex("^" + Regex.Escape(e).Replace(@"\*", ".*") + "$", RegexOptions.CultureInvariant))
        .ToArray();

    /// <summary>Whether a top-level entry name belongs in this kind of folder.</summary>
    public bool Allows(string name) => name == OutputFolder.MarkerFile || Temporary.IsMatch(name) || _patterns.Any(p => p.IsMatch(name));
}

/// <summary>What is at an output path now.</summary>
public enum FolderState
{
    /// <summary>Nothing: the folder can be created.</summary>
    Absent,

    /// <summary>An empty folder: it can be filled.</summary>
    Empty,

    /// <summary>A folder of the expected kind that SharpLM wrote, holding nothing else: it can be replaced.</summary>
    Owned,
}

/// <summary>
/// The data-safety rule for every folder a command writes: it may create a folder, fill an empty one, or replace one
/// that it wrote itself (its marker file is there and every entry is one that kind of folder holds). Anything else —
/// a file, a link, a folder with someone else's files, or another kind of SharpLM folder — is refused with one line,
/// and nothing of the user's is moved or deleted.
/// </summary>
public static class OutputFolder
{
    /// <summary>The marker SharpLM writes into every folder it creates: {"kind": "...", "created": "..."}.</summary>
    public const string MarkerFile = ".sharplm";

    /// <summary>
    /// Throws a <see cref="SharpLMException"/> unless <paramref name="path"/> may be written as a <paramref name="kind"/> folder.
    /// </summary>
    public static FolderState Inspect(string path, FolderKind kind)
    {
        string full = Path.GetFullPath(path);
        for (string? up = full; up is not null; up = Path.GetDirectoryName(up))
            if (File.Exists(up) && !Directory.Exists(up))
                throw new SharpLMException(
                    $"{(up == full ? full : $"{up}, part of {full},")} is a file, not a folder; choose a folder path for the "
                        + $"{kind.Description}."
                );
        var info = new DirectoryInfo(full);
        if (!info.Exists)
            return info.LinkTarget is null
                ? FolderState.Absent
                : throw new SharpLMException(
                    $"{full} is a symbolic link to a missing folder; SharpLM does not write through it — choose another output folder."
                );
        if (info.LinkTarget is not null)
            throw new SharpLMException(
                $"{full} is a symbolic link; SharpLM only replaces folders it wrote itself — give the folder it points to, or another "
                    + "output folder."
            );
        var entries = info.EnumerateFileSystemInfos().Select(e => e.Name).Order(StringComparer.Ordinal).ToList();
        if (entries.Count == 0)
            return FolderState.Empty;
        string? marked = MarkerKind(full);
        bool legacy = marked is null && kind.LegacyMarker is string m && File.Exists(Path.Combine(full, m));
        if (marked is not null && marked != kind.Name)
            throw new SharpLMException($"{full} is a SharpLM {marked} folder, not a {kind.Description}; choose another output folder.");
        if (marked is null && !legacy)
            throw Foreign(full, entries.FirstOrDefault(e => e != MarkerFile) ?? entries[0]);
        if (entries.FirstOrDefault(e => !kind.Allows(e)) is string foreign)
            throw Foreign(full, foreign);
        return FolderState.Owned;
    }

    static SharpLMException Foreign(string path, string example) =>
        new($"{path} holds files that SharpLM did not write (e.g. '{example}'); choose another output folder or remove it yourself.");

    /// <summary>The kind recorded in a folder's marker, or null without a (readable) marker.</summary>
    public static string? MarkerKind(string folder)
    {
        string marker = Path.Combine(folder, MarkerFile);
        if (!File.Exists(marker))
            return null;
        try
        {
            return JsonNode.Parse(File.ReadAllText(marker))?["kind"]?.GetValue<string>();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// Makes <paramref name="path"/> a <paramref name="kind"/> folder to write into in place (creating it, claiming an
    /// empty one, or reusing one SharpLM wrote) and returns its full path.
    /// </summary>
    public static string Claim(string path, FolderKind kind)
    {
        string full = Path.GetFullPath(path);
        var state = Inspect(full, kind);
        Directory.CreateDirectory(full);
        if (state != FolderState.Owned || MarkerKind(full) is null)
            WriteMarker(full, kind);
        return full;
    }

    /// <summary>A fresh, marked temporary folder beside <paramref name="path"/>, to be completed and then <see cref="SwapIn"/>.</summary>
    public static string CreateTemporaryBeside(string path, FolderKind kind)
    {
        string full = Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar);
        RemoveStaleSiblings(full);
        string tmp = full + $".tmp-{Guid.NewGuid():N}";
        Directory.CreateDirectory(tmp);
        WriteMarker(tmp, kind);
        return tmp;
    }

    /// <summary>
    /// Puts the completed folder <paramref name="completed"/> at <paramref name="path"/>: renamed into place when nothing is
    /// there, its entries moved into an empty folder (which keeps its permissions, mount or working-directory role), or
    /// swapped for a folder SharpLM wrote (renamed aside, then deleted). Checks the rule again first.
    /// </summary>
    public static void SwapIn(string completed, string path, FolderKind kind)
    {
        string full = Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar);
        switch (Inspect(full, kind))
        {
            case FolderState.Absent:
                Directory.Move(completed, full);
                break;
            case FolderState.Empty:
                // The marker goes last: a crash part-way leaves a folder without it, which is refused, never taken as complete.
                foreach (var entry in new DirectoryInfo(completed).EnumerateFileSystemInfos().OrderBy(e => e.Name == MarkerFile))
                {
                    string target = Path.Combine(full, entry.Name);
                    if (entry is DirectoryInfo d)
                        d.MoveTo(target);
                    else
                        ((FileInfo)entry).MoveTo(target);
                }
                Directory.Delete(completed);
                break;
            case FolderState.Owned:
                RequireUnlocked(full);
                string aside = full + $".old-{Guid.NewGuid():N}";
                Directory.Move(full, aside);
                Directory.Move(completed, full);
                Directory.Delete(aside, recursive: true); // verified above to hold only what SharpLM wrote
                break;
        }
    }

    /// <summary>Deletes a folder only if it is absent, empty or a <paramref name="kind"/> folder that SharpLM wrote.</summary>
    public static void Delete(string path, FolderKind kind)
    {
        string full = Path.GetFullPath(path);
        if (Inspect(full, kind) == FolderState.Absent)
            return;
        RequireUnlocked(full);
        Directory.Delete(full, recursive: true);
    }

    /// <summary>Refuses a folder that another process holds the lock of (a run that is training, say).</summary>
    static void RequireUnlocked(string folder)
    {
        if (File.Exists(Path.Combine(folder, FolderLock.FileName)))
            FolderLock.Acquire(folder, "it holds the folder's lock").Dispose();
    }

    /// <summary>Removes SharpLM's own leftover temporary files (from a killed process) at the top of a folder it owns.</summary>
    public static void RemoveTemporaryLeftovers(string folder)
    {
        foreach (var entry in new DirectoryInfo(folder).EnumerateFileSystemInfos().Where(e => FolderKind.Temporary.IsMatch(e.Name)))
        {
            try
            {
                if (entry is DirectoryInfo d && d.LinkTarget is null && MarkerKind(d.FullName) is not null)
                    d.Delete(recursive: true);
                else if (entry is FileInfo f)
                    f.Delete();
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>
    /// Temporary folders a killed process left beside <paramref name="full"/>: removed once a day old, and only when they
    /// carry SharpLM's marker (a younger one may belong to a process that is still writing).
    /// </summary>
    static void RemoveStaleSiblings(string full)
    {
        string? parent = Path.GetDirectoryName(full);
        if (parent is null || !Directory.Exists(parent))
            return;
        foreach (var d in new DirectoryInfo(parent).EnumerateDirectories(Path.GetFileName(full) + ".*"))
        {
            if (!FolderKind.Temporary.IsMatch(d.Name) || d.LinkTarget is not null || MarkerKind(d.FullName) is null)
                continue;
            if (File.GetLastWriteTimeUtc(Path.Combine(d.FullName, MarkerFile)) > DateTime.UtcNow.AddDays(-1))
                continue;
            try
            {
                d.Delete(recursive: true);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    static void WriteMarker(string folder, FolderKind kind) =>
        AtomicFile.WriteAllText(
            Path.Combine(folder, MarkerFile),
            new JsonObject
            {
                ["kind"] = kind.Name,
                ["created"] = DateTime.UtcNow.ToString("O"),
                ["by"] = "SharpLM",
            }.ToJsonString() + "\n"
        );
}
