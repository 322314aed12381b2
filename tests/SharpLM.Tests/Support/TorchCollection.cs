namespace SharpLM.Tests;

/// <summary>
/// libtorch's default random generator is process-wide: a test that seeds it (model init, dropout, sampling) must not
/// run while another draws from it, or exact-reproducibility checks fail at random. Tests that use torch share this
/// collection, which xunit runs one test at a time.
/// </summary>
[CollectionDefinition(Name)]
public sealed class TorchCollection
{
    public const string Name = "torch (process-wide RNG)";
}
