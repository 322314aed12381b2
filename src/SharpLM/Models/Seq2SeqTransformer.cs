using SharpLM.IO;
using SharpLM.Models.Layers;
using SharpLM.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Models;

/// <summary>One stack's embeddings and blocks (encoder or decoder), under BART's names.</summary>
public sealed class Seq2SeqStack : nn.Module<Tensor, Tensor>
{
    // BART's learned positions start at row 2 (its fairseq origin reserved rows 0 and 1).
    public const int PositionOffset = 2;
    readonly Embedding embed_positions;
    readonly LayerNorm layernorm_embedding;
    readonly LayerNorm? layer_norm;
    readonly ModuleList<nn.Module<Tensor, Tensor>> layers;
    readonly Dropout dropout;
    readonly double _embedScale;

    public Seq2SeqStack(Seq2SeqConfig c, bool decoder)
        : base(decoder ? "decoder" : "encoder")
    {
        embed_positions = nn.Embedding(c.MaxPositionEmbeddings + PositionOffset, c.DModel);
        layernorm_embedding = nn.LayerNorm(c.DModel, c.LayerNormEps);
        layers = nn.ModuleList<nn.Module<Tensor, Tensor>>();
        int count = decoder ? c.DecoderLayers : c.EncoderLayers;
        for (int i = 0; i < count; i++)
            layers.Add(decoder ? new Seq2SeqDecoderLayer(c) : new Seq2SeqEncoderLayer(c));
        if (c.NormalizeBefore)
            layer_norm = nn.LayerNorm(c.DModel, c.LayerNormEps);
        dropout = nn.Dropout(c.Dropout);
        _embedScale = c.ScaleEmbedding ? Math.Sqrt(c.DModel) : 1.0;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => throw new NotSupportedException("Use Seq2SeqTransformer.");

    public IReadOnlyList<nn.Module<Tensor, Tensor>> Layers => layers.ToList();

    /// <summary>Token embeddings (scaled), plus positions from <paramref name="start"/>, LayerNorm, dropout.</summary>
    public Tensor Embed(Tensor tokenEmbeddings, int start)
    {
        long t = tokenEmbeddings.shape[1];
        using var s = new Runtime.Scalars();
        var positions = Runtime.Arithmetic.Range(start + PositionOffset, start + PositionOffset + t, tokenEmbeddings.device);
        var x = (_embedScale == 1.0 ? tokenEmbeddings : tokenEmbeddings.mul(s[_embedScale])).Plus(
            embed_positions.forward(positions).unsqueeze(0)
        );
        return dropout.forward(layernorm_embedding.forward(x));
    }

    public Tensor Final(Tensor x) => layer_norm is null ? x : layer_norm.forward(x);
}

/// <summary>
/// What decoding one batch of sources keeps between steps: the source mask, each decoder layer's cross-attention keys
/// and values (computed once from the encoder's output) and the self-attention KV cache. Rows can follow beams.
/// </summary>
public sealed class Seq2SeqDecoderCache : IDisposable
{
    public KvCache Self { get; }
    public Tensor SourceMask { get; private set; }
    readonly (Tensor Keys, Tensor Values)[] _cross;

    internal Seq2SeqDecoderCache(KvCache self, Tensor sourceMask, (Tensor, Tensor)[] cross)
    {
        Self = self;
        SourceMask = sourceMask;
        _cross = cross;
    }

    public (Tensor Keys, Tensor Values) Cross(int layer) => _cross[layer];

    /// <summary>Row r becomes what row <paramref name="rows"/>[r] was (beam search).</summary>
    public void SelectRows(Tensor rows)
    {
        Self.SelectRows(rows);
        var mask = SourceMask.index_select(0, rows).DetachFromDisposeScope();
        SourceMask.Dispose();
        SourceMask = mask;
        for (int i = 0; i < _cross.Length; i++)
        {
            var k = _cross[i].Keys.index_select(0, rows).DetachFromDisposeScope();
            var v = _cross[i].Values.index_select(0, rows).DetachFromDisposeScope();
            _cross[i].Keys.Dispose();
            _cross[i].Values.Dispose();
            _cross[i] = (k, v);
        }
    }

    public void Dispose()
    {
        Self.Dispose();
        SourceMask.Dispose();
        foreach (var (k, v) in _cross)
        {
            k.Dispose();
            v.Dispose();
        }
    }
}

/// <summary>
/// The encoder–decoder Transformer (Vaswani et al., 2017) in BART's layout: one shared embedding for source, target and
/// output projection; learned positions; post-LN (BART) or pre-LN (mBART) blocks; the decoder's cross-attention reads
/// the encoder output through a source padding mask, so padding never changes a real token's output (tested).
/// Weights are saved under BART's names (model.shared.weight, model.encoder.layers.N.self_attn.q_proj.weight, …).
/// </summary>
public sealed class Seq2SeqTransformer : nn.Module<Tensor, Tensor>
{
    readonly Embedding shared;
    readonly Seq2SeqStack encoder,
        decoder;
    readonly Parameter final_logits_bias;
    public Seq2SeqConfig Config { get; }

    public Seq2SeqTransformer(Seq2SeqConfig config)
        : base(nameof(Seq2SeqTransformer))
    {
        Config = config.Validate();
        shared = nn.Embedding(config.VocabSize, config.DModel, padding_idx: config.PadTokenId);
        encoder = new Seq2SeqStack(config, decoder: false);
        decoder = new Seq2SeqStack(config, decoder: true);
        final_logits_bias = new Parameter(zeros(1, config.VocabSize), requires_grad: false);
        RegisterComponents();
        InitWeights();
    }

    void InitWeights()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith(".bias") || name == "final_logits_bias")
                p.zero_();
            else if (name.Contains("layer_norm") || name.Contains("layernorm"))
                p.fill_(Runtime.Scalars.One);
            else
                nn.init.normal_(p, 0, 0.02);
        }
        shared.weight![Config.PadTokenId].zero_();
    }

    public override Tensor forward(Tensor source) => throw new NotSupportedException("Use Encode and Decode.");

    /// <summary>[B, S] ids → the padding mask [B, S] (true on real tokens).</summary>
    public Tensor SourceMask(Tensor source)
    {
        using var s = new Runtime.Scalars();
        return source.ne(s[(long)Config.PadTokenId]);
    }

    /// <summary>The encoder's output [B, S, C] for sources [B, S] right-padded with pad_token_id.</summary>
    public Tensor Encode(Tensor source, Tensor sourceMask)
    {
        if (source.shape[1] > Config.MaxPositionEmbeddings)
            throw new SharpLMException(
                $"A source of {source.shape[1]} tokens is longer than max_position_embeddings ({Config.MaxPositionEmbeddings})."
            );
        var x = encoder.Embed(shared.forward(source), 0);
        var mask = sourceMask.unsqueeze(1).unsqueeze(1);
        foreach (var layer in encoder.Layers)
            x = ((Seq2SeqEncoderLayer)layer).Forward(x, mask);
        return encoder.Final(x);
    }

    /// <summary>
    /// A decoding cache for an encoded batch: cross-attention keys/values now, self-attention as tokens come. It owns its
    /// tensors (outside any dispose scope): dispose it.
    /// </summary>
    public Seq2SeqDecoderCache NewDecoderCache(Tensor memory, Tensor sourceMask, int capacity)
    {
        using var scope = NewDisposeScope();
        var cross = decoder
            .Layers.Select(l => ((Seq2SeqDecoderLayer)l).CrossKeysValues(memory))
            .Select(kv => (kv.Keys.DetachFromDisposeScope(), kv.Values.DetachFromDisposeScope()))
            .ToArray();
        var self = new KvCache(
            Config.DecoderLayers,
            memory.shape[0],
            Config.DecoderAttentionHeads,
            capacity,
            Config.DModel / Config.DecoderAttentionHeads
        );
        return new Seq2SeqDecoderCache(self, sourceMask.unsqueeze(1).unsqueeze(1).DetachFromDisposeScope(), cross);
    }

    /// <summary>
    /// Next-token logits [B, T, V] for decoder inputs [B, T] (they start with decoder_start_token_id). Without a cache the
    /// whole target is run against <paramref name="memory"/>; with one, the new tokens continue what the cache holds.
    /// </summary>
    public Tensor Decode(Tensor decoderInput, Tensor memory, Tensor sourceMask, Seq2SeqDecoderCache? cache = null)
    {
        int past = cache?.Self.Length ?? 0;
        if (past + decoderInput.shape[1] > Config.MaxPositionEmbeddings)
            throw new SharpLMException(
                $"A target of {past + decoderInput.shape[1]} tokens is longer than max_position_embeddings "
                    + $"({Config.MaxPositionEmbeddings})."
            );
        var x = decoder.Embed(shared.forward(decoderInput), past);
        var mask = cache?.SourceMask ?? sourceMask.unsqueeze(1).unsqueeze(1);
        for (int i = 0; i < decoder.Layers.Count; i++)
        {
            var layer = (Seq2SeqDecoderLayer)decoder.Layers[i];
            var cross = cache?.Cross(i) ?? layer.CrossKeysValues(memory);
            x = layer.Forward(x, cache?.Self, i, cross, mask);
        }
        cache?.Self.Advance((int)decoderInput.shape[1]);
        return nn.functional.linear(decoder.Final(x), shared.weight!).Plus(final_logits_bias);
    }

    /// <summary>Mean cross-entropy over real target tokens (labels -100 are ignored), with label smoothing ε.</summary>
    public static Tensor Loss(Tensor logits, Tensor labels, double labelSmoothing) =>
        nn.functional.cross_entropy(
            logits.view(-1, logits.shape[^1]),
            labels.view(-1),
            ignore_index: -100,
            label_smoothing: labelSmoothing
        );

    /// <summary>This module's parameter name → BART's (model.* prefix; a feed-forward's fc1/fc2 sit in the layer itself).</summary>
    static string HuggingFaceName(string name) => name == "final_logits_bias" ? name : "model." + name.Replace(".ffn.", ".");

    public void SaveWeights(string path)
    {
        using var scope = NewDisposeScope();
        Safetensors.Save(
            path,
            named_parameters().Select(p => (HuggingFaceName(p.name), p.parameter.detach())),
            new Dictionary<string, string> { ["format"] = "pt" }
        );
    }

    /// <summary>
    /// Copies a BERT model's weights (a SharpLM BERT run, or Hugging Face BertModel / BertFor* names) into the shared
    /// embedding and the encoder, whose shape must come from <see cref="Seq2SeqConfig.WithBertEncoder"/>: BERT's
    /// segment-0 embedding is folded into the encoder's positions (every source is one segment), its embedding LayerNorm
    /// becomes layernorm_embedding, and each layer's query/key/value/output, LayerNorms and feed-forward map one to one.
    /// The decoder keeps its fresh initialisation.
    /// </summary>
    public void LoadBertEncoder(string path)
    {
        var file = Safetensors.File.OpenSet(path);
        string prefix = file.Entries.ContainsKey("bert.embeddings.word_embeddings.weight") ? "bert." : "";
        Tensor Read(string key) =>
            file.Entries.ContainsKey(prefix + key)
                ? file.Read(prefix + key)
                : throw new SharpLMException($"{path} has no tensor '{prefix + key}'; the encoder can start only from a BERT model.");
        var ours = named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        void Copy(string name, Tensor target, Tensor value, string from)
        {
            if (!value.shape.SequenceEqual(target.shape))
                throw new SharpLMException(
                    $"{path}: '{prefix + from}' has shape [{string.Join(", ", value.shape)}] but {name} needs "
                        + $"[{string.Join(", ", target.shape)}]; the config does not match the BERT model."
                );
            target.copy_(value.to(target.dtype));
        }
        void Map(string name, string from) => Copy(name, ours[name], Read(from), from);
        Map("shared.weight", "embeddings.word_embeddings.weight");
        int n = Config.MaxPositionEmbeddings;
        var positions = Read("embeddings.position_embeddings.weight");
        if (positions.shape[0] < n)
            throw new SharpLMException($"{path} has {positions.shape[0]} positions; max_position_embeddings {n} needs at least as many.");
        var folded = positions.narrow(0, 0, n).Plus(Read("embeddings.token_type_embeddings.weight")[0]);
        Copy(
            "encoder.embed_positions",
            ours["encoder.embed_positions.weight"].narrow(0, Seq2SeqStack.PositionOffset, n),
            folded,
            "embeddings.position_embeddings.weight"
        );
        foreach (string part in new[] { "weight", "bias" })
        {
            Map($"encoder.layernorm_embedding.{part}", $"embeddings.LayerNorm.{part}");
            for (int i = 0; i < Config.EncoderLayers; i++)
            {
                string layer = $"encoder.layers.{i}.",
                    bert = $"encoder.layer.{i}.";
                Map(layer + $"self_attn.q_proj.{part}", bert + $"attention.self.query.{part}");
                Map(layer + $"self_attn.k_proj.{part}", bert + $"attention.self.key.{part}");
                Map(layer + $"self_attn.v_proj.{part}", bert + $"attention.self.value.{part}");
                Map(layer + $"self_attn.out_proj.{part}", bert + $"attention.output.dense.{part}");
                Map(layer + $"self_attn_layer_norm.{part}", bert + $"attention.output.LayerNorm.{part}");
                Map(layer + $"ffn.fc1.{part}", bert + $"intermediate.dense.{part}");
                Map(layer + $"ffn.fc2.{part}", bert + $"output.dense.{part}");
                Map(layer + $"final_layer_norm.{part}", bert + $"output.LayerNorm.{part}");
            }
        }
        if (file.Entries.ContainsKey($"{prefix}encoder.layer.{Config.EncoderLayers}.attention.self.query.weight"))
            throw new SharpLMException(
                $"{path} has more than encoder_layers ({Config.EncoderLayers}) layers; the config does not match it."
            );
    }

    public void LoadWeights(string path)
    {
        var file = Safetensors.File.OpenSet(path);
        using var noGrad = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            using var scope = NewDisposeScope();
            string key = HuggingFaceName(name);
            if (!file.Entries.TryGetValue(key, out var entry))
                throw new SharpLMException($"{path} has no tensor '{key}'; the weights belong to a different model.");
            if (!entry.Shape.SequenceEqual(p.shape))
                throw new SharpLMException(
                    $"{path}: tensor '{key}' has shape [{string.Join(", ", entry.Shape)}] but config.json needs "
                        + $"[{string.Join(", ", p.shape)}]; the weights belong to a different model."
                );
            p.copy_(file.Read(key).to(p.dtype));
        }
    }
}
