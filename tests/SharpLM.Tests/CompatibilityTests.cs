using System.Text.Json.Nodes;
using SharpLM.Cli;
using SharpLM.IO;

namespace SharpLM.Tests;

/// <summary>
/// Run folders written before the library redesign (model shape in training.json, no marker, no max_input_tokens) still load, evaluate and
/// resume.
/// </summary>
[Collection(TorchCollection.Name)]
public class CompatibilityTests
{
    static Task<(int Code, string Out, string Err)> Run(params string[] args) => Cli.Run(args);

    [Fact]
    public async Task AnOldLanguageModelRunEvaluatesGeneratesAndResumes()
    {
        string data = await TrainingTests.PreparedData(string.Concat(Enumerable.Repeat("to be or not to be. ", 100)));
        string run = Path.Combine(TestData.TempDir(), "run");
        Assert.Equal(
            0,
            (
                await Run(
                    "train",
                    "--data",
                    data,
                    "--output",
                    run,
                    "--preset",
                    "tiny",
                    "--max-steps",
                    "10",
                    "--eval-interval",
                    "5",
                    "--json"
                )
            ).Code
        );
        // As the previous version wrote it: the shape and the objective in training.json, and no .sharplm marker.
        var training = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "training.json")))!.AsObject();
        foreach (
            var (k, v) in new Dictionary<string, JsonNode>
            {
                ["objective"] = "lm",
                ["n_layer"] = 2,
                ["n_head"] = 2,
                ["n_embd"] = 32,
                ["block_size"] = 32,
                ["dropout"] = 0.0,
            }
        )
            training[k] = v;
        File.WriteAllText(Path.Combine(run, "training.json"), training.ToJsonString());
        File.Delete(Path.Combine(run, ".sharplm"));

        Assert.Equal(0, (await Run("eval", "--model", run, "--json")).Code);
        Assert.Equal(0, (await Run("generate", "--model", run, "--prompt", "to", "--max-new-tokens", "5")).Code);
        var resumed = await Run("train", "--output", run, "--resume", "--max-steps", "15", "--json");
        Assert.True(resumed.Code == 0, resumed.Err);
        Assert.Equal("run", OutputFolder.MarkerKind(run)); // claimed on the way (it carried the old marker, training.json)
    }

    [Fact]
    public async Task AnOldClassifierCutsTextsWhereItWasFineTuned()
    {
        string run = Path.Combine(TestData.TempDir(), "clf");
        CopyDirectory(await FineTuningCliTests.TrainedToyClassifier(), run);
        using (var current = TextClassificationPipeline.Load(run))
            Assert.Equal(16, current.MaxInputTokens);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "config.json")))!.AsObject();
        config.Remove("max_input_tokens");
        File.WriteAllText(Path.Combine(run, "config.json"), config.ToJsonString());
        var training = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "training.json")))!.AsObject();
        training["block_size"] = 8;
        File.WriteAllText(Path.Combine(run, "training.json"), training.ToJsonString());
        using var old = TextClassificationPipeline.Load(run);
        Assert.Equal(8, old.MaxInputTokens);
        Assert.Equal("pos", old.Classify("the food was superb").Label);
    }

    static void CopyDirectory(string from, string to)
    {
        foreach (var dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(dir.Replace(from, to));
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
            if (Path.GetFileName(file) != ".lock")
                File.Copy(file, file.Replace(from, to));
    }
}
