using SharpLM.IO;
using SharpLM.Models.Layers;
using SharpLM.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SharpLM.Models;

/// <summary>
/// GPT-2-style decoder: token + learned position embeddings, pre-LayerNorm blocks of causal
/// multi-head attention and a GELU MLP, final LayerNorm, LM head tied to the token embedding.
/// Parameter names follow Hugging Face's GPT-2 (wte, wpe, h.N.attn.c_attn, ..., ln_f).
/// </summary>
public sealed class Gpt : nn.Module<Tensor, Tensor>, IHiddenStates, IMixedPrecision
{
    readonly Embedding wte,
        wpe;
    readonly Dropout drop;
    readonly ModuleList<GptBlock> h;
    readonly LayerNorm ln_f;

    public GptConfig Config { get; }

    /// <summary>
    /// Builds a model initialised as GPT-2 (normal 0.02; residual projections 0.02/sqrt(2·n_layer)) from torch's global generator.
    /// </summary>
    public Gpt(GptConfig config)
        : base(nameof(Gpt))
    {
        // library callers get the same runtime set-up (heap policy, threads, a clear load error) as the CLI
        Runtime.TorchRuntime.EnsureLoaded();
        Config = config.Validate();
        wte = nn.Embedding(config.VocabSize, config.NEmbd);
        wpe = nn.Embedding(config.NPositions, config.NEmbd);
        drop = nn.Dropout(config.EmbdPdrop);
        h = nn.ModuleList(Enumerable.Range(0, config.NLayer).Select(_ => new GptBlock(config)).ToArray());
        ln_f = nn.LayerNorm(config.NEmbd, config.LayerNormEpsilon);
        RegisterComponents();
        Initialise();
    }

    void Initialise()
    {
        using var noGrad = no_grad();
        double std = Config.InitializerRange;
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith(".bias"))
                nn.init.zeros_(p);
            else if (name.StartsWith("ln_") || name.Contains(".ln_"))
                nn.init.ones_(p);
            else
                nn.init.normal_(p, 0, std);
        }
        double residualStd = std / Math.Sqrt(2.0 * Config.NLayer);
        foreach (var block in h)
        foreach (var proj in block.ResidualProjections)
            nn.init.normal_(proj.weight!, 0, residualStd);
    }

    public long ParameterCount => parameters().Sum(p => p.numel());

    Precision _precision = Precision.Fp32;

    /// <summary>
    /// The number format of the matrix products (<see cref="Layers.Precision"/>): the weights stay fp32 either way, and
    /// logits come back as fp32.
    /// </summary>
    public Precision Precision
    {
        get => _precision;
        set
        {
            if (value != Precision.Fp32 && Config.ReorderAndUpcastAttn == true)
                throw new SharpLMException(
                    "This GPT's config sets reorder_and_upcast_attn (attention scores computed in fp32); use precision fp32 for it."
                );
            _precision = value;
            foreach (var block in h)
                block.SetCompute(value.ComputeType());
        }
    }

    /// <summary>The LM head (tied to the token embedding) in the compute dtype, logits in fp32.</summary>
    Tensor Logits(Tensor hidden)
    {
        var compute = _precision.ComputeType();
        return compute == ScalarType.Float32
            ? nn.functional.linear(hidden, wte.weight!)
            : MixedPrecision.Fp32(nn.functional.linear(hidden.to(compute), wte.weight!.to(compute)));
    }

    // IHiddenStates: right padding never reaches a real token under causal attention.
    Tensor IHiddenStates.HiddenStates(Tensor ids, Tensor attend) => Hidden(ids);

    long IHiddenStates.PadId => 0;
    bool IHiddenStates.Bidirectional => false;
    int IHiddenStates.MaxInput => Config.NPositions;

    long[] IHiddenStates.EncodeText(Tokenization.Tokenizer tokenizer, string text, int maxTokens)
    {
        var ids = tokenizer.Encode(text).Take(maxTokens).Select(i => (long)i).ToArray();
        return ids.Length > 0 ? ids : [Config.EosTokenId ?? 0];
    }

    /// <summary>Logits [B, T, vocab] for token ids [B, T] with plain causal attention.</summary>
    public override Tensor forward(Tensor idx) => Forward(idx);

    /// <param name="idx">Token ids [B, T].</param>
    /// <param name="cache">KV cache holding the previous positions (their keys/values); null for a full pass.</param>
    /// <param name="positions">Position ids [B, T]; default past..past+T-1.</param>
    /// <param name="attend">Boolean [B, past + T]: false marks padding keys (left-padded batches).</param>
    /// <param name="lastOnly">Return logits for the last position only ([B, 1, vocab]), as decoding needs.</param>
    public Tensor Forward(Tensor idx, KvCache? cache = null, Tensor? positions = null, Tensor? attend = null, bool lastOnly = false) =>
        Logits(Hidden(idx, cache, positions, attend, lastOnly));

    /// <summary>
    /// The final LayerNorm's output [B, T, n_embd] (what the LM head and a classification head read); arguments as <see cref="Forward"/>.
    /// </summary>
    public Tensor Hidden(Tensor idx, KvCache? cache = null, Tensor? positions = null, Tensor? attend = null, bool lastOnly = false)
    {
        long t = idx.shape[1];
        int past = cache?.Length ?? 0;
        if (past + t > Config.NPositions)
            throw new SharpLMException(
                $"Sequence of {past + t} tokens is longer than the model's context (n_positions {Config.NPositions})."
            );
        positions ??= Arithmetic.Range(past, past + t, idx.device).unsqueeze(0);
        var x = drop.forward(wte.forward(idx).Plus(wpe.forward(positions)));
        Tensor? mask = null;
        if (attend is not null)
        {
            // causal ∧ key is real; a query may always see itself so that padding rows never become all -inf (NaN).
            var causal = CausalSelfAttention.CausalMask(t, past, idx.device);
            var self = eye(t, dtype: ScalarType.Bool, device: idx.device);
            var selfFull = past == 0 ? self : cat([zeros(t, past, ScalarType.Bool, idx.device), self], 1);
            mask = ((causal.unsqueeze(0) & attend.unsqueeze(1)) | selfFull.unsqueeze(0)).unsqueeze(1);
        }
        for (int i = 0; i < h.Count; i++)
            x = h[i].Forward(x, cache, i, mask);
        cache?.Advance((int)t);
        if (lastOnly)
            x = x[.., ^1.., ..];
        return ln_f.forward(x);
    }

    /// <summary>A cache for <paramref name="slots"/> sequences of up to n_positions tokens each (continuous batching).</summary>
    public SlotKvCache NewSlotCache(int slots) =>
        new(Config.NLayer, slots, Config.NHead, Config.NPositions, Config.HeadDim, _precision.ComputeType());

    /// <summary>
    /// Runs one sequence's prompt <paramref name="ids"/> [1, T] and stores its keys and values in <paramref name="slot"/>;
    /// returns the logits for the next token [1, vocab].
    /// </summary>
    public Tensor Prefill(Tensor ids, SlotKvCache cache, int slot)
    {
        using var prefix = NewCache(1, (int)ids.shape[1]);
        var logits = Forward(ids, prefix, lastOnly: true);
        cache.Store(slot, prefix);
        return logits[.., -1, ..];
    }

    /// <summary>
    /// One decoding step for sequences held in slots: <paramref name="ids"/> [B] are the rows' newest tokens, at
    /// <paramref name="positions"/>, each stored in its row's slot; returns the next-token logits [B, vocab].
    /// </summary>
    public Tensor DecodeStep(Tensor ids, SlotKvCache cache, IReadOnlyList<long> slots, IReadOnlyList<long> positions)
    {
        var batch = new SlotDecodeBatch(cache, slots, positions);
        var x = drop.forward(wte.forward(ids.unsqueeze(1)).Plus(wpe.forward(batch.Positions.unsqueeze(1))));
        for (int i = 0; i < h.Count; i++)
            x = h[i].Forward(x, batch, i);
        return Logits(ln_f.forward(x))[.., -1, ..];
    }

    public KvCache NewCache(long batch, int? capacity = null) =>
        new(Config.NLayer, batch, Config.NHead, capacity ?? Config.NPositions, Config.HeadDim, _precision.ComputeType());

    /// <summary>Mean cross-entropy of next-token prediction (logits [B,T,V], targets [B,T]).</summary>
    public static Tensor Loss(Tensor logits, Tensor targets, long ignoreIndex = -100) =>
        nn.functional.cross_entropy(logits.view(-1, logits.shape[^1]), targets.view(-1), ignore_index: ignoreIndex);

    /// <summary>Prefix of Hugging Face GPT2LMHeadModel's state-dict names.</summary>
    public const string HuggingFacePrefix = "transformer.";

    // Hugging Face GPT-2 stores these projections as Conv1D, whose weight is [in, out]: the transpose of a Linear's.
    public static bool IsConv1D(string name) =>
        name.EndsWith(".weight") && (name.Contains(".c_attn.") || name.Contains(".c_proj.") || name.Contains(".c_fc."));

    /// <summary>Writes the weights as model.safetensors in Hugging Face GPT-2 layout (names and Conv1D orientation).</summary>
    public void SaveWeights(string path)
    {
        using var scope = NewDisposeScope();
        Safetensors.Save(path, HuggingFaceTensors(), new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>The parameters under Hugging Face GPT-2 names, Conv1D weights transposed (views; call inside a dispose scope).</summary>
    public IEnumerable<(string Name, Tensor Tensor)> HuggingFaceTensors() =>
        named_parameters().Select(p => (HuggingFacePrefix + p.name, IsConv1D(p.name) ? p.parameter.detach().t() : p.parameter.detach()));

    /// <summary>
    /// Loads weights written by <see cref="SaveWeights"/>, or a Hugging Face GPT2LMHeadModel / GPT2Model file (one file or
    /// shards): every parameter must be there, and nothing the model does not know may be (GPT-2's causal-mask buffers
    /// and a tied lm_head excepted).
    /// </summary>
    public void LoadWeights(string path) => LoadWeights(path, rejectUnknown: true);

    /// <summary>As <see cref="LoadWeights(string)"/>; a body load (a classifier's) leaves other stored tensors alone.</summary>
    public void LoadWeights(string path, bool rejectUnknown)
    {
        var file = Safetensors.File.OpenSet(path); // headers parsed once for the load and the tied-head check
        CheckpointReader.Load(this, file, Checkpoint(rejectUnknown));
        RequireTiedHead(file);
    }

    /// <summary>How GPT-2 checkpoints name and orient this model's parameters.</summary>
    public static CheckpointRules Checkpoint(bool rejectUnknown) =>
        new()
        {
            BodyPrefix = HuggingFacePrefix,
            Transposed = name => IsConv1D(name),
            Ignorable = IsKnownExtra,
            RejectUnknown = rejectUnknown,
        };

    // Older transformers versions saved the causal-mask buffers; lm_head.weight is the token embedding (tied).
    static bool IsKnownExtra(string stored) =>
        stored.EndsWith(".attn.bias", StringComparison.Ordinal)
        || stored.EndsWith(".attn.masked_bias", StringComparison.Ordinal)
        || stored == "lm_head.weight";

    /// <summary>A stored lm_head that is not the token embedding would be silently replaced by it: refuse instead.</summary>
    void RequireTiedHead(Safetensors.File file)
    {
        if (!file.Entries.ContainsKey("lm_head.weight"))
            return;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        if (!file.Read("lm_head.weight").to(wte.weight!.dtype).eq(wte.weight!).all().item<bool>())
            throw new SharpLMException(
                $"{file.Path}: lm_head.weight differs from the token embedding, but SharpLM's GPT ties them (tie_word_embeddings); this "
                    + "model cannot be loaded."
            );
    }
}
