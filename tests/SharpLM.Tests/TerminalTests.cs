using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace SharpLM.Tests;

/// <summary>
/// Training in a real terminal: `sharplm train` runs under a pseudo-terminal (util-linux `script`), and what it wrote is
/// replayed through a small terminal emulator. The evaluation lines must come out whole, one per evaluation, and the
/// live progress bar must leave nothing behind.
/// </summary>
[Collection(TorchCollection.Name)]
public class TerminalTests
{
    [Fact]
    public async Task EvaluationLinesAndTheLiveBarDoNotCollide()
    {
        string data = await TrainingTests.PreparedData(string.Concat(Enumerable.Repeat("to be or not to be, that is the question. ", 100)));
        string run = Path.Combine(TestData.TempDir(), "run");
        string typescript = Path.Combine(TestData.TempDir(), "typescript");
        string command =
            $"dotnet {Path.Combine(AppContext.BaseDirectory, "sharplm.dll")} train --data {data} --output {run} --preset tiny "
            + "--max-steps 120 --eval-interval 40 --log-interval 5";
        var info = new ProcessStartInfo("script", ["-q", "-e", "-c", command, typescript])
        {
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.Environment["TERM"] = "xterm-256color";
        info.Environment["COLUMNS"] = "100";
        info.Environment["SHARPLM_DATA_DIR"] = TestData.Catalog.CacheDir;
        using var process = Process.Start(info)!;
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.Equal(0, process.ExitCode);

        var screen = Terminal.Replay(File.ReadAllText(typescript));
        var evals = screen
            .Where(l => !l.Contains('│') && (l.Contains("val loss") || l.Contains("perplexity") || l.Contains("bits per byte")))
            .ToList();
        Assert.True(evals.Count == 4, string.Join("\n", screen)); // steps 0, 40, 80, 120: each once, each whole
        Assert.All(evals, l => Assert.Matches(@"^step +\d+: val loss \d+\.\d{4}, perplexity \d+\.\d{4}, bits per byte \d+\.\d{4}$", l));
        Assert.Equal(["0", "40", "80", "120"], evals.Select(l => Regex.Match(l, @"\d+").Value));
        Assert.DoesNotContain(screen, l => l.Contains("━") || l.Contains("tok/s")); // the bar is gone
        Assert.Contains(screen, l => l.Contains("max_steps")); // the result table came after it
    }

    /// <summary>
    /// Enough of a VT100 to replay a progress display: printable text, CR, LF, cursor up/down/column, erase line;
    /// colours and modes are ignored. Returns every line ever shown (scrollback included), right-trimmed.
    /// </summary>
    static class Terminal
    {
        public static List<string> Replay(string output)
        {
            var lines = new List<StringBuilder> { new() };
            int row = 0,
                col = 0;
            for (int i = 0; i < output.Length; i++)
            {
                char c = output[i];
                if (c == '\u001b' && i + 1 < output.Length)
                {
                    if (output[i + 1] != '[')
                    {
                        i++;
                        continue;
                    } // ESC = / ESC > and the like
                    var m = Regex.Match(output[(i + 2)..], @"^([?0-9;]*)([A-Za-z])");
                    if (!m.Success)
                        continue;
                    i += 1 + m.Length;
                    string args = m.Groups[1].Value;
                    int n = int.TryParse(args, out int v) ? v : 1;
                    switch (m.Groups[2].Value)
                    {
                        case "A":
                            row = Math.Max(0, row - n);
                            break;
                        case "B":
                            row += n;
                            break;
                        case "G":
                            col = Math.Max(0, n - 1);
                            break;
                        case "C":
                            col += n;
                            break;
                        case "D":
                            col = Math.Max(0, col - n);
                            break;
                        case "K":
                            while (lines.Count <= row)
                                lines.Add(new());
                            if (args is "2")
                                lines[row].Clear();
                            else if (lines[row].Length > col)
                                lines[row].Length = col;
                            break;
                    }
                    continue;
                }
                while (lines.Count <= row)
                    lines.Add(new());
                if (c == '\r')
                    col = 0;
                else if (c == '\n')
                    row++;
                else if (c >= ' ')
                {
                    var line = lines[row];
                    while (line.Length < col)
                        line.Append(' ');
                    if (col < line.Length)
                        line[col] = c;
                    else
                        line.Append(c);
                    col++;
                }
            }
            return lines.Select(l => l.ToString().TrimEnd()).Where(l => l.Length > 0).ToList();
        }
    }
}
