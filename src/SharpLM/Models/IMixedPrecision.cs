using SharpLM.Models.Layers;

namespace SharpLM.Models;

/// <summary>A model that can multiply its matrices in bf16 while keeping fp32 weights (GPT today).</summary>
public interface IMixedPrecision
{
    Precision Precision { get; set; }
}
