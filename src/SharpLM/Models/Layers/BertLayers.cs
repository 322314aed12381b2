using SharpLM.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SharpLM.Models.Layers;

// BERT's building blocks, with Hugging Face's module names (attention.self.query, attention.output.LayerNorm, ...)
// so that parameter names match BertModel's state dict. BERT is post-LayerNorm: x = LN(x + sublayer(x)).

public sealed class BertEmbeddings : nn.Module<Tensor, Tensor, Tensor>
{
    readonly Embedding word_embeddings,
        position_embeddings,
        token_type_embeddings;
    readonly LayerNorm LayerNorm;
    readonly Dropout dropout;

    public BertEmbeddings(BertConfig c)
        : base(nameof(BertEmbeddings))
    {
        word_embeddings = nn.Embedding(c.VocabSize, c.HiddenSize, padding_idx: c.PadTokenId);
        position_embeddings = nn.Embedding(c.MaxPositionEmbeddings, c.HiddenSize);
        token_type_embeddings = nn.Embedding(c.TypeVocabSize, c.HiddenSize);
        LayerNorm = nn.LayerNorm(c.HiddenSize, c.LayerNormEps);
        dropout = nn.Dropout(c.HiddenDropoutProb);
        RegisterComponents();
    }

    public Parameter WordEmbeddings => word_embeddings.weight!;

    /// <param name="ids">[B, T]</param>
    /// <param name="segments">[B, T] token type ids</param>
    public override Tensor forward(Tensor ids, Tensor segments)
    {
        var positions = Arithmetic.Range(0, ids.shape[1], ids.device).unsqueeze(0);
        return dropout.forward(
            LayerNorm.forward(
                word_embeddings.forward(ids).Plus(position_embeddings.forward(positions)).Plus(token_type_embeddings.forward(segments))
            )
        );
    }
}

public sealed class BertSelfAttention : nn.Module<Tensor, Tensor, Tensor>
{
    readonly Linear query,
        key,
        value;
    readonly int _heads;
    readonly double _dropout;

    public BertSelfAttention(BertConfig c)
        : base(nameof(BertSelfAttention))
    {
        query = nn.Linear(c.HiddenSize, c.HiddenSize);
        key = nn.Linear(c.HiddenSize, c.HiddenSize);
        value = nn.Linear(c.HiddenSize, c.HiddenSize);
        _heads = c.NumAttentionHeads;
        _dropout = c.AttentionProbsDropoutProb;
        RegisterComponents();
    }

    /// <param name="x">[B, T, H]</param>
    /// <param name="mask">Boolean [B, 1, 1, T]: true for real tokens (keys that may be attended to).</param>
    public override Tensor forward(Tensor x, Tensor mask)
    {
        long b = x.shape[0],
            t = x.shape[1],
            h = x.shape[2],
            d = h / _heads;
        Tensor Heads(Linear l) => l.forward(x).view(b, t, _heads, d).transpose(1, 2);
        var y = F.scaled_dot_product_attention(Heads(query), Heads(key), Heads(value), mask, training ? _dropout : 0.0, false);
        return y.transpose(1, 2).contiguous().view(b, t, h);
    }
}

/// <summary>Dense → dropout → LayerNorm(x + residual): HF's BertSelfOutput and BertOutput.</summary>
public sealed class BertResidualOutput : nn.Module<Tensor, Tensor, Tensor>
{
    readonly Linear dense;
    readonly LayerNorm LayerNorm;
    readonly Dropout dropout;

    public BertResidualOutput(int inFeatures, BertConfig c)
        : base(nameof(BertResidualOutput))
    {
        dense = nn.Linear(inFeatures, c.HiddenSize);
        LayerNorm = nn.LayerNorm(c.HiddenSize, c.LayerNormEps);
        dropout = nn.Dropout(c.HiddenDropoutProb);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor residual) => LayerNorm.forward(dropout.forward(dense.forward(x)).Plus(residual));
}

public sealed class BertAttention : nn.Module<Tensor, Tensor, Tensor>
{
#pragma warning disable IDE1006 // Hugging Face's module name
    readonly BertSelfAttention self;
#pragma warning restore IDE1006
    readonly BertResidualOutput output;

    public BertAttention(BertConfig c)
        : base(nameof(BertAttention))
    {
        self = new BertSelfAttention(c);
        output = new BertResidualOutput(c.HiddenSize, c);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor mask) => output.forward(self.forward(x, mask), x);
}

public sealed class BertIntermediate : nn.Module<Tensor, Tensor>
{
    readonly Linear dense;
    readonly string _activation;

    public BertIntermediate(BertConfig c)
        : base(nameof(BertIntermediate))
    {
        dense = nn.Linear(c.HiddenSize, c.IntermediateSize);
        _activation = c.HiddenAct;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => Activation.Apply(_activation, dense.forward(x));
}

public sealed class BertLayer : nn.Module<Tensor, Tensor, Tensor>
{
    readonly BertAttention attention;
    readonly BertIntermediate intermediate;
    readonly BertResidualOutput output;

    public BertLayer(BertConfig c)
        : base(nameof(BertLayer))
    {
        attention = new BertAttention(c);
        intermediate = new BertIntermediate(c);
        output = new BertResidualOutput(c.IntermediateSize, c);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor mask)
    {
        var a = attention.forward(x, mask);
        return output.forward(intermediate.forward(a), a);
    }
}

public sealed class BertEncoder : nn.Module<Tensor, Tensor, Tensor>
{
    readonly ModuleList<BertLayer> layer;

    public BertEncoder(BertConfig c)
        : base(nameof(BertEncoder))
    {
        layer = nn.ModuleList(Enumerable.Range(0, c.NumHiddenLayers).Select(_ => new BertLayer(c)).ToArray());
        RegisterComponents();
    }

    public IReadOnlyList<BertLayer> Layers => [.. layer];

    public override Tensor forward(Tensor x, Tensor mask)
    {
        foreach (var l in layer)
            x = l.forward(x, mask);
        return x;
    }
}

/// <summary>Dense + tanh on the [CLS] position: BERT's pooled sentence representation.</summary>
public sealed class BertPooler : nn.Module<Tensor, Tensor>
{
    readonly Linear dense;

    public BertPooler(BertConfig c)
        : base(nameof(BertPooler))
    {
        dense = nn.Linear(c.HiddenSize, c.HiddenSize);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden) => dense.forward(hidden[.., 0, ..]).tanh();
}

/// <summary>The masked-LM head: dense → GELU → LayerNorm, then the tied word embeddings plus a bias (HF cls.predictions).</summary>
public sealed class BertLmPredictionHead : nn.Module<Tensor, Tensor>
{
    readonly BertPredictionTransform transform;
    readonly Parameter bias;

    // The word embeddings (tied). A delegate, not a field of type Parameter, so it is not registered a second time.
    readonly Func<Tensor> _decoder;

    public BertLmPredictionHead(BertConfig c, Func<Tensor> wordEmbeddings)
        : base(nameof(BertLmPredictionHead))
    {
        transform = new BertPredictionTransform(c);
        bias = nn.Parameter(zeros(c.VocabSize));
        _decoder = wordEmbeddings;
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden) => F.linear(transform.forward(hidden), _decoder(), bias);
}

/// <summary>HF's BertOnlyMLMHead: just holds <c>predictions</c>, for the parameter names.</summary>
public sealed class BertOnlyMlmHead : nn.Module<Tensor, Tensor>
{
    readonly BertLmPredictionHead predictions;

    public BertOnlyMlmHead(BertConfig c, Func<Tensor> wordEmbeddings)
        : base(nameof(BertOnlyMlmHead))
    {
        predictions = new BertLmPredictionHead(c, wordEmbeddings);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden) => predictions.forward(hidden);
}

public sealed class BertPredictionTransform : nn.Module<Tensor, Tensor>
{
    readonly Linear dense;
    readonly LayerNorm LayerNorm;
    readonly string _activation;

    public BertPredictionTransform(BertConfig c)
        : base(nameof(BertPredictionTransform))
    {
        dense = nn.Linear(c.HiddenSize, c.HiddenSize);
        LayerNorm = nn.LayerNorm(c.HiddenSize, c.LayerNormEps);
        _activation = c.HiddenAct;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => LayerNorm.forward(Activation.Apply(_activation, dense.forward(x)));
}
