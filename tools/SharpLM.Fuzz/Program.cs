using System.Text.Json;
using SharpLM.Fuzz;

// sharplm-fuzz [--inputs N] [--seed S] [--parser NAME ...] [--json]: a fuzzing campaign over every file parser.
int inputs = 100_000,
    seed = 1;
bool json = false;
var parsers = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--inputs" when i + 1 < args.Length && int.TryParse(args[i + 1], out int n) && n > 0:
            inputs = n;
            i++;
            break;
        case "--seed" when i + 1 < args.Length && int.TryParse(args[i + 1], out int s):
            seed = s;
            i++;
            break;
        case "--parser" when i + 1 < args.Length:
            parsers.Add(args[++i]);
            break;
        case "--json":
            json = true;
            break;
        default:
            Console.Error.WriteLine(
                $"error: unknown argument '{args[i]}'. Usage: sharplm-fuzz [--inputs N] [--seed S] [--parser NAME ...] [--json]; "
                    + $"parsers: {string.Join(", ", FuzzTargets.Names)}"
            );
            return 2;
    }
}
string work = Path.Combine(Path.GetTempPath(), $"sharplm-fuzz-{Environment.ProcessId}");
var targets = FuzzTargets
    .Create(work)
    .Where(t => parsers.Count == 0 || parsers.Contains(t.Name, StringComparer.OrdinalIgnoreCase))
    .ToList();
if (targets.Count == 0)
{
    Console.Error.WriteLine($"error: no parser matches; choose from {string.Join(", ", FuzzTargets.Names)}");
    return 2;
}
var reports = new List<ParserReport>();
foreach (var target in targets)
{
    bool live = !Console.IsErrorRedirected;
    var report = Fuzzer.Run(
        target,
        inputs,
        seed,
        work,
        TimeSpan.FromSeconds(2),
        live ? new Progress<string>(s => Console.Error.Write($"\r{s}          ")) : null
    );
    Console.Error.WriteLine(live ? "" : $"{target.Name}: {report.Inputs} inputs, {report.Crashes} crashes, {report.Hangs} hangs");
    reports.Add(report);
    foreach (var f in report.Failures)
        Console.Error.WriteLine($"  {f}");
}
if (json)
    Console.WriteLine(
        JsonSerializer.Serialize(
            new
            {
                inputs,
                seed,
                reports,
            }
        )
    );
else
{
    Console.WriteLine(
        $"{"parser", -20} {"inputs", 8} {"loaded", 8} {"rejected", 9} {"crashes", 8} {"hangs", 6} {"slowest s", 10} {"inputs/s", 9}"
    );
    foreach (var r in reports)
        Console.WriteLine(
            $"{r.Parser, -20} {r.Inputs, 8} {r.Loaded, 8} {r.Rejected, 9} {r.Crashes, 8} {r.Hangs, 6} {r.SlowestSeconds, 10:F3} "
                + $"{r.InputsPerSecond, 9:F0}"
        );
    Console.WriteLine($"failing inputs (if any) are in {work}");
}
return reports.Any(r => r.Crashes > 0 || r.Hangs > 0) ? 1 : 0;
