using System.CommandLine;

namespace SharpLM.Cli.Commands;

/// <summary>Options that finetune, tune, bench classify, data split and classify share: one definition each.</summary>
public static class ClassifierOptions
{
    public static Option<string> Data() =>
        new("--data") { Description = "Labelled data: CSV/TSV/JSONL file, a folder per label, or spam-assassin.", Required = true };

    public static Option<string> TextColumn() =>
        new("--text-column") { Description = "Text column / field name (CSV/TSV/JSONL).", DefaultValueFactory = _ => "text" };

    public static Option<string> LabelColumn() =>
        new("--label-column") { Description = "Label column / field name (CSV/TSV/JSONL).", DefaultValueFactory = _ => "label" };

    public static Option<string?> From() =>
        new("--from")
        {
            Description =
                "Pretrained run: BERT ('sharplm train --objective mlm') or GPT ('sharplm train'); omit to train from scratch. "
                + "With --task seq2seq, a BERT run starts the encoder.",
        };

    public static Option<string?> Architecture()
    {
        var o = new Option<string?>("--architecture")
        {
            Description = "From scratch: bert (pooled [CLS], default), gpt2 (last token), mlp (embedding → mean-pool → MLP) or bilstm.",
        };
        o.AcceptOnlyFromAmong("bert", "gpt2", "gpt", "mlp", "bilstm");
        return o;
    }

    public static Option<string?> Tokenizer() =>
        new("--tokenizer")
        {
            Description = "From scratch only: bert-base-uncased (BERT's default), gpt2 (GPT's default), a vocab.txt or a tokenizer.json.",
        };

    public static Option<int> BlockSize() =>
        new("--block-size") { Description = "Tokens kept per text (including BERT's [CLS] and [SEP]).", DefaultValueFactory = _ => 128 };

    public static Option<int> Layers() => new("--n-layer") { Description = "From scratch: layers.", DefaultValueFactory = _ => 4 };

    public static Option<int> Heads() => new("--n-head") { Description = "From scratch: attention heads.", DefaultValueFactory = _ => 4 };

    public static Option<int> Width() => new("--n-embd") { Description = "From scratch: hidden size.", DefaultValueFactory = _ => 128 };

    public static Option<int> Seed() =>
        new("--seed") { Description = "Seed of the split, initialisation, order and dropout.", DefaultValueFactory = _ => 1337 };
}
