using SharpLM.IO;
using SharpLM.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Tests;

[Collection(TorchCollection.Name)]
public class GptTests
{
    static readonly GptConfig Small = new GptConfig
    {
        VocabSize = 50,
        NPositions = 16,
        NEmbd = 32,
        NLayer = 2,
        NHead = 4,
    }.WithDropout(0);

    /// <summary>Bit-for-bit equality of shape and values.</summary>
    public static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.eq(b).all().item<bool>();

    static Gpt NewModel(GptConfig? config = null, long seed = 1)
    {
        Runtime.TorchRuntime.EnsureLoaded();
        torch.manual_seed(seed);
        var m = new Gpt(config ?? Small);
        m.eval();
        return m;
    }

    [Fact]
    public void ForwardShapesAndTiedHead()
    {
        using var m = NewModel();
        using var scope = NewDisposeScope();
        var logits = m.forward(randint(0, 50, [3, 10]));
        Assert.Equal(new long[] { 3, 10, 50 }, logits.shape);
        Assert.Equal(Small.ParameterCount, m.ParameterCount);
        // The LM head is the token embedding: no separate lm_head parameter.
        Assert.DoesNotContain(m.named_parameters(), p => p.name.Contains("lm_head"));
        Assert.Equal(new long[] { 3, 1, 50 }, m.Forward(randint(0, 50, [3, 10]), lastOnly: true).shape);
    }

    [Fact]
    public void FutureTokensCannotChangePastLogits()
    {
        using var m = NewModel();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var a = randint(0, 50, [2, 12]);
        var b = a.clone();
        b[.., 7..] = randint(0, 50, [2, 5]);
        var la = m.forward(a);
        var lb = m.forward(b);
        Assert.True(la[.., ..7].allclose(lb[.., ..7], rtol: 0, atol: 1e-6));
        Assert.False(la[.., 7..].allclose(lb[.., 7..], rtol: 0, atol: 1e-4));
    }

    [Fact]
    public void InitialisationFollowsGpt2()
    {
        var config = new GptConfig
        {
            VocabSize = 500,
            NPositions = 64,
            NEmbd = 256,
            NLayer = 8,
            NHead = 4,
        };
        using var m = NewModel(config);
        var p = m.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        Assert.Equal(0.02, p["wte.weight"].std().item<float>(), 0.001);
        Assert.Equal(0.02, p["h.0.attn.c_attn.weight"].std().item<float>(), 0.001);
        Assert.Equal(0.02 / Math.Sqrt(16), p["h.3.attn.c_proj.weight"].std().item<float>(), 0.0005);
        Assert.Equal(0.02 / Math.Sqrt(16), p["h.7.mlp.c_proj.weight"].std().item<float>(), 0.0005);
        Assert.Equal(0, p["h.0.mlp.c_fc.bias"].abs().sum().item<float>());
        Assert.Equal(1, p["ln_f.weight"].mean().item<float>());
    }

    [Fact]
    public void SameSeedSameWeights()
    {
        using var a = NewModel(seed: 5);
        using var b = NewModel(seed: 5);
        using var c = NewModel(seed: 6);
        Assert.True(a.parameters().Zip(b.parameters()).All(x => Same(x.First, x.Second)));
        Assert.False(a.parameters().Zip(c.parameters()).All(x => Same(x.First, x.Second)));
    }

    [Theory]
    [InlineData("{\"n_embd\": 100, \"n_head\": 3}", "divisible by n_head")]
    [InlineData("{\"n_layer\": 0}", "n_layer must be a positive integer")]
    [InlineData("{\"resid_pdrop\": 1.5}", "resid_pdrop must be in [0, 1)")]
    [InlineData("{\"activation_function\": \"mish\"}", "activation_function 'mish' is not supported")]
    [InlineData("{\"n_layer\": \"four\"}", "not valid JSON")]
    [InlineData("{\"n_layer\": 2", "not valid JSON")]
    public void BadConfigIsRejectedWithAClearMessage(string json, string expected)
    {
        string path = Path.Combine(TestData.TempDir(), "config.json");
        File.WriteAllText(path, json);
        var e = Assert.Throws<SharpLMException>(() => GptConfig.Load(path));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void ConfigRoundTripsWithHuggingFaceNames()
    {
        string path = Path.Combine(TestData.TempDir(), "config.json");
        Small.Save(path);
        string text = File.ReadAllText(path);
        foreach (
            var field in new[]
            {
                "\"n_layer\": 2",
                "\"n_head\": 4",
                "\"n_embd\": 32",
                "\"n_positions\": 16",
                "\"vocab_size\": 50",
                "\"model_type\": \"gpt2\"",
                "\"resid_pdrop\": 0",
            }
        )
            Assert.Contains(field, text);
        Assert.Equal(Small with { Architectures = Small.Architectures }, GptConfig.Load(path) with { Architectures = Small.Architectures });
    }

    [Fact]
    public void WeightsRoundTripThroughSafetensorsInHuggingFaceLayout()
    {
        string path = Path.Combine(TestData.TempDir(), "model.safetensors");
        using var a = NewModel(seed: 1);
        a.SaveWeights(path);
        var file = Safetensors.File.Open(path);
        Assert.Equal(new long[] { 32, 96 }, file.Entries["transformer.h.0.attn.c_attn.weight"].Shape); // Conv1D: [in, out]
        Assert.Equal(new long[] { 50, 32 }, file.Entries["transformer.wte.weight"].Shape);
        Assert.Equal("pt", file.Metadata["format"]);
        using var b = NewModel(seed: 2);
        b.LoadWeights(path);
        using var scope = NewDisposeScope();
        var x = randint(0, 50, [2, 9]);
        Assert.True(Same(a.forward(x), b.forward(x)));
    }

    [Fact]
    public void TruncatedOrCorruptWeightsGiveAClearError()
    {
        string dir = TestData.TempDir();
        string path = Path.Combine(dir, "model.safetensors");
        using var a = NewModel();
        a.SaveWeights(path);
        byte[] bytes = File.ReadAllBytes(path);

        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<SharpLMException>(() => a.LoadWeights(path));
        Assert.Contains("not a valid safetensors file", e.Message);

        File.WriteAllBytes(path, bytes[..5]);
        Assert.Contains("not a valid safetensors file", Assert.Throws<SharpLMException>(() => a.LoadWeights(path)).Message);

        var corrupt = (byte[])bytes.Clone();
        corrupt[10] = (byte)'#'; // inside the JSON header
        File.WriteAllBytes(path, corrupt);
        Assert.Contains("not a valid safetensors file", Assert.Throws<SharpLMException>(() => a.LoadWeights(path)).Message);

        File.WriteAllBytes(path, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 1, 2, 3]);
        Assert.Contains("header length", Assert.Throws<SharpLMException>(() => a.LoadWeights(path)).Message);

        // A well-formed file for a different shape is refused by name, not by a crash.
        using var other = NewModel(Small with { NEmbd = 16 });
        other.SaveWeights(path);
        Assert.Contains("shape", Assert.Throws<SharpLMException>(() => a.LoadWeights(path)).Message);

        Assert.Contains(
            "does not exist",
            Assert.Throws<SharpLMException>(() => a.LoadWeights(Path.Combine(dir, "missing.safetensors"))).Message
        );
    }

    [Fact]
    public void SafetensorsKeepsDtypesShapesAndMetadata()
    {
        string path = Path.Combine(TestData.TempDir(), "t.safetensors");
        using var scope = NewDisposeScope();
        var f = randn(3, 4);
        var l = tensor(new long[] { 1, -2, 3 });
        var scalar = tensor(2.5f);
        Safetensors.Save(path, [("f", f), ("l", l), ("s", scalar)], new Dictionary<string, string> { ["k"] = "v" });
        var file = Safetensors.File.Open(path);
        Assert.True(Same(file.Read("f"), f));
        Assert.True(Same(file.Read("l"), l));
        Assert.Equal(Array.Empty<long>(), file.Read("s").shape);
        Assert.Equal("v", file.Metadata["k"]);
        Assert.Equal(0, (8 + BitConverter.ToInt64(File.ReadAllBytes(path), 0)) % 8); // data starts 8-byte aligned
        Assert.Contains("has no tensor 'x'", Assert.Throws<SharpLMException>(() => file.Read("x")).Message);
    }
}
