using SharpLM.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Models;

/// <summary>A model whose final hidden states can serve as text features (embeddings): every SharpLM transformer.</summary>
public interface IHiddenStates
{
    /// <summary>Hidden states [B, T, H] of right-padded ids [B, T]; <paramref name="attend"/> [B, T] is false on padding.</summary>
    Tensor HiddenStates(Tensor ids, Tensor attend);

    /// <summary>The id batches are right-padded with.</summary>
    long PadId { get; }

    /// <summary>
    /// Whether every position sees the whole text (BERT: its [CLS] summarises it) or only what came before (GPT: the last
    /// token does).
    /// </summary>
    bool Bidirectional { get; }

    /// <summary>A text as the model's input ids, with the model's special tokens, cut to <paramref name="maxTokens"/>.</summary>
    long[] EncodeText(Tokenizer tokenizer, string text, int maxTokens);

    /// <summary>The longest input in tokens.</summary>
    int MaxInput { get; }
}
