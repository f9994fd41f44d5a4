using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;
using Xunit;

namespace IlgpuUnlearn.Tests.Model;

/// <summary>A batch smaller than the model was sized for (an epoch's last batch) computes exactly what a model sized for it does.</summary>
public sealed class PartialBatchTests
{
    [Theory]
    [InlineData(4, 32, 4, 3)]
    [InlineData(8, 16, 5, 2)]
    public void ASmallerBatchGivesTheSameGradientsAsAModelSizedForIt(int width, int size, int maxBatch, int n)
    {
        var config = new ResNet18Config(width, size, 10);
        var state = HashedParameters.State(new ResNet18Layout(config));
        var input = Enumerable.Range(0, n * 3 * size * size).Select(i => (float)Math.Sin(i * 0.37)).ToArray();
        var labels = Enumerable.Range(0, n).Select(i => i % 10).ToArray();
        float[] Gradients(int sizedFor, bool warm = false)
        {
            using var ops = new CpuOps();
            using var model = new ResNet18(ops, config, sizedFor);
            ModelState.Load(model, state);
            if (warm)
            {
                // Batches of other images first (a full one and a smaller one), as an epoch's earlier steps leave the arena.
                foreach (int m in new[] { sizedFor, sizedFor - 1 })
                {
                    var other = Enumerable.Range(0, m * 3 * size * size).Select(i => (float)Math.Cos(i * 0.11 + m)).ToArray();
                    ops.Upload<float>(other, model.Input.At(0, other.Length));
                    model.Forward(m, training: true);
                    using var g0 = ops.Allocate<float>(model.Layout.ParameterCount);
                    ops.Fill(model.DLogitsOf(m), 0.01f);
                    model.Backward(m, g0.All);
                }
                ModelState.Load(model, state);
            }
            ops.Upload<float>(input, model.Input.At(0, input.Length));
            model.Forward(n, training: true);
            using var y = ops.Allocate<int>(n);
            using var loss = ops.Allocate<float>(1);
            ops.Upload<int>(labels, y.All);
            ops.SoftmaxNllLoss(n, 10, model.LogitsOf(n), y.All, 1f, loss.All, model.DLogitsOf(n));
            using var g = ops.Allocate<float>(model.Layout.ParameterCount);
            if (warm) ops.Fill(g.All, 1e3f);   // a reused gradient buffer: every value must be written, none accumulated
            model.Backward(n, g.All);
            var host = new float[model.Layout.ParameterCount];
            ops.Download(g.All, host);
            return host;
        }
        var exact = Gradients(n);
        var partial = Gradients(maxBatch);
        Assert.Equal(exact, partial);
        Assert.Equal(exact, Gradients(maxBatch, warm: true));
        // And a full batch after a smaller one.
        Assert.Equal(Gradients(n), Gradients(n, warm: true));
    }
}
