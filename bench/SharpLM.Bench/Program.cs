using SharpLM.Bench;
using SharpLM.Cli;

return await CliApp.RunAsync(args, Console.Out, Console.Error, BenchCommands.BuildRoot);
