using System.CommandLine;
using SharpLM.Embeddings;
using Spectre.Console;

namespace SharpLM.Cli.Commands;

/// <summary>sharplm embeddings train | neighbours | analogy: word2vec vectors in the word2vec text format.</summary>
public static class EmbeddingsCommands
{
    public static Command Build(CliContext ctx)
    {
        var cmd = new Command("embeddings", "Word vectors: train word2vec on text, and query nearest neighbours and analogies.");
        cmd.Subcommands.Add(Train(ctx));
        cmd.Subcommands.Add(Neighbours(ctx));
        cmd.Subcommands.Add(Analogy(ctx));
        return cmd;
    }

    static Command Train(CliContext ctx)
    {
        var method = new Option<string>("--method")
        {
            Description = "word2vec (skip-gram), cbow or glove.",
            DefaultValueFactory = _ => "word2vec",
        };
        method.AcceptOnlyFromAmong("word2vec", "cbow", "glove");
        var input = new Option<string[]>("--input")
        {
            Description = "Files, folders or catalogue names.",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var dim = new Option<int>("--dim") { Description = "Vector dimensions.", DefaultValueFactory = _ => 100 };
        var window = new Option<int?>("--window") { Description = "Largest distance to a context word (default 5; GloVe 10)." };
        var minCount = new Option<int>("--min-count") { Description = "Rarer words are dropped.", DefaultValueFactory = _ => 5 };
        var epochs = new Option<int?>("--epochs") { Description = "Passes over the text (default 5; GloVe: over the counts, 25)." };
        var negative = new Option<int>("--negative") { Description = "word2vec: noise words per pair.", DefaultValueFactory = _ => 5 };
        var xMax = new Option<double>("--x-max") { Description = "GloVe: counts above this weigh 1.", DefaultValueFactory = _ => 100 };
        var alpha = new Option<double>("--alpha") { Description = "GloVe: the weighting's power.", DefaultValueFactory = _ => 0.75 };
        var lr = new Option<double?>("--lr") { Description = "Learning rate (word2vec 0.025, CBOW 0.05; GloVe's AdaGrad 0.05)." };
        var format = new Option<string>("--format")
        {
            Description = "word2vec (with a header line) or glove (without).",
            DefaultValueFactory = _ => "word2vec",
        };
        format.AcceptOnlyFromAmong("word2vec", "glove");
        var seed = new Option<int>("--seed") { Description = "Seed (the same seed gives the same vectors).", DefaultValueFactory = _ => 1 };
        var output = new Option<string>("--output") { Description = "Folder for vectors.txt.", Required = true };
        var cmd = new Command(
            "train",
            "Train word2vec (skip-gram or CBOW, negative sampling, subsampling) or GloVe (co-occurrence counts, weighted least "
                + "squares, AdaGrad); writes DIR/vectors.txt."
        );
        foreach (
            var o in new Option[]
            {
                method,
                input,
                dim,
                window,
                minCount,
                epochs,
                negative,
                xMax,
                alpha,
                lr,
                format,
                seed,
                output,
                CliApp.JsonOption,
            }
        )
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                async (p, ct) =>
                {
                    bool glove = p.GetValue(method) == "glove";
                    foreach (var (option, applies) in new (Option, bool)[] { (negative, !glove), (xMax, glove), (alpha, glove) })
                        if (!applies && p.GetResult(option) is { Implicit: false })
                            throw new SharpLMException($"{option.Name} does not apply to --method {p.GetValue(method)}; drop it.");
                    string dir = IO.OutputFolder.Claim(p.GetValue(output)!, IO.FolderKind.WordVectors);
                    var source = new Data.DocumentSource(CliApp.Catalog(p));
                    var files = await source.ResolveAsync(p.GetValue(input)!);
                    var texts = source.Read(files).Select(d => d.Text);
                    var progress = new CliApp.SyncProgress<(int Epoch, double Loss)>(x =>
                        ctx.Err.WriteLine($"epoch {x.Epoch}: loss {x.Loss:F4}")
                    );
                    var vectors = glove
                        ? GloVe.Train(
                            texts,
                            new GloVeOptions
                            {
                                Dimensions = p.GetValue(dim),
                                Window = p.GetValue(window) ?? 10,
                                MinCount = p.GetValue(minCount),
                                Epochs = p.GetValue(epochs) ?? 25,
                                LearningRate = p.GetValue(lr) ?? 0.05,
                                XMax = p.GetValue(xMax),
                                Alpha = p.GetValue(alpha),
                                Seed = p.GetValue(seed),
                            },
                            progress
                        )
                        : Word2Vec.Train(
                            texts,
                            new Word2VecOptions
                            {
                                SkipGram = p.GetValue(method) == "word2vec",
                                Dimensions = p.GetValue(dim),
                                Window = p.GetValue(window) ?? 5,
                                MinCount = p.GetValue(minCount),
                                Epochs = p.GetValue(epochs) ?? 5,
                                Negative = p.GetValue(negative),
                                LearningRate = p.GetValue(lr),
                                Seed = p.GetValue(seed),
                            },
                            progress
                        );
                    string path = Path.Combine(dir, "vectors.txt");
                    vectors.Save(path, header: p.GetValue(format) == "word2vec");
                    if (p.GetValue(CliApp.JsonOption))
                        ctx.WriteJson(
                            new
                            {
                                vectors = path,
                                words = vectors.Words.Count,
                                dimensions = vectors.Dimensions,
                            }
                        );
                    else
                        ctx.Out.WriteLine($"{path}: {vectors.Words.Count:N0} words × {vectors.Dimensions} dimensions");
                    return 0;
                }
            )
        );
        return cmd;
    }

    static Option<string> VectorsOption() =>
        new("--vectors")
        {
            Description = "A word2vec text file (or GloVe's, without the header) or a folder holding vectors.txt.",
            Required = true,
        };

    static WordVectors Open(string path) => WordVectors.Load(WordVectors.FilePath(path));

    static void Print(CliContext ctx, bool json, object query, IReadOnlyList<(string Word, double Cosine)> hits)
    {
        if (json)
        {
            ctx.WriteJson(new { query, results = hits.Select(h => new { word = h.Word, cosine = h.Cosine }) });
            return;
        }
        var table = new Table().AddColumns("word", "cosine");
        foreach (var (word, cosine) in hits)
            table.AddRow(Markup.Escape(word), cosine.ToString("F4"));
        ctx.WriteTable(table);
    }

    static Command Neighbours(CliContext ctx)
    {
        var vectors = VectorsOption();
        var word = new Option<string>("--word") { Description = "The word.", Required = true };
        var top = new Option<int>("--top") { Description = "How many.", DefaultValueFactory = _ => 10 };
        var cmd = new Command("neighbours", "The words nearest to a word by cosine similarity.");
        foreach (var o in new Option[] { vectors, word, top, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                (p, _) =>
                {
                    string w = p.GetValue(word)!.ToLowerInvariant();
                    Print(ctx, p.GetValue(CliApp.JsonOption), w, Open(p.GetValue(vectors)!).Neighbours(w, p.GetValue(top)));
                    return Task.FromResult(0);
                }
            )
        );
        return cmd;
    }

    static Command Analogy(CliContext ctx)
    {
        var vectors = VectorsOption();
        var words = new Option<string[]>("--words")
        {
            Description = "a b c for a : b :: c : ? (answered by b − a + c).",
            AllowMultipleArgumentsPerToken = true,
        };
        var file = new Option<string?>("--file")
        {
            Description = "Score a questions file instead ('a b c d' per line, ': section' headers).",
        };
        var top = new Option<int>("--top") { Description = "How many answers.", DefaultValueFactory = _ => 5 };
        var cmd = new Command("analogy", "a : b :: c : ? by the words nearest to b − a + c.");
        foreach (var o in new Option[] { vectors, words, file, top, CliApp.JsonOption })
            cmd.Options.Add(o);
        cmd.SetAction(
            CliApp.Guard(
                ctx,
                (p, _) =>
                {
                    if (p.GetValue(file) is string questions)
                    {
                        if (p.GetValue(words) is { Length: > 0 })
                            throw new SharpLMException("Give --words or --file, not both.");
                        var (correct, answered, skipped) = Open(p.GetValue(vectors)!).AnalogyAccuracy(questions);
                        double accuracy = answered == 0 ? 0 : (double)correct / answered;
                        if (p.GetValue(CliApp.JsonOption))
                            ctx.WriteJson(
                                new
                                {
                                    questions,
                                    correct,
                                    answered,
                                    skipped,
                                    accuracy,
                                }
                            );
                        else
                            ctx.Out.WriteLine(
                                $"{correct}/{answered} correct ({accuracy:P1}); {skipped} skipped (a word outside the vocabulary)"
                            );
                        return Task.FromResult(0);
                    }
                    var w = (p.GetValue(words) ?? []).Select(x => x.ToLowerInvariant()).ToArray();
                    if (w.Length != 3)
                        throw new SharpLMException("--words takes three words: a b c, for a : b :: c : ?.");
                    Print(ctx, p.GetValue(CliApp.JsonOption), w, Open(p.GetValue(vectors)!).Analogy(w[0], w[1], w[2], p.GetValue(top)));
                    return Task.FromResult(0);
                }
            )
        );
        return cmd;
    }
}
