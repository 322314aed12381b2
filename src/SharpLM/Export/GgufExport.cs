using System.Buffers.Binary;
using SharpLM.IO;
using SharpLM.Kinds;
using SharpLM.Models;
using SharpLM.Tokenization;
using static TorchSharp.torch;
using TensorType = SharpLM.Export.GgufWriter.TensorType;

namespace SharpLM.Export;

/// <summary>
/// Writes a GPT language model as GGUF for llama.cpp's <c>gpt2</c> architecture: tensors token_embd, position_embd,
/// blk.N.{attn_norm, attn_qkv, attn_output, ffn_norm, ffn_up, ffn_down}, output_norm and output (the tied embedding
/// again), Linear weights as [out, in]; metadata gpt2.* and a "gpt2" tokenizer (tokens in GPT-2's byte-to-unicode
/// form, merges). A char-level vocabulary maps onto it as follows: each character's token is its UTF-8 bytes in
/// byte-to-unicode form, and a character of several bytes gets a chain of merges (byte 1 + byte 2, then + byte 3 …).
/// Merges never join bytes of two characters (a UTF-8 continuation byte only follows its own character's bytes), so
/// llama.cpp's byte-level BPE splits any text into exactly SharpLM's characters.
/// </summary>
public static class GgufExport
{
    public const string FileName = "model.gguf";
    public static readonly string[] Types = ["f32", "f16", "q8_0"];

    public static void RequireType(string type)
    {
        if (!Types.Contains(type))
            throw new SharpLMException($"gguf_type '{type}' is not known; use one of {string.Join(", ", Types)}.");
    }

    public static string Write(LoadedModel loaded, string dir, string type)
    {
        RequireType(type);
        if (loaded.Module is not Gpt gpt)
            throw ModelExport.CannotHold(loaded, "GGUF", "GPT language models (llama.cpp's gpt2 architecture)");
        var c = gpt.Config;
        if (c.HeadDimOverride is not null)
            throw new SharpLMException(
                $"{loaded.Run.Path} has pruned attention heads (head_dim ≠ n_embd / n_head), which llama.cpp's gpt2 cannot express."
            );
        if (c.ActivationFunction is not ("gelu_new" or "gelu_pytorch_tanh" or "gelu_fast"))
            throw new SharpLMException(
                $"{loaded.Run.Path} uses activation_function {c.ActivationFunction}; llama.cpp's gpt2 computes the tanh GELU "
                    + "(gelu_new) only."
            );
        var (tokens, tokenTypes, merges) = Vocabulary(loaded.Tokenizer, c.VocabSize);

        var gguf = new GgufWriter();
        gguf.Add("general.architecture", "gpt2");
        gguf.Add("general.name", Path.GetFileName(loaded.Run.Path.TrimEnd(Path.DirectorySeparatorChar)));
        gguf.Add(
            "general.file_type",
            type switch
            {
                "f32" => 0u,
                "f16" => 1u,
                _ => 7u,
            }
        );
        gguf.Add("general.alignment", (uint)GgufWriter.Alignment);
        gguf.Add("gpt2.context_length", (uint)c.NPositions);
        gguf.Add("gpt2.embedding_length", (uint)c.NEmbd);
        gguf.Add("gpt2.feed_forward_length", (uint)c.InnerDim);
        gguf.Add("gpt2.block_count", (uint)c.NLayer);
        gguf.Add("gpt2.attention.head_count", (uint)c.NHead);
        gguf.Add("gpt2.attention.layer_norm_epsilon", (float)c.LayerNormEpsilon);
        gguf.Add("tokenizer.ggml.model", "gpt2");
        gguf.Add("tokenizer.ggml.pre", "gpt-2");
        gguf.Add("tokenizer.ggml.tokens", tokens);
        gguf.Add("tokenizer.ggml.token_type", tokenTypes);
        gguf.Add("tokenizer.ggml.merges", merges);
        // llama.cpp needs end and start tokens (without them it takes id 11, a real token, or fails on a smaller vocabulary)
        int end = ModelExport.EndToken(c, loaded.Tokenizer);
        gguf.Add("tokenizer.ggml.bos_token_id", (uint)(c.BosTokenId ?? end));
        gguf.Add("tokenizer.ggml.eos_token_id", (uint)end);
        // SharpLM never prepends a BOS token to a prompt; llama.cpp must not either.
        gguf.Add("tokenizer.ggml.add_bos_token", false);
        gguf.Add("tokenizer.ggml.add_eos_token", false);

        var w = gpt.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        void Put(string name, string ours, bool matrix)
        {
            var t = w[ours];
            var (tensorType, data) = Encode(t, matrix ? type : "f32");
            gguf.Tensor(name, t.shape, tensorType, data);
        }
        Put("token_embd.weight", "wte.weight", true);
        Put("position_embd.weight", "wpe.weight", true);
        for (int i = 0; i < c.NLayer; i++)
        {
            string p = $"h.{i}.",
                b = $"blk.{i}.";
            foreach (
                var (gg, ours) in new[]
                {
                    ("attn_norm", "ln_1"),
                    ("attn_qkv", "attn.c_attn"),
                    ("attn_output", "attn.c_proj"),
                    ("ffn_norm", "ln_2"),
                    ("ffn_up", "mlp.c_fc"),
                    ("ffn_down", "mlp.c_proj"),
                }
            )
            {
                Put(b + gg + ".weight", p + ours + ".weight", !ours.StartsWith("ln_", StringComparison.Ordinal));
                Put(b + gg + ".bias", p + ours + ".bias", false);
            }
        }
        Put("output_norm.weight", "ln_f.weight", false);
        Put("output_norm.bias", "ln_f.bias", false);
        Put("output.weight", "wte.weight", true);
        AtomicFile.Write(Path.Combine(dir, FileName), gguf.WriteTo);
        return $"{type}, {tokens.Count} tokens, {merges.Count} merges";
    }

    /// <summary>
    /// The vocabulary as llama.cpp's gpt2 tokenizer reads it: tokens by id in byte-to-unicode form (1 normal, 3 control
    /// for special tokens; ids the tokenizer does not use are padded up to the model's vocabulary as unused control
    /// tokens) and the merges in rank order.
    /// </summary>
    static (List<string> Tokens, List<int> Types, List<string> Merges) Vocabulary(Tokenizer tokenizer, int modelVocabulary)
    {
        var tokens = new string?[modelVocabulary];
        var types = new int[modelVocabulary];
        var merges = new List<string>();
        switch (tokenizer)
        {
            case ByteLevelBpeTokenizer bpe
                when bpe.PreTokenizer is Gpt2PreTokenizer && bpe.Normalizer is null && !bpe.AddPrefixSpace && !bpe.Model.WholePieceFirst:
                for (int id = 0; id < bpe.Model.VocabSize; id++)
                {
                    string t = bpe.Model.TokenAt(id);
                    if (t.Length == 0 || t[0] != '\uFFFF')
                        (tokens[id], types[id]) = (ByteLevel.ToVocabForm(t), 1);
                }
                merges.AddRange(bpe.Model.Merges.Select(m => ByteLevel.ToVocabForm(m.Left) + " " + ByteLevel.ToVocabForm(m.Right)));
                break;
            case CharTokenizer chars:
            {
                var seen = new HashSet<string>(StringComparer.Ordinal);
                for (int id = 0; id < chars.Characters.Count; id++)
                {
                    byte[] utf8 = System.Text.Encoding.UTF8.GetBytes(chars.Characters[id]);
                    string form = ByteLevel.ToVocabForm(new string(utf8.Select(b => (char)b).ToArray()));
                    (tokens[id], types[id]) = (form, 1);
                    // A character of several bytes is rebuilt from its bytes by a chain of merges (the merged prefixes
                    // need no tokens of their own: llama.cpp looks up only the final symbol).
                    for (int k = 2; k <= form.Length; k++)
                    {
                        string merge = form[..(k - 1)] + " " + form[k - 1];
                        if (seen.Add(merge))
                            merges.Add(merge);
                    }
                }
                break;
            }
            default:
                throw new SharpLMException(
                    $"GGUF export holds GPT-2's byte-level BPE (GPT-2 pre-tokenizer, no normalizer) or an ASCII character vocabulary; "
                        + $"this run's {tokenizer.Kind} tokenizer is neither."
                );
        }
        foreach (var added in tokenizer.AddedTokens)
            if (added.Id < modelVocabulary)
                (tokens[added.Id], types[added.Id]) = (added.Content, added.Special ? 3 : 4);
        for (int id = 0; id < modelVocabulary; id++)
            if (tokens[id] is null)
                (tokens[id], types[id]) = ($"[PAD{id}]", 3);
        return ([.. tokens.Select(t => t!)], [.. types], merges);
    }

    /// <summary>A tensor's data as ggml stores it: f32, f16, or q8_0 blocks when its rows split into blocks of 32.</summary>
    static (TensorType, byte[]) Encode(Tensor t, string type)
    {
        using var scope = NewDisposeScope();
        var values = t.detach().to(ScalarType.Float32).contiguous().data<float>().ToArray();
        long rowLength = t.shape[^1];
        if (type == "q8_0" && rowLength % Q8Block == 0)
            return (TensorType.Q8_0, Q8(values));
        if (type is "f16" or "q8_0")
        {
            var bytes = new byte[values.Length * 2];
            for (int i = 0; i < values.Length; i++)
                BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(2 * i), (Half)values[i]);
            return (TensorType.F16, bytes);
        }
        var f32 = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, f32, 0, f32.Length);
        return (TensorType.F32, f32);
    }

    const int Q8Block = 32;

    /// <summary>
    /// ggml's q8_0: blocks of 32 values, each an f16 scale d = max|x| / 127 and 32 int8 round(x / d) (34 bytes per block).
    /// </summary>
    internal static byte[] Q8(float[] values)
    {
        int blocks = values.Length / Q8Block;
        var bytes = new byte[blocks * (2 + Q8Block)];
        for (int b = 0; b < blocks; b++)
        {
            var block = values.AsSpan(b * Q8Block, Q8Block);
            float amax = 0;
            foreach (float v in block)
                amax = Math.Max(amax, Math.Abs(v));
            float d = amax / 127f;
            float inverse = d == 0 ? 0 : 1 / d;
            int o = b * (2 + Q8Block);
            BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(o), (Half)d);
            for (int i = 0; i < Q8Block; i++)
                bytes[o + 2 + i] = (byte)(sbyte)Math.Round(block[i] * inverse, MidpointRounding.AwayFromZero);
        }
        return bytes;
    }
}
