using SharpLM.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Tests;

[Collection(TorchCollection.Name)]
public class RuntimeTests
{
    [Fact]
    public void LibTorchLoadsAndComputesGradients()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var x = tensor(new float[] { 1, 2, 3 }, requires_grad: true);
        var y = (x * x).sum();
        y.backward();
        Assert.Equal(14f, y.item<float>());
        Assert.Equal(new float[] { 2, 4, 6 }, x.grad!.data<float>().ToArray());
    }

    [Fact]
    public void AdamWStepReducesLoss()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        manual_seed(0);
        var model = nn.Linear(4, 1);
        using var optimizer = new Training.TrainingOptimizer(model, new Training.TrainOptions { LearningRate = 0.05 });
        var input = randn(32, 4);
        var target = input.matmul(tensor(new float[] { 1, -2, 3, 0.5f }).reshape(4, 1));
        float first = 0,
            last = 0;
        for (int step = 0; step < 50; step++)
        {
            using var stepScope = NewDisposeScope();
            optimizer.ZeroGrad();
            var loss = nn.functional.mse_loss(model.forward(input), target);
            loss.backward();
            optimizer.Step();
            if (step == 0)
                first = loss.item<float>();
            last = loss.item<float>();
        }
        Assert.True(last < first * 0.5, $"loss {first} → {last}");
    }

    [Fact]
    public void ScaledDotProductAttentionIsCausal()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        manual_seed(1);
        var q = randn(1, 2, 5, 8);
        var k = randn(1, 2, 5, 8);
        var v = randn(1, 2, 5, 8);
        var output = nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true);
        // Changing the last position's key and value must not change earlier outputs.
        var k2 = k.clone();
        k2[.., .., 4] = randn(1, 2, 8);
        var v2 = v.clone();
        v2[.., .., 4] = randn(1, 2, 8);
        var output2 = nn.functional.scaled_dot_product_attention(q, k2, v2, is_casual: true);
        Assert.True(output[.., .., ..4].allclose(output2[.., .., ..4]));
        Assert.False(output[.., .., 4].allclose(output2[.., .., 4]));
    }
}
