using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;
using IlgpuUnlearn.Tests.Support;
using IlgpuUnlearn.Unlearning;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Model;

/// <summary>
/// The full-width (64) network on two 32x32 images against PyTorch (Fixtures/resnet18_w64_s32.safetensors), on the CPU
/// path: parameters and pixels come from <see cref="HashValues"/>, so only PyTorch's outputs are committed.
/// Tolerances as in <see cref="ResNet18VersusPyTorchTests"/>; gradient norms to 1e-3 relative. The fixture script picks
/// input images whose ReLU inputs all stay at least 4e-6 from zero in float64: closer ones flip a ReLU mask between two
/// correct fp32 implementations (seen here: one value 8.5e-7 from zero in layer2.0 made errors of 3e-2 below it).
/// </summary>
public abstract class FullWidthResNet18Tests(ITestOutputHelper output) : IDisposable
{
    protected abstract IOps CreateOps();
    IOps? ops;
    IOps Ops => ops ??= CreateOps();
    public void Dispose() { ops?.Dispose(); GC.SuppressFinalize(this); }

    [Fact]
    public void ForwardBackwardOfTheFullNetworkMatchPyTorch()
    {
        var f = new FixtureFile("resnet18_w64_s32.safetensors");
        const int n = 2;
        using var model = new ResNet18(Ops, ResNet18Config.Cifar10, maxBatch: n);
        ModelState.Load(model, HashValues.State(model.Layout));
        using var pixels = Ops.Allocate<byte>(n * 3 * 32 * 32);
        Ops.Upload<byte>(HashValues.Bytes(n * 3 * 32 * 32, (int)f.Longs("input.stream")[0]), pixels.All);
        Ops.LoadImages(n, 32, 32, pixels.All, null, 0, TrainingStep.Mean, TrainingStep.Std, model.Input.At(0, n * 3 * 32 * 32));

        model.Forward(n, training: false);
        Compare.Close(output, "eval logits", f.Floats("eval.logits"), Download(model.LogitsOf(n)), 1e-4, 1e-5);
        model.Forward(n, training: true);
        Compare.Close(output, "train logits", f.Floats("train.logits"), Download(model.LogitsOf(n)), 1e-4, 1e-5);

        using var labels = Ops.Allocate<int>(n);
        using var loss = Ops.Allocate<float>(1);
        using var grads = Ops.Allocate<float>(model.Layout.ParameterCount);
        Ops.Upload<int>(f.Longs("input.labels").Select(l => (int)l).ToArray(), labels.All);
        Ops.SoftmaxNllLoss(n, 10, model.LogitsOf(n), labels.All, 1f, loss.All, model.DLogitsOf(n));
        Compare.Close(output, "loss", f.Floats("train.loss"), Download(loss.All), 1e-4, 1e-6);
        model.Backward(n, grads.All);

        var g = Download(grads.All);
        double worstNorm = 0, worstValue = 0;
        foreach (var t in model.Layout.Tensors.Where(t => t.Role == TensorRole.Parameter))
        {
            var mine = g.AsSpan((int)t.Offset, (int)t.Length).ToArray();
            double norm = Math.Sqrt(mine.Sum(v => (double)v * v));
            double expectedNorm = f.Floats("train.gradnorm." + t.Name)[0];
            double relNorm = Math.Abs(norm - expectedNorm) / expectedNorm;
            Assert.True(relNorm < 1e-3, $"gradient norm of {t}: {norm} vs PyTorch {expectedNorm}");
            worstNorm = Math.Max(worstNorm, relNorm);

            float[] expected, actual;
            if (f.Contains("train.grad." + t.Name)) { expected = f.Floats("train.grad." + t.Name); actual = mine; }
            else
            {
                expected = f.Floats("train.gradsample." + t.Name);
                actual = Enumerable.Range(0, expected.Length).Select(i => mine[i * 997]).ToArray();
            }
            // Sampled values are judged against the scale of the whole tensor (its RMS times 10), not the sample's maximum.
            double scale = Math.Max(expected.Max(Math.Abs), 10 * expectedNorm / Math.Sqrt(t.Length));
            double err = expected.Zip(actual, (e, a) => Math.Abs((double)e - a)).Max() / scale;
            Assert.True(err < 2e-3, $"gradient of {t}: error {err:E2} of its scale");
            worstValue = Math.Max(worstValue, err);
        }
        output.WriteLine($"gradients: worst norm error {worstNorm:E2} (tolerance 1e-3), worst value error {worstValue:E2} of scale (tolerance 2e-3)");

        var state = ModelState.Read(model);
        foreach (var t in model.Layout.Tensors.Where(t => t.Role == TensorRole.RunningStat))
            Compare.Close(null, t.Name, f.Floats("train.after." + t.Name), state[t.Name], 1e-4, 1e-5);
        output.WriteLine("running statistics after the training forward match");
    }

    float[] Download(Slice<float> s)
    {
        var host = new float[s.Length];
        Ops.Download(s, host);
        return host;
    }
}
