using SharpLM.Data;
using SharpLM.Models;
using SharpLM.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Tests;

[Collection(TorchCollection.Name)]
public class BertTests
{
    static readonly BertConfig Small = new()
    {
        VocabSize = 60,
        HiddenSize = 32,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        IntermediateSize = 64,
        MaxPositionEmbeddings = 32,
        HiddenDropoutProb = 0,
        AttentionProbsDropoutProb = 0,
    };

    static BertForMaskedLm NewMlm(long seed = 1)
    {
        Runtime.TorchRuntime.EnsureLoaded();
        torch.manual_seed(seed);
        var m = new BertForMaskedLm(Small);
        m.eval();
        return m;
    }

    [Fact]
    public void ParameterNamesMatchHuggingFaceBert()
    {
        using var m = NewMlm();
        var names = m.named_parameters().Select(p => p.name).ToHashSet();
        foreach (
            var expected in new[]
            {
                "bert.embeddings.word_embeddings.weight",
                "bert.embeddings.position_embeddings.weight",
                "bert.embeddings.token_type_embeddings.weight",
                "bert.embeddings.LayerNorm.weight",
                "bert.encoder.layer.0.attention.self.query.weight",
                "bert.encoder.layer.1.attention.self.value.bias",
                "bert.encoder.layer.0.attention.output.dense.weight",
                "bert.encoder.layer.0.attention.output.LayerNorm.bias",
                "bert.encoder.layer.1.intermediate.dense.weight",
                "bert.encoder.layer.1.output.dense.weight",
                "bert.encoder.layer.1.output.LayerNorm.weight",
                "bert.pooler.dense.weight",
                "cls.predictions.bias",
                "cls.predictions.transform.dense.weight",
                "cls.predictions.transform.LayerNorm.weight",
            }
        )
            Assert.Contains(expected, names);
        // The decoder is tied to the word embeddings: no second copy.
        Assert.Equal(1, m.named_parameters().Count(p => p.parameter.shape.SequenceEqual(new long[] { 60, 32 })));
        using var classifier = new BertClassifier(Small with { Labels = ["ham", "spam"] });
        Assert.Contains("classifier.weight", classifier.named_parameters().Select(p => p.name));
        Assert.Contains("bert.pooler.dense.weight", classifier.named_parameters().Select(p => p.name));
    }

    [Fact]
    public void PaddingNeverChangesTheLogitsOfRealTokens()
    {
        using var m = NewMlm();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = tensor(new long[] { 2, 17, 33, 8, 3 }, [1, 5]);
        var alone = m.forward(ids, ones(1, 5, ScalarType.Bool));
        // Same sequence padded to 9 with [PAD] = 0, next to a longer one in the batch.
        var padded = tensor(new long[] { 2, 17, 33, 8, 3, 0, 0, 0, 0, 2, 5, 6, 7, 9, 11, 12, 13, 3 }, [2, 9]);
        var attend = tensor(
            new[] { true, true, true, true, true, false, false, false, false, true, true, true, true, true, true, true, true, true },
            [2, 9]
        );
        var batched = m.forward(padded, attend);
        Assert.True(alone[0].allclose(batched[0, ..5], rtol: 1e-5, atol: 1e-5));
        // Without the mask the padding would leak in:
        var leaky = m.forward(padded, ones(2, 9, ScalarType.Bool));
        Assert.False(alone[0].allclose(leaky[0, ..5], rtol: 1e-3, atol: 1e-3));
    }

    [Fact]
    public void AttentionIsBidirectional()
    {
        using var m = NewMlm();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var a = tensor(new long[] { 2, 10, 11, 12, 3 }, [1, 5]);
        var b = tensor(new long[] { 2, 10, 11, 40, 3 }, [1, 5]);
        var all = ones(1, 5, ScalarType.Bool);
        // a later token changes an earlier one
        Assert.False(m.forward(a, all)[0, 1].allclose(m.forward(b, all)[0, 1], rtol: 1e-4, atol: 1e-4));
    }

    [Fact]
    public void MaskingSelectsFifteenPercentSplitEightyTenTen()
    {
        var specials = new HashSet<int> { 0, 1, 2, 3, 4 };
        var masking = new MlmMasking(maskId: 4, vocabSize: 1000, specials);
        var rng = new Random(5);
        int n = 200_000;
        var original = Enumerable.Range(0, n).Select(i => i % 50 == 0 ? 2L : rng.Next(5, 1000)).ToArray(); // some [CLS]
        var attend = Enumerable.Range(0, n).Select(i => i % 10 != 9).ToArray(); // 10% padding
        var ids = (long[])original.Clone();
        var labels = masking.Apply(ids, attend, 42);
        var eligible = Enumerable.Range(0, n).Where(i => attend[i] && original[i] != 2).ToArray();
        var selected = Enumerable.Range(0, n).Where(i => labels[i] != MlmMasking.Ignore).ToArray();
        Assert.All(selected, i => Assert.True(attend[i] && original[i] != 2)); // never padding or special tokens
        Assert.All(selected, i => Assert.Equal(original[i], labels[i]));
        Assert.Equal(0.15, (double)selected.Length / eligible.Length, 0.005);
        double masked = selected.Count(i => ids[i] == 4) / (double)selected.Length;
        double unchanged = selected.Count(i => ids[i] == original[i]) / (double)selected.Length;
        double replaced = 1 - masked - unchanged;
        Assert.Equal(0.8, masked, 0.01);
        Assert.Equal(0.1, unchanged, 0.01);
        Assert.Equal(0.1, replaced, 0.01);
        Assert.All(selected.Where(i => ids[i] != 4), i => Assert.DoesNotContain((int)ids[i], specials));
        Assert.All(Enumerable.Range(0, n).Where(i => labels[i] == MlmMasking.Ignore), i => Assert.Equal(original[i], ids[i]));
        var again = (long[])original.Clone();
        Assert.Equal(labels, masking.Apply(again, attend, 42));
        Assert.Equal(ids, again);
    }

    [Fact]
    public void BadBertConfigIsRejected()
    {
        Assert.Contains("divisible", Assert.Throws<SharpLMException>(() => (Small with { NumAttentionHeads = 5 }).Validate()).Message);
        Assert.Contains("hidden_act 'mish'", Assert.Throws<SharpLMException>(() => (Small with { HiddenAct = "mish" }).Validate()).Message);
        Assert.Contains("at least two labels", Assert.Throws<SharpLMException>(() => (Small with { Labels = ["x"] }).Validate()).Message);
    }
}

[Collection(TorchCollection.Name)]
public class BertSelectedHeadTests
{
    [Fact]
    public void LogitsAtSelectedPositionsEqualTheFullOutputThere()
    {
        Runtime.TorchRuntime.EnsureLoaded();
        torch.manual_seed(3);
        using var m = new SharpLM.Models.BertForMaskedLm(
            new SharpLM.Models.BertConfig
            {
                VocabSize = 40,
                HiddenSize = 16,
                NumHiddenLayers = 1,
                NumAttentionHeads = 2,
                IntermediateSize = 32,
                MaxPositionEmbeddings = 8,
                HiddenDropoutProb = 0,
                AttentionProbsDropoutProb = 0,
            }
        );
        m.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = randint(5, 40, [2, 8]);
        var attend = ones(2, 8, ScalarType.Bool);
        var selected = tensor(
            new[] { false, true, false, false, true, false, false, false, true, false, false, false, false, false, false, true },
            [2, 8]
        );
        Assert.True(m.forward(ids, attend)[selected].allclose(m.ForwardSelected(ids, attend, selected), rtol: 1e-5, atol: 1e-6));
    }
}
