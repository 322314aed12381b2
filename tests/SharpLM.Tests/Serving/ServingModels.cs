using SharpLM.Training;

namespace SharpLM.Tests;

/// <summary>Small runs the serving tests share, each trained once per test run.</summary>
public static class ServingModels
{
    /// <summary>A conversation in the plain chat template's words, so that chat requests work with a character vocabulary.</summary>
    public const string Text = "User: Call me Ishmael.\nAssistant: Some years ago, never mind how long precisely.\n";

    static readonly Lazy<Task<string>> Gpt = new(async () =>
    {
        string data = await TrainingTests.PreparedData(string.Concat(Enumerable.Repeat(Text, 80)));
        string run = Path.Combine(TestData.TempDir(), "gpt");
        var o = Tiny.Options with { MaxSteps = 800, LearningRate = 3e-3, EvalInterval = 400 };
        using (var task = Tiny.LanguageModel(data, o, Tiny.Shape with { Context = 128 }))
            Tiny.Train(task, run);
        return run;
    });

    static readonly Lazy<Task<string>> Mlm = new(async () =>
    {
        var (dir, _, tok) = await FineTuningCliTests.ToyCsvFiles();
        string data = Path.Combine(dir, "mlm-data");
        var prep = await Cli.Run(
            "prepare",
            "--input",
            Path.Combine(dir, "reviews.csv"),
            "--tokenizer",
            tok,
            "--output",
            data,
            "--val-fraction",
            "0.3"
        );
        Assert.True(prep.Code == 0, prep.Err);
        string run = Path.Combine(dir, "mlm");
        var train = await Cli.Run(
            "train",
            "--objective",
            "mlm",
            "--data",
            data,
            "--output",
            run,
            "--preset",
            "tiny",
            "--block-size",
            "16",
            "--max-steps",
            "40"
        );
        Assert.True(train.Code == 0, train.Err);
        return run;
    });

    /// <summary>A character-level GPT (context 128) that has learned <see cref="Text"/> by heart.</summary>
    public static Task<string> TrainedGpt() => Gpt.Value;

    static readonly Lazy<string> Long = new(() =>
    {
        // Random weights are enough where only speed and length matter: a 2,048-token context that takes seconds to fill.
        string run = Path.Combine(TestData.TempDir(), "long");
        Directory.CreateDirectory(run);
        // Printable ASCII and the newline (which the plain chat template writes).
        var tokenizer = Tokenization.CharTokenizer.FromTexts(["\n" + string.Concat(Enumerable.Range(32, 95).Select(c => (char)c))]);
        var config = new Models.GptConfig
        {
            VocabSize = tokenizer.VocabSize,
            NPositions = 2048,
            NEmbd = 64,
            NLayer = 2,
            NHead = 2,
        };
        TorchSharp.torch.manual_seed(5);
        using var gpt = new Models.Gpt(config);
        config.Save(Path.Combine(run, "config.json"));
        gpt.SaveWeights(Path.Combine(run, "model.safetensors"));
        tokenizer.Save(Path.Combine(run, "tokenizer.json"));
        return run;
    });

    /// <summary>An untrained GPT with a 2,048-token context (for long, slow generations).</summary>
    public static string LongContextGpt() => Long.Value;

    /// <summary>A masked-LM BERT trained on the toy reviews (for embeddings).</summary>
    public static Task<string> TrainedMlm() => Mlm.Value;

    /// <summary>A BERT classifier of the toy reviews (pos / neg).</summary>
    public static Task<string> TrainedClassifier() => FineTuningCliTests.TrainedToyClassifier();
}
