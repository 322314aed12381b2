using SharpLM.Catalogue;

namespace SharpLM.Data;

/// <summary>Resolves labelled data given by path or by catalogue name (spam-assassin).</summary>
public static class LabelledDataSource
{
    public static async Task<(LabelledDataset Data, string Path)> LoadAsync(
        string data,
        string textColumn,
        string labelColumn,
        DataCatalogClient catalog,
        CancellationToken ct = default
    )
    {
        string path =
            Directory.Exists(data) || File.Exists(data) ? data
            : Catalog.Find(data) is { } entry ? await catalog.GetAsync(entry, ct: ct)
            : throw new SharpLMException(
                $"{data} is neither a file, a folder nor a catalogue name; give a CSV/TSV/JSONL file, a folder per label, or spam-assassin."
            );
        return (LabelledDataset.Load(path, textColumn, labelColumn), path);
    }
}
