using System.Text.RegularExpressions;

namespace SharpLM.Tests;

/// <summary>
/// The library's folders are layers (README: Architecture): a folder may use the folders below it, never above, so
/// there are no circles. Read off the sources: every `using SharpLM.X`, `SharpLM.X.` and `X.Name` reference.
/// </summary>
public class LayeringTests
{
    /// <summary>The registry and everything below it: what workflows, pipelines and compression may use.</summary>
    static readonly string[] UpToKinds =
    [
        "Runtime",
        "IO",
        "Catalogue",
        "Tokenization",
        "Sources",
        "Data",
        "Models",
        "Evaluation",
        "Distributed",
        "Training",
        "Generation",
        "Kinds",
    ];

    /// <summary>Each folder and the folders it may use (the README's table).</summary>
    public static readonly IReadOnlyDictionary<string, string[]> Allowed = new Dictionary<string, string[]>
    {
        ["Runtime"] = [],
        ["IO"] = ["Runtime"],
        ["Catalogue"] = ["Runtime", "IO"],
        ["Tokenization"] = ["Runtime", "IO"],
        ["Sources"] = ["Runtime", "IO", "Catalogue", "Tokenization"],
        ["Data"] = ["Runtime", "IO", "Catalogue", "Tokenization", "Sources"],
        ["Models"] = ["Runtime", "IO", "Tokenization"],
        ["Evaluation"] = ["Runtime", "IO", "Tokenization", "Data", "Models"],
        ["Distributed"] = ["Runtime", "IO"],
        ["Training"] = ["Runtime", "IO", "Tokenization", "Data", "Models", "Evaluation", "Distributed"],
        ["Generation"] = ["Runtime", "IO", "Tokenization", "Models"],
        ["Kinds"] =
        [
            "Runtime",
            "IO",
            "Catalogue",
            "Tokenization",
            "Sources",
            "Data",
            "Models",
            "Evaluation",
            "Distributed",
            "Training",
            "Generation",
        ],
        ["Workflows"] = [.. UpToKinds, "Embeddings"],
        ["Compression"] = UpToKinds,
        ["Export"] = UpToKinds,
        ["Pipelines"] = UpToKinds,
        ["Retrieval"] = [.. UpToKinds, "Pipelines", "Embeddings"],
        ["Embeddings"] = ["Runtime", "IO", "Catalogue", "Tokenization", "Sources", "Data"],
        ["Serving"] = [.. UpToKinds, "Workflows", "Pipelines"],
    };

    static string LibraryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (Directory.Exists(Path.Combine(dir.FullName, "src", "SharpLM")))
                return Path.Combine(dir.FullName, "src", "SharpLM");
        throw new InvalidOperationException("src/SharpLM not found above the test binaries.");
    }

    [Fact]
    public void EveryFolderUsesOnlyTheLayersBelowIt()
    {
        string root = LibraryRoot();
        var folders = Directory.GetDirectories(root).Select(Path.GetFileName).Where(f => f is not ("bin" or "obj")).ToHashSet()!;
        Assert.Equal(Allowed.Keys.Order(), folders.Order()); // a new folder needs its place in the table
        string names = string.Join('|', folders);
        var reference = new Regex($@"using SharpLM\.({names})\b|SharpLM\.({names})\.|(?<![\w.])({names})\.[A-Z]");
        var violations = new List<string>();
        foreach (var folder in folders)
        foreach (var file in Directory.EnumerateFiles(Path.Combine(root, folder!), "*.cs", SearchOption.AllDirectories))
        {
            // Code only: comments and string literals may name any layer.
            string code = Regex.Replace(File.ReadAllText(file), @"//.*|""(?:[^""\\]|\\.)*""", "");
            foreach (Match m in reference.Matches(code))
            {
                string used = m.Groups.Cast<Group>().Skip(1).First(g => g.Success).Value;
                if (used != folder && !Allowed[folder!].Contains(used))
                    violations.Add($"{Path.GetRelativePath(root, file)} uses {used}");
            }
        }
        Assert.True(violations.Count == 0, string.Join("\n", violations.Distinct()));
    }
}

/// <summary>The code style .editorconfig sets (CSharpier formats to it: `dotnet tool restore && dotnet csharpier format .`).</summary>
public class CodeStyleTests
{
    [Fact]
    public void NoLineIsLongerThan140Characters()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "SharpLM.sln")))
            root = root.Parent!;
        var longLines = new[] { "src", "bench", "tools", "tests" }
            .SelectMany(d => Directory.EnumerateFiles(Path.Combine(root.FullName, d), "*.cs", SearchOption.AllDirectories))
            .Where(f =>
                !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}")
            )
            .SelectMany(f => File.ReadLines(f).Select((l, i) => (File: f, Line: i + 1, l.Length)))
            .Where(x => x.Length > 140)
            .Select(x => $"{Path.GetRelativePath(root.FullName, x.File)}:{x.Line} ({x.Length})")
            .ToList();
        Assert.True(longLines.Count == 0, string.Join("\n", longLines));
    }
}
