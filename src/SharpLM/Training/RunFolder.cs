using SharpLM.Models;
using SharpLM.Tokenization;

namespace SharpLM.Training;

/// <summary>
/// The files of a training run. The root is a Hugging Face-style model folder (config.json,
/// model.safetensors = best weights by validation loss, tokenizer.json); checkpoint/ holds the latest
/// state for --resume; logs/ holds TensorBoard events; loss.png the curves.
/// </summary>
public sealed class RunFolder(string path)
{
    public string Path { get; } = System.IO.Path.GetFullPath(path);
    public string Config => System.IO.Path.Combine(Path, "config.json");
    public string Weights => System.IO.Path.Combine(Path, "model.safetensors");
    public string Tokenizer => System.IO.Path.Combine(Path, "tokenizer.json");
    public string Training => System.IO.Path.Combine(Path, "training.json");
    public string Data => System.IO.Path.Combine(Path, "data.txt");
    public string Checkpoint => System.IO.Path.Combine(Path, "checkpoint");
    public string Logs => System.IO.Path.Combine(Path, "logs");
    public string Plot => System.IO.Path.Combine(Path, "loss.png");
    public string Metrics => System.IO.Path.Combine(Path, "metrics.json");

    public bool HasCheckpoint => File.Exists(System.IO.Path.Combine(Checkpoint, CheckpointState.FileName));

    /// <summary>The lock this object holds on the folder (see <see cref="Lock"/>), or null.</summary>
    public IO.FolderLock? HeldLock { get; private set; }

    /// <summary>
    /// Claims the folder for writing (creating it, or refusing a folder of someone else's files) and takes its exclusive
    /// lock for <paramref name="activity"/>, until the returned object is disposed; a second process is refused.
    /// </summary>
    public IDisposable Lock(string activity)
    {
        if (HeldLock is not null) throw new InvalidOperationException($"{Path} is already locked by this RunFolder.");
        IO.OutputFolder.Claim(Path, IO.FolderKind.Run);
        HeldLock = IO.FolderLock.Acquire(Path, activity);
        return new Release(this);
    }

    /// <summary>
    /// Deletes what an earlier run left in the folder (keeping only the marker and the lock), to start over in place.
    /// Needs the lock, and refuses a folder with anything SharpLM did not write.
    /// </summary>
    public void Clear()
    {
        if (HeldLock is null) throw new InvalidOperationException("Lock the run folder before clearing it.");
        IO.OutputFolder.Inspect(Path, IO.FolderKind.Run);
        foreach (var entry in new DirectoryInfo(Path).EnumerateFileSystemInfos())
        {
            if (entry.Name is IO.OutputFolder.MarkerFile or IO.FolderLock.FileName) continue;
            if (entry is DirectoryInfo d) d.Delete(recursive: true); else entry.Delete();
        }
    }

    sealed class Release(RunFolder run) : IDisposable
    {
        public void Dispose()
        {
            run.HeldLock?.Dispose();
            run.HeldLock = null;
        }
    }

    /// <summary>The data folder the run was trained on (recorded in data.txt), unless <paramref name="overrideDir"/> is given.</summary>
    public string DataDir(string? overrideDir = null) =>
        overrideDir ?? (File.Exists(Data) ? File.ReadAllText(Data).Trim() : throw new SharpLMException($"{Path} does not record its data folder; pass --data."));

    /// <summary>If a crash hit between the two renames of a checkpoint swap, puts the previous checkpoint back.</summary>
    public void RecoverInterruptedCheckpointSwap()
    {
        string old = Checkpoint + ".old";
        if (!Directory.Exists(Checkpoint) && File.Exists(System.IO.Path.Combine(old, CheckpointState.FileName))) Directory.Move(old, Checkpoint);
    }

    /// <summary>The config's model_type ("gpt2" or "bert"), so commands can tell which model a run holds.</summary>
    public string ModelType()
    {
        if (!Directory.Exists(Path)) throw new SharpLMException($"Run folder {Path} does not exist; train one with 'sharplm train' or 'sharplm finetune'.");
        if (!File.Exists(Config)) throw new SharpLMException($"{Path} has no config.json; point --model at a run folder written by 'sharplm train' or 'sharplm finetune'.");
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Config));
            return doc.RootElement.TryGetProperty("model_type", out var t) ? t.GetString() ?? "" : "";
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new SharpLMException($"Model config {Config} is not valid JSON ({e.Message.Split('.')[0]}); fix or recreate it.");
        }
    }

    /// <summary>Whether the config names class labels (a fine-tuned classifier); false for a missing or broken config, which loading reports.</summary>
    public bool IsClassifier()
    {
        if (!File.Exists(Config)) return false;
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Config));
            return doc.RootElement.TryGetProperty("labels", out var l) && l.ValueKind == System.Text.Json.JsonValueKind.Array;
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    /// <summary>Loads a fine-tuned classifier (BERT or GPT; best weights) and its tokenizer.</summary>
    public (ISequenceClassifier Model, Tokenizer Tokenizer) LoadClassifier()
    {
        RequireWeights();
        string type = ModelType();
        string noHead = $"{Path} holds a {type} language model without a classification head; fine-tune it with 'sharplm finetune --task classify --from {Path} ...'.";
        ISequenceClassifier model;
        if (type == "bert")
        {
            var config = BertConfig.Load(Config);
            if (config.Labels is not { Length: >= 2 }) throw new SharpLMException(noHead);
            model = new BertClassifier(config);
        }
        else if (type == "gpt2")
        {
            var config = GptConfig.Load(Config);
            if (config.Labels is not { Length: >= 2 }) throw new SharpLMException(noHead);
            model = new GptClassifier(config);
        }
        else throw new SharpLMException($"{Path} holds a '{type}' model; classification needs a run from 'sharplm finetune --task classify'.");
        try
        {
            var tokenizer = TokenizerJson.Load(Tokenizer);
            model.LoadWeights(Weights);
            model.Module.eval();
            return (model, tokenizer);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Loads a masked-LM BERT (best weights) and its tokenizer.</summary>
    public (BertForMaskedLm Model, Tokenizer Tokenizer) LoadBertMlm()
    {
        RequireWeights();
        var config = BertConfig.Load(Config);
        var tokenizer = TokenizerJson.Load(Tokenizer);
        var model = new BertForMaskedLm(config);
        IO.ModuleWeights.Load(model, Weights);
        model.eval();
        return (model, tokenizer);
    }

    void RequireWeights()
    {
        if (!Directory.Exists(Path)) throw new SharpLMException($"Run folder {Path} does not exist; train one first.");
        if (!File.Exists(Weights)) throw new SharpLMException($"{Path} has no model.safetensors; the run has not finished its first evaluation yet, or it is not a run folder.");
    }

    /// <summary>Loads the model (best weights) and its tokenizer, with a clear error for anything missing or corrupt.</summary>
    public (Gpt Model, Tokenizer Tokenizer) LoadGpt()
    {
        if (!Directory.Exists(Path)) throw new SharpLMException($"Run folder {Path} does not exist; train one with 'sharplm train --data DIR --output {Path}'.");
        if (!File.Exists(Weights)) throw new SharpLMException($"{Path} has no model.safetensors; the run has not finished its first evaluation yet, or it is not a run folder.");
        var config = GptConfig.Load(Config);
        var tokenizer = TokenizerJson.Load(Tokenizer);
        if (tokenizer.VocabSize > config.VocabSize)
            throw new SharpLMException($"{Tokenizer} has {tokenizer.VocabSize} tokens but the model only {config.VocabSize}; the files come from different runs.");
        var model = new Gpt(config);
        model.LoadWeights(Weights);
        model.eval();
        return (model, tokenizer);
    }
}
