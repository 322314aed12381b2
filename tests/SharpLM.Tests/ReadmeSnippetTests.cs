using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace SharpLM.Tests;

/// <summary>
/// The README's "Use from C#" snippets, compiled as programs (top-level statements, Roslyn) and run exactly as printed,
/// so they cannot rot.
/// The one change: their folder ("runs/…") is moved to a temp folder, so that a test run writes nothing in the repository.
/// </summary>
[Collection(TorchCollection.Name)]
public class ReadmeSnippetTests
{
    static string Snippet(string name)
    {
        string readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));
        var m = Regex.Match(readme, $@"<!-- snippet: {name} -->\s*```csharp\n(.*?)```", RegexOptions.Singleline);
        Assert.True(m.Success, $"README.md has no csharp block after <!-- snippet: {name} -->");
        return m.Groups[1].Value;
    }

    static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "README.md")) && Directory.Exists(Path.Combine(dir.FullName, "src", "SharpLM")))
                return dir.FullName;
        throw new InvalidOperationException("README.md not found above the test binaries.");
    }

    /// <summary>
    /// Compiles <paramref name="code"/> as a console program against the loaded assemblies, runs it, and returns what it printed.
    /// </summary>
    static async Task<string> RunProgram(string code)
    {
        var references = AppDomain
            .CurrentDomain.GetAssemblies()
            .Where(a => !a.IsDynamic && a.Location.Length > 0)
            .Select(a => MetadataReference.CreateFromFile(a.Location));
        var tree = CSharpSyntaxTree.ParseText(
            "global using System; global using System.IO; global using System.Linq; global using System.Collections.Generic;\n" + code,
            new CSharpParseOptions(LanguageVersion.Latest)
        );
        var compilation = CSharpCompilation.Create(
            $"readme-{Guid.NewGuid():N}",
            [tree],
            references,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication)
        );
        using var image = new MemoryStream();
        var emitted = compilation.Emit(image);
        Assert.True(emitted.Success, string.Join("\n", emitted.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)));
        var entry = Assembly.Load(image.ToArray()).EntryPoint!;
        var output = new StringWriter();
        var console = Console.Out;
        Console.SetOut(output);
        try
        {
            var result = entry.Invoke(null, entry.GetParameters().Length == 0 ? null : [Array.Empty<string>()]);
            if (result is Task task)
                await task;
        }
        finally
        {
            Console.SetOut(console);
        }
        return output.ToString();
    }

    /// <summary>Statements, not counting using directives.</summary>
    static int Lines(string code) =>
        code.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => !Regex.IsMatch(l.Trim(), @"^using [\w.]+;$"));

    [Fact]
    public async Task TrainAndGenerate()
    {
        string code = Snippet("train-and-generate");
        Assert.InRange(Lines(code), 5, 12);
        string dir = Path.Combine(TestData.TempDir(), "csharp");
        string printed = await RunProgram(code.Replace("\"runs/csharp\"", $"\"{dir}\""));
        Assert.StartsWith("Call me Ishmael", printed);
        Assert.True(printed.TrimEnd().Length > "Call me Ishmael".Length + 20, printed);
        Assert.True(File.Exists(Path.Combine(dir, "run", "model.safetensors")));
    }

    [Fact]
    public async Task LoadAClassifierAndClassify()
    {
        string code = Snippet("classify");
        Assert.InRange(Lines(code), 3, 6);
        string run = await FineTuningCliTests.TrainedToyClassifier();
        string printed = await RunProgram(code.Replace("\"runs/reviews\"", $"\"{run}\""));
        var lines = printed.Trim().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("pos ", lines[0]);
        Assert.StartsWith("neg ", lines[1]);
    }

    [Fact]
    public async Task ChatWithARunInProcess()
    {
        string code = Snippet("chat-client");
        Assert.InRange(Lines(code), 3, 6);
        string run = await ServingModels.TrainedGpt();
        string printed = await RunProgram(code.Replace("\"runs/chat\"", $"\"{run}\""));
        // 53 tokens: the answer, then the "\nUser:" that stopped it (generated, so counted, but not returned).
        Assert.Equal(" Some years ago, never mind how long precisely. (stop, 53 tokens)", printed.TrimEnd('\n'));
    }
}
