using System.Text.Json.Nodes;
using Onnx;
using SharpLM.IO;
using SharpLM.Kinds;
using SharpLM.Models;
using static TorchSharp.torch;
using DataType = Onnx.TensorProto.Types.DataType;

namespace SharpLM.Export;

/// <summary>
/// Writes a run as an ONNX graph of standard operators (opset 17), built from the model's own weights: a GPT language
/// model with a KV cache in onnxruntime-genai's names (inputs input_ids, attention_mask, position_ids,
/// past_key_values.N.key/value; outputs logits, present.N.key/value) and its genai_config.json; a BERT masked-LM
/// (logits), classifier (logits) or head-less encoder (last_hidden_state) with input_ids, attention_mask and
/// token_type_ids. Written by hand over the ONNX protobuf messages because TorchSharp has no ONNX exporter.
/// </summary>
public static class OnnxExport
{
    public const string FileName = "model.onnx";

    // Protobuf messages cannot exceed 2 GiB; larger models would need ONNX external data, which is not written.
    const long MaxBytes = 2_000_000_000;

    public static string Write(LoadedModel loaded, string dir)
    {
        var weights = loaded.Module.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        long bytes = weights.Values.Sum(t => t.numel() * 4);
        if (bytes > MaxBytes)
            throw new SharpLMException(
                $"{loaded.Run.Path} has {bytes / 1e9:F1} GB of weights; ONNX export writes one protobuf file, which holds at most 2 GB."
            );
        ModelProto model;
        using (var scope = NewDisposeScope())
            model = loaded.Module switch
            {
                Gpt gpt => Gpt(gpt, weights),
                BertForMaskedLm m => Bert(m.Config, weights, m.HasMaskedLmHead ? BertHead.MaskedLm : BertHead.None),
                BertClassifier c => Bert(c.Config, weights, BertHead.Classifier),
                BertTokenClassifier t => Bert(t.Config, weights, BertHead.TokenClassifier),
                BertQuestionAnswering q => Bert(q.Config, weights, BertHead.QuestionAnswering),
                _ => throw ModelExport.CannotHold(
                    loaded,
                    "ONNX",
                    "GPT language models and BERT models (masked-LM encoders, classifiers, token classifiers, QA)"
                ),
            };
        AtomicFile.Write(Path.Combine(dir, FileName), stream => Google.Protobuf.MessageExtensions.WriteTo(model, stream));
        if (loaded.Module is Gpt g)
            AtomicFile.WriteAllText(
                Path.Combine(dir, "genai_config.json"),
                GenAiConfig(g.Config, ModelExport.EndToken(g.Config, loaded.Tokenizer)).ToJsonString(Json.Indented)
            );
        loaded.Tokenizer.Save(Path.Combine(dir, "tokenizer.json"));
        return $"{model.Graph.Node.Count} nodes, opset {OnnxGraph.Opset}";
    }

    /// <summary>
    /// GPT-2 with a KV cache: every step feeds the new tokens, their positions, the mask over past + new tokens, and
    /// the previous step's present.N tensors as past_key_values.N (length 0 on the first step).
    /// </summary>
    static ModelProto Gpt(Gpt gpt, Dictionary<string, Tensor> w)
    {
        var c = gpt.Config;
        var g = new OnnxGraph("sharplm-gpt2");
        int heads = c.NHead,
            headDim = c.HeadDim,
            width = c.AttentionWidth;
        g.Input("input_ids", DataType.Int64, "batch_size", "sequence_length");
        g.Input("attention_mask", DataType.Int64, "batch_size", "total_sequence_length");
        g.Input("position_ids", DataType.Int64, "batch_size", "sequence_length");
        for (int i = 0; i < c.NLayer; i++)
        {
            g.Input($"past_key_values.{i}.key", DataType.Float, "batch_size", heads, "past_sequence_length", headDim);
            g.Input($"past_key_values.{i}.value", DataType.Float, "batch_size", heads, "past_sequence_length", headDim);
        }
        g.Output("logits", DataType.Float, "batch_size", "sequence_length", c.VocabSize);
        for (int i = 0; i < c.NLayer; i++)
        {
            g.Output($"present.{i}.key", DataType.Float, "batch_size", heads, "total_sequence_length", headDim);
            g.Output($"present.{i}.value", DataType.Float, "batch_size", heads, "total_sequence_length", headDim);
        }

        string wte = g.Weight("wte.weight", w["wte.weight"]);
        var x = g.Add(g.Gather(wte, "input_ids"), g.Gather(g.Weight("wpe.weight", w["wpe.weight"]), "position_ids"));

        // Which keys each query may see: causal over absolute positions (past + new), and not padding.
        string past = g.Gather(g.Shape("past_key_values.0.key"), g.ScalarInt64(2));
        string total = g.Add(past, g.Gather(g.Shape("input_ids"), g.ScalarInt64(1)));
        string queryPositions = g.Node("Range", [past, total, g.ScalarInt64(1)]);
        string keyPositions = g.Node("Range", [g.ScalarInt64(0), total, g.ScalarInt64(1)]);
        string causal = g.Node("LessOrEqual", [g.Unsqueeze(keyPositions, 0), g.Unsqueeze(queryPositions, 1)]);
        string notPadding = g.Unsqueeze(g.Cast("attention_mask", DataType.Bool), 1, 2);
        string allowed = g.Node("And", [g.Unsqueeze(causal, 0, 1), notPadding]);
        var attention = new OnnxGraph.Attention(g, allowed, heads, headDim);

        for (int i = 0; i < c.NLayer; i++)
        {
            string p = $"h.{i}.";
            var qkv = g.Linear(g.LayerNorm(x, p + "ln_1", w, c.LayerNormEpsilon), p + "attn.c_attn", w);
            string Part(int n) => attention.SplitHeads(g.Node("Slice", [qkv, g.Int64s(n * width), g.Int64s((n + 1) * width), g.Int64s(2)]));
            var keys = g.Concat(2, $"present.{i}.key", $"past_key_values.{i}.key", Part(1));
            var values = g.Concat(2, $"present.{i}.value", $"past_key_values.{i}.value", Part(2));
            x = g.Add(x, g.Linear(attention.Context(Part(0), keys, values), p + "attn.c_proj", w));
            var normed = g.LayerNorm(x, p + "ln_2", w, c.LayerNormEpsilon);
            var inner = g.Activation(c.ActivationFunction, g.Linear(normed, p + "mlp.c_fc", w));
            x = g.Add(x, g.Linear(inner, p + "mlp.c_proj", w));
        }
        x = g.LayerNorm(x, "ln_f", w, c.LayerNormEpsilon);
        // The LM head is the token embedding (tied): one stored matrix, transposed in the graph (constant-folded by onnxruntime).
        g.Node("MatMul", [x, g.Transpose(wte, 1, 0)], "logits");
        return g.Model(new Dictionary<string, string> { ["model_type"] = "gpt2", ["sharplm_kind"] = "gpt2-lm" });
    }

    enum BertHead
    {
        None,
        MaskedLm,
        Classifier,
        TokenClassifier,
        QuestionAnswering,
    }

    /// <summary>BERT: embeddings, post-LayerNorm layers with a padding mask, and the head the run has.</summary>
    static ModelProto Bert(BertConfig c, Dictionary<string, Tensor> w, BertHead head)
    {
        var g = new OnnxGraph("sharplm-bert");
        int heads = c.NumAttentionHeads,
            headDim = c.HeadDim,
            hiddenSize = c.HiddenSize;
        g.Input("input_ids", DataType.Int64, "batch_size", "sequence_length");
        g.Input("attention_mask", DataType.Int64, "batch_size", "sequence_length");
        g.Input("token_type_ids", DataType.Int64, "batch_size", "sequence_length");
        const string b = "bert.";
        string Norm(string input, string name) => g.LayerNorm(input, name, w, c.LayerNormEps);
        string Linear(string input, string name) => g.Linear(input, name, w);

        string words = g.Weight(b + "embeddings.word_embeddings.weight", w[b + "embeddings.word_embeddings.weight"]);
        string positions = g.Node("Range", [g.ScalarInt64(0), g.Gather(g.Shape("input_ids"), g.ScalarInt64(1)), g.ScalarInt64(1)]);
        var x = g.Add(
            g.Add(
                g.Gather(words, "input_ids"),
                g.Gather(g.Weight(b + "embeddings.position_embeddings.weight", w[b + "embeddings.position_embeddings.weight"]), positions)
            ),
            g.Gather(
                g.Weight(b + "embeddings.token_type_embeddings.weight", w[b + "embeddings.token_type_embeddings.weight"]),
                "token_type_ids"
            )
        );
        x = Norm(x, b + "embeddings.LayerNorm");
        string allowed = g.Unsqueeze(g.Cast("attention_mask", DataType.Bool), 1, 2);
        var attention = new OnnxGraph.Attention(g, allowed, heads, headDim);
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            string p = $"{b}encoder.layer.{i}.";
            string Heads(string name) => attention.SplitHeads(Linear(x, p + "attention.self." + name));
            var context = attention.Context(Heads("query"), Heads("key"), Heads("value"));
            x = Norm(g.Add(Linear(context, p + "attention.output.dense"), x), p + "attention.output.LayerNorm");
            var inner = g.Activation(c.HiddenAct, Linear(x, p + "intermediate.dense"));
            x = Norm(g.Add(Linear(inner, p + "output.dense"), x), p + "output.LayerNorm");
        }
        switch (head)
        {
            case BertHead.None:
                g.Node("Identity", [x], "last_hidden_state");
                g.Output("last_hidden_state", DataType.Float, "batch_size", "sequence_length", hiddenSize);
                break;
            case BertHead.MaskedLm:
            {
                const string t = "cls.predictions.transform.";
                var transformed = Norm(g.Activation(c.HiddenAct, Linear(x, t + "dense")), t + "LayerNorm");
                g.Node(
                    "Add",
                    [g.MatMul(transformed, g.Transpose(words, 1, 0)), g.Weight("cls.predictions.bias", w["cls.predictions.bias"])],
                    "logits"
                );
                g.Output("logits", DataType.Float, "batch_size", "sequence_length", c.VocabSize);
                break;
            }
            case BertHead.Classifier:
            {
                var pooled = g.Node("Tanh", [Linear(g.Gather(x, g.ScalarInt64(0), axis: 1), b + "pooler.dense")]);
                var logits = Linear(pooled, "classifier");
                g.Node("Identity", [logits], "logits");
                g.Output("logits", DataType.Float, "batch_size", c.Labels!.Length);
                break;
            }
            case BertHead.TokenClassifier:
                g.Node("Identity", [Linear(x, "classifier")], "logits");
                g.Output("logits", DataType.Float, "batch_size", "sequence_length", c.Labels!.Length);
                break;
            case BertHead.QuestionAnswering:
            {
                // transformers' names: start_logits and end_logits, each [batch, sequence]
                var spans = Linear(x, "qa_outputs");
                g.Node("Identity", [g.Gather(spans, g.ScalarInt64(0), axis: 2)], "start_logits");
                g.Node("Identity", [g.Gather(spans, g.ScalarInt64(1), axis: 2)], "end_logits");
                g.Output("start_logits", DataType.Float, "batch_size", "sequence_length");
                g.Output("end_logits", DataType.Float, "batch_size", "sequence_length");
                break;
            }
        }
        return g.Model(new Dictionary<string, string> { ["model_type"] = "bert" });
    }

    /// <summary>onnxruntime-genai's description of the decoder: file, names, sizes and default search options.</summary>
    static JsonObject GenAiConfig(GptConfig c, int end) =>
        new()
        {
            ["model"] = new JsonObject
            {
                // The type tells onnxruntime-genai how to drive the graph, not what it computes: its "gpt2" means the
                // older layout with one combined past_N tensor per layer; a graph with separate past_key_values.N.key
                // and .value is what it calls a decoder-only model (llama, phi, qwen2 …), whatever the maths inside.
                ["type"] = "llama",
                ["bos_token_id"] = c.BosTokenId ?? end,
                ["eos_token_id"] = end,
                ["pad_token_id"] = end,
                ["context_length"] = c.NPositions,
                ["vocab_size"] = c.VocabSize,
                ["decoder"] = new JsonObject
                {
                    ["filename"] = FileName,
                    ["head_size"] = c.HeadDim,
                    ["hidden_size"] = c.NEmbd,
                    ["num_attention_heads"] = c.NHead,
                    ["num_key_value_heads"] = c.NHead,
                    ["num_hidden_layers"] = c.NLayer,
                    ["session_options"] = new JsonObject { ["log_id"] = "onnxruntime-genai", ["provider_options"] = new JsonArray() },
                    ["inputs"] = new JsonObject
                    {
                        ["input_ids"] = "input_ids",
                        ["attention_mask"] = "attention_mask",
                        ["position_ids"] = "position_ids",
                        ["past_key_names"] = "past_key_values.%d.key",
                        ["past_value_names"] = "past_key_values.%d.value",
                    },
                    ["outputs"] = new JsonObject
                    {
                        ["logits"] = "logits",
                        ["present_key_names"] = "present.%d.key",
                        ["present_value_names"] = "present.%d.value",
                    },
                },
            },
            ["search"] = new JsonObject
            {
                ["do_sample"] = false,
                ["max_length"] = c.NPositions,
                ["min_length"] = 0,
                ["num_beams"] = 1,
                ["num_return_sequences"] = 1,
                ["past_present_share_buffer"] = false,
                ["repetition_penalty"] = 1.0,
                ["temperature"] = 1.0,
                ["top_k"] = 1,
                ["top_p"] = 1.0,
            },
        };
}
