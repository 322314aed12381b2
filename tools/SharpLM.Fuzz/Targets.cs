using System.Buffers.Binary;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using SharpLM.Catalogue;
using SharpLM.Data;
using SharpLM.IO;
using SharpLM.Models;
using SharpLM.Tokenization;
using SharpLM.Training;
using TorchSharp;

namespace SharpLM.Fuzz;

/// <summary>How a target's inputs are mutated.</summary>
public enum InputKind
{
    Binary,
    Json,
    Lines,
    JsonLines,
    Safetensors,
    TarGz,
}

/// <summary>
/// One parser under test: valid seed files, how to mutate them, and what to do with a mutated file (load it, then use
/// what was loaded the way SharpLM would). The contract: return, or throw <see cref="SharpLMException"/>; nothing else.
/// </summary>
public sealed record FuzzTarget(string Name, string FileName, InputKind Kind, IReadOnlyList<byte[]> Seeds, Action<string> Run);

/// <summary>Every file format SharpLM reads, with seeds made by SharpLM's own writers.</summary>
public static class FuzzTargets
{
    public static readonly string[] Names =
    [
        "safetensors",
        "tokenizer.json",
        "config.json (GPT)",
        "config.json (BERT)",
        "training.json",
        "state.json",
        "token shard",
        "labelled CSV",
        "labelled JSONL",
        "tar.gz",
    ];

    public static IReadOnlyList<FuzzTarget> Create(string workDir)
    {
        Directory.CreateDirectory(workDir);
        Runtime.TorchRuntime.EnsureLoaded();
        return
        [
            Safetensors(workDir),
            Tokenizer(),
            GptConfigTarget(),
            BertConfigTarget(),
            TrainingJson(),
            StateJson(),
            Shard(),
            Csv(),
            Jsonl(),
            TarGz(workDir),
        ];
    }

    static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    static readonly GptConfig TinyGpt = new()
    {
        VocabSize = 40,
        NPositions = 8,
        NEmbd = 8,
        NLayer = 1,
        NHead = 2,
    };

    static FuzzTarget Safetensors(string workDir)
    {
        torch.manual_seed(1);
        var model = new Gpt(TinyGpt);
        string weights = Path.Combine(workDir, "seed-model.safetensors");
        model.SaveWeights(weights);
        using var optimizer = new TrainingOptimizer(model, new TrainOptions());
        string state = Path.Combine(workDir, "seed-optimizer.safetensors");
        optimizer.Save(state);
        return new FuzzTarget(
            "safetensors",
            "model.safetensors",
            InputKind.Safetensors,
            [File.ReadAllBytes(weights), File.ReadAllBytes(state)],
            path =>
            {
                var file = IO.Safetensors.File.Open(path);
                foreach (var (name, e) in file.Entries)
                    if (e.End - e.Begin <= 1 << 20)
                        file.Read(name).Dispose();
                model.LoadWeights(path); // the GPT-2 name and orientation mapping, shape checks before reading
            }
        );
    }

    static FuzzTarget Tokenizer()
    {
        string text = string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog; naïve café, 123 — ", 20));
        var bpe = TokenizerTrainer.TrainBpe([text], new TokenizerTrainingOptions { VocabSize = 300, SpecialTokens = ["<|endoftext|>"] });
        var wordPiece = TokenizerTrainer.TrainWordPiece([text], new TokenizerTrainingOptions { VocabSize = 120 });
        var chars = CharTokenizer.FromTexts([text]);
        var split = new ByteLevelBpeTokenizer(
            bpe.Model,
            new RegexSplitPreTokenizer(@"\s?\p{L}+|\s?\p{N}{1,3}|\s+(?!\S)|\s+|[^\s\p{L}\p{N}]+", true, "Isolated"),
            bpe.AddedTokens,
            new UnicodeNormalizer(NormalizationForm.FormC)
        );
        byte[][] seeds =
        [
            .. new Tokenization.Tokenizer[] { bpe, wordPiece, chars, split }.Select(t => Utf8(TokenizerJson.ToJson(t).ToJsonString())),
        ];
        string[] texts =
        [
            "",
            "Hello, world! It's 2026.",
            "naïve café — 東京 👍🏽",
            "\ud800 lone",
            "<|endoftext|>x<|endoftext|>",
            new string('a', 2000),
            string.Concat(Enumerable.Repeat("ab ", 500)),
        ];
        return new FuzzTarget(
            "tokenizer.json",
            "tokenizer.json",
            InputKind.Json,
            seeds,
            path =>
            {
                var tokenizer = TokenizerJson.Load(path);
                foreach (var t in texts)
                foreach (bool special in new[] { false, true })
                {
                    var ids = tokenizer.Encode(t, special);
                    tokenizer.Decode(ids);
                }
                for (int id = 0; id < Math.Min(tokenizer.VocabSize, 400); id++)
                {
                    tokenizer.TokenText(id);
                    tokenizer.TokenByteCount(id);
                }
            }
        );
    }

    static FuzzTarget GptConfigTarget() =>
        new(
            "config.json (GPT)",
            "config.json",
            InputKind.Json,
            [
                Utf8(JsonSerializer.Serialize(TinyGpt, IO.Json.Indented)),
                Utf8(
                    JsonSerializer.Serialize(
                        TinyGpt with
                        {
                            Labels = ["ham", "spam"],
                            NInner = 12,
                            ActivationFunction = "gelu",
                        },
                        IO.Json.Indented
                    )
                ),
            ],
            path =>
            {
                var config = GptConfig.Load(path);
                if (config.ParameterCount <= 200_000)
                    new Gpt(config).Dispose();
            }
        );

    static FuzzTarget BertConfigTarget()
    {
        var tiny = new BertConfig
        {
            VocabSize = 40,
            HiddenSize = 8,
            NumHiddenLayers = 1,
            NumAttentionHeads = 2,
            IntermediateSize = 16,
            MaxPositionEmbeddings = 8,
        };
        return new(
            "config.json (BERT)",
            "config.json",
            InputKind.Json,
            [
                Utf8(JsonSerializer.Serialize(tiny, IO.Json.Indented)),
                Utf8(JsonSerializer.Serialize(tiny with { Labels = ["a", "b", "c"] }, IO.Json.Indented)),
            ],
            path =>
            {
                var config = BertConfig.Load(path);
                if (
                    (double)config.VocabSize * config.HiddenSize
                        + (double)config.NumHiddenLayers * config.HiddenSize * (4.0 * config.HiddenSize + 2 * config.IntermediateSize)
                    <= 200_000
                )
                    new BertForMaskedLm(config).Dispose();
            }
        );
    }

    static FuzzTarget TrainingJson()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"sharplm-fuzz-seed-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        var seeds = TrainingPreset
            .All.Values.Select(preset =>
            {
                string p = Path.Combine(dir, "training.json");
                preset.Training.Save(p);
                return File.ReadAllBytes(p);
            })
            .ToArray();
        Directory.Delete(dir, true);
        return new("training.json", "training.json", InputKind.Json, seeds, path => TrainOptions.Load(path));
    }

    static FuzzTarget StateJson()
    {
        var state = new CheckpointState
        {
            Step = 250,
            BestValLoss = 1.84,
            BestStep = 250,
            Tokens = 192000,
            Seconds = 12.5,
            History = [new HistoryPoint(0, null, 4.4, 1e-5), new HistoryPoint(10, 3.9, null, 1e-4), new HistoryPoint(250, 1.9, 1.84, 9e-4)],
        };
        return new(
            "state.json",
            "state.json",
            InputKind.Json,
            [Utf8(JsonSerializer.Serialize(state, IO.Json.Indented))],
            path =>
            {
                var s = CheckpointState.Load(path);
                JsonSerializer.Serialize(s, IO.Json.Indented); // what the trainer does with it next
            }
        );
    }

    static FuzzTarget Shard()
    {
        byte[] Seed(int vocab, int count)
        {
            string p = Path.Combine(Path.GetTempPath(), $"sharplm-fuzz-{Guid.NewGuid():N}.bin");
            using (var w = new TokenShardWriter(p, vocab))
            {
                w.Write(Enumerable.Range(0, count).Select(i => i * 7 % Math.Min(vocab, 64)).ToArray());
                w.Complete();
            }
            var bytes = File.ReadAllBytes(p);
            File.Delete(p);
            return bytes;
        }
        return new(
            "token shard",
            "train_000000.bin",
            InputKind.Binary,
            [Seed(64, 200), Seed(70000, 100)],
            path =>
            {
                using var data = TokenDataset.Open(Path.GetDirectoryName(path)!, "train", vocabSize: 64);
                var buffer = new int[Math.Min(data.Count, 1 << 16)];
                for (long start = 0; start + buffer.Length <= data.Count && start < 1 << 20; start += buffer.Length)
                    data.Read(start, buffer);
            }
        );
    }

    static FuzzTarget Csv() =>
        new(
            "labelled CSV",
            "data.csv",
            InputKind.Lines,
            [
                Utf8("text,label\n\"a good film\",pos\n\"a bad, bad film\",neg\nmeh,neg\n\"he said \"\"wow\"\"\",pos\n"),
                Utf8("label,text,extra\npos,yes,1\nneg,no,2\n"),
            ],
            path => LabelledDataset.Load(path)
        );

    static FuzzTarget Jsonl() =>
        new(
            "labelled JSONL",
            "data.jsonl",
            InputKind.JsonLines,
            [Utf8("{\"text\":\"a good film\",\"label\":\"pos\"}\n{\"text\":\"bad\",\"label\":\"neg\"}\n{\"text\":\"fine\",\"label\":1}\n")],
            path => LabelledDataset.Load(path)
        );

    static FuzzTarget TarGz(string workDir)
    {
        var entry = new CatalogEntry(
            "fuzz",
            "fuzz",
            "1.0.0",
            "sha512-",
            ["data/*.txt", "data/sub/**"],
            "fuzz",
            "none",
            DocumentLayout.TextFiles
        );
        byte[] Tgz(params (string Name, string Content)[] files)
        {
            var ms = new MemoryStream();
            using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
            using (var tar = new TarWriter(gz, TarEntryFormat.Pax))
                foreach (var (name, content) in files)
                    tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Utf8(content)) });
            return ms.ToArray();
        }
        int n = 0;
        return new(
            "tar.gz",
            "package.tgz",
            InputKind.TarGz,
            [
                Tgz(
                    ("package/data/a.txt", "Call me Ishmael."),
                    ("package/README.md", "readme"),
                    ("package/data/sub/b.txt", "Some years ago")
                ),
                Tgz(("package/data/x.txt", new string('x', 3000))),
            ],
            path =>
            {
                string target = Path.Combine(workDir, $"extract-{n++ % 4}");
                if (Directory.Exists(target))
                    Directory.Delete(target, recursive: true);
                Directory.CreateDirectory(target);
                DataCatalogClient.ExtractAsync(entry, path, target).GetAwaiter().GetResult();
            }
        );
    }

    /// <summary>Mutates one input of <paramref name="target"/>.</summary>
    public static byte[] Mutate(FuzzTarget target, Mutator m)
    {
        var seed = target.Seeds[m.Next(target.Seeds.Count)];
        return target.Kind switch
        {
            InputKind.Json => m.MutateJson(seed),
            InputKind.Lines => m.MutateLines(seed, jsonLines: false),
            InputKind.JsonLines => m.MutateLines(seed, jsonLines: true),
            InputKind.Safetensors => MutateSafetensors(seed, m, target.Seeds),
            InputKind.TarGz => MutateTarGz(seed, m),
            _ => m.Havoc(seed, target.Seeds),
        };
    }

    /// <summary>
    /// Mostly the header's JSON, re-framed with a correct length so the mutation reaches the validation; sometimes raw bytes.
    /// </summary>
    static byte[] MutateSafetensors(byte[] seed, Mutator m, IReadOnlyList<byte[]> seeds)
    {
        if (m.Chance(0.25))
            return m.Havoc(seed, seeds);
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(seed);
        byte[] header = m.MutateJson(seed[8..(8 + headerLength)]);
        byte[] data = seed[(8 + headerLength)..];
        if (m.Chance(0.2))
            data = m.Havoc(data);
        var result = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(result, m.Chance(0.9) ? (ulong)header.Length : (ulong)m.Next(int.MaxValue));
        header.CopyTo(result, 8);
        data.CopyTo(result, 8 + header.Length);
        return result;
    }

    /// <summary>
    /// Mostly the tar stream inside the gzip (headers, sizes, names, type flags), re-compressed; sometimes the gzip bytes.
    /// </summary>
    static byte[] MutateTarGz(byte[] seed, Mutator m)
    {
        if (m.Chance(0.25))
            return m.Havoc(seed);
        using var input = new GZipStream(new MemoryStream(seed), CompressionMode.Decompress);
        var tar = new MemoryStream();
        input.CopyTo(tar);
        byte[] bytes = tar.ToArray();
        if (m.Chance(0.5) && bytes.Length >= 512)
        {
            // Aim at a header field: name (0-99), size (124-135), checksum (148-155), type flag (156), or a PAX record.
            int block = 512 * m.Next(bytes.Length / 512);
            int[] fields = [0, 124, 130, 148, 156, 257, 345];
            int at = block + fields[m.Next(fields.Length)];
            if (at < bytes.Length)
                bytes[at] = (byte)"0123456789xL\0 /.gK5"[m.Next(19)];
        }
        else
            bytes = m.Havoc(bytes);
        var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
            gz.Write(bytes);
        return output.ToArray();
    }
}
