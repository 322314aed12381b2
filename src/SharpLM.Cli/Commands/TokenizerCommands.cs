using System.CommandLine;
using System.Diagnostics;
using System.Text;
using SharpLM.Data;
using SharpLM.Sources;
using SharpLM.Tokenization;

namespace SharpLM.Cli.Commands;

public static class TokenizerCommands
{
    public static Command Build(CliContext ctx)
    {
        var command = new Command("tokenizer", "Train tokenizers and encode/decode text.");
        command.Subcommands.Add(Train(ctx));
        command.Subcommands.Add(Encode(ctx));
        command.Subcommands.Add(Decode(ctx));
        return command;
    }

    static Option<string> TokenizerOption() =>
        new("--tokenizer") { Description = "gpt2, or a tokenizer.json (or a folder holding one).", Required = true };

    static Command Train(CliContext ctx)
    {
        var input = new Option<string[]>("--input")
        {
            Description = "Text files, folders or data set names.",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var vocab = new Option<int>("--vocab-size")
        {
            Description = "Vocabulary size including special tokens (ignored for char).",
            DefaultValueFactory = _ => 8000,
        };
        var output = new Option<string>("--output") { Description = "Folder to write tokenizer.json into.", Required = true };
        var kind = new Option<string>("--kind")
        {
            Description = "bpe (byte-level, GPT-2 pre-tokenization), wordpiece (BERT) or char.",
            DefaultValueFactory = _ => "bpe",
        };
        kind.AcceptOnlyFromAmong("bpe", "wordpiece", "char");
        var minFreq = new Option<long>("--min-frequency")
        {
            Description = "Never merge pairs seen fewer times than this.",
            DefaultValueFactory = _ => 2,
        };
        var cased = new Option<bool>("--cased") { Description = "WordPiece: keep case (default lowercases, as bert-base-uncased)." };
        var cmd = new Command("train", "Learn a tokenizer's vocabulary from text and write DIR/tokenizer.json (Hugging Face format).");
        foreach (var o in new Option[] { input, vocab, output, kind, minFreq, cased, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                async (p, ct) =>
                {
                    IO.OutputFolder.Inspect(p.GetValue(output)!, IO.FolderKind.Tokenizer); // refuse a folder of the user's before training
                    var source = new DocumentSource(CliApp.Catalog(p));
                    var files = await source.ResolveAsync(p.GetValue(input)!);
                    var texts = source.Read(files).Select(d => d.Text).ToList();
                    long chars = texts.Sum(t => (long)t.Length);
                    if (chars == 0)
                        throw new SharpLMException("The training text is empty; give files that contain text.");
                    double mb = texts.Sum(t => (long)Encoding.UTF8.GetByteCount(t)) / 1e6;
                    var options = new TokenizerTrainingOptions
                    {
                        VocabSize = p.GetValue(vocab),
                        MinFrequency = p.GetValue(minFreq),
                        Lowercase = !p.GetValue(cased),
                    };
                    if (options.VocabSize < 1)
                        throw new SharpLMException($"--vocab-size must be positive (got {options.VocabSize}).");
                    var watch = Stopwatch.StartNew();
                    Tokenizer tokenizer = await CliApp.WithProgress(
                        ctx,
                        $"training {p.GetValue(kind)} tokenizer",
                        task =>
                        {
                            var reporter = new CliApp.SyncProgress<TokenizerTrainingProgress>(t =>
                            {
                                if (t.Total > 0)
                                {
                                    task.MaxValue = t.Total;
                                    task.Value = t.Done;
                                    task.Description = $"training: {t.Stage}";
                                }
                            });
                            return Task.Run<Tokenizer>(
                                () =>
                                    p.GetValue(kind) switch
                                    {
                                        "wordpiece" => TokenizerTrainer.TrainWordPiece(texts, options, reporter),
                                        "char" => CharTokenizer.FromTexts(texts),
                                        _ => TokenizerTrainer.TrainBpe(texts, options, reporter),
                                    },
                                ct
                            );
                        }
                    );
                    double seconds = watch.Elapsed.TotalSeconds;
                    string dir = IO.OutputFolder.Claim(p.GetValue(output)!, IO.FolderKind.Tokenizer);
                    string path = Path.Combine(dir, "tokenizer.json");
                    tokenizer.Save(path);
                    var result = new
                    {
                        path,
                        kind = tokenizer.Kind,
                        vocabSize = tokenizer.VocabSize,
                        megabytes = mb,
                        seconds,
                        megabytesPerSecond = mb / Math.Max(seconds, 1e-9),
                    };
                    if (p.GetValue(CliApp.JsonOption))
                        ctx.WriteJson(result);
                    else
                        ctx.Out.WriteLine(
                            $"wrote {path}: {tokenizer.Kind}, {tokenizer.VocabSize} tokens, trained on {mb:F2} MB in {seconds:F2} s "
                                + $"({result.megabytesPerSecond:F2} MB/s)"
                        );
                    return 0;
                }
            )
        );
        return cmd;
    }

    static Command Encode(CliContext ctx)
    {
        var tok = TokenizerOption();
        var text = new Option<string?>("--text") { Description = "Text to encode." };
        var input = new Option<string?>("--input") { Description = "File whose text to encode." };
        var special = new Option<bool>("--special") { Description = "Recognise special tokens such as <|endoftext|> in the text." };
        var cmd = new Command("encode", "Text → token ids. No special tokens are added or recognised unless --special.");
        foreach (var o in new Option[] { tok, text, input, special, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                async (p, _) =>
                {
                    string? t = p.GetValue(text),
                        file = p.GetValue(input);
                    if ((t is null) == (file is null))
                        throw new SharpLMException("Give exactly one of --text or --input.");
                    if (file != null && !File.Exists(file))
                        throw new SharpLMException($"Input file {file} does not exist.");
                    t ??= await File.ReadAllTextAsync(file!);
                    var tokenizer = await TokenizerSource.LoadAsync(p.GetValue(tok)!, CliApp.Catalog(p));
                    int[] ids = tokenizer.Encode(t, p.GetValue(special));
                    if (p.GetValue(CliApp.JsonOption))
                        ctx.WriteJson(new { ids });
                    else
                        ctx.Out.WriteLine(string.Join(' ', ids));
                    return 0;
                }
            )
        );
        return cmd;
    }

    static Command Decode(CliContext ctx)
    {
        var tok = TokenizerOption();
        var ids = new Option<string>("--ids") { Description = "Comma-separated token ids, e.g. 15496,11,995.", Required = true };
        var cmd = new Command("decode", "Token ids → text.");
        foreach (var o in new Option[] { tok, ids, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                async (p, _) =>
                {
                    var parsed = new List<int>();
                    foreach (
                        string part in p.GetValue(ids)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                    )
                        parsed.Add(
                            int.TryParse(part, out int id)
                                ? id
                                : throw new SharpLMException(
                                    $"'{part}' in --ids is not an integer; give comma-separated ids like 15496,11,995."
                                )
                        );
                    var tokenizer = await TokenizerSource.LoadAsync(p.GetValue(tok)!, CliApp.Catalog(p));
                    string text = tokenizer.Decode(parsed);
                    if (p.GetValue(CliApp.JsonOption))
                        ctx.WriteJson(new { text });
                    else
                        ctx.Out.WriteLine(text);
                    return 0;
                }
            )
        );
        return cmd;
    }
}
