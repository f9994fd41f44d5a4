using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;
using IlgpuUnlearn.Tests.Kernels;
using IlgpuUnlearn.Tests.Support;
using IlgpuUnlearn.Weights;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Model;

/// <summary>
/// Gradients with every BatchNorm in evaluation mode (<see cref="BatchNormMode.EvaluationWithGradients"/>: PyTorch's
/// <c>model.eval()</c> then <c>loss.backward()</c>, as SalUn, SCRUB and SSD measure) against PyTorch 1.13
/// (Fixtures/eval_gradient_*.safetensors from make_eval_gradient_fixtures.py): the mean cross-entropy of a hashed batch through
/// a ResNet18 with hashed parameters and running statistics, on each ops implementation. Every parameter's gradient is judged
/// by its distance from PyTorch's float64 run, max |g - g64| / max |g64| per tensor, the worst tensor being the distance;
/// PyTorch's own float32 run is measured the same way. Ours must be within <see cref="Factor"/> x PyTorch fp32's distance or
/// <see cref="Floor"/>, whichever is larger. The running statistics and num_batches_tracked must not move at all.
/// </summary>
public abstract class EvalModeGradientTests(ITestOutputHelper output) : IDisposable
{
    /// <summary>As the method fidelity tests: no farther from float64 than PyTorch fp32, times 2.</summary>
    const double Factor = 2;
    /// <summary>
    /// A floor for when PyTorch's own fp32 run happens to round luckily: float32 rounding (6e-8) times the square root of the
    /// longest summation (a 3x3 convolution over 64 channels of width 8: 576 terms, 24x) is 1.4e-6 of a value's scale. Far below
    /// what a wrong term does (a missing batch-statistics term, or the training-mode backward, changes gradients by O(1) of scale).
    /// Measured: CPU path 7.5e-7 (PyTorch fp32 5.2e-7), ILGPU's CPU accelerator 7.9e-7 (PyTorch fp32 1.0e-6).
    /// </summary>
    const double Floor = 2e-6;

    protected abstract IOps CreateOps();
    protected abstract string Fixture { get; }
    /// <summary>False where the ops belong to a shared test fixture.</summary>
    protected virtual bool OwnsOps => true;
    IOps? ops;
    IOps Ops => ops ??= CreateOps();
    public void Dispose() { if (OwnsOps) ops?.Dispose(); GC.SuppressFinalize(this); }

    [Fact]
    public void EveryParameterGradientIsAsCloseToFloat64PyTorchAsPyTorchFp32()
    {
        var f = FixtureFile.Open(Fixture);
        var raw = WeightsFile.Load(Path.Combine(FixtureFile.Folder, Fixture)).Tensors;
        double[] Doubles(string name) => Enumerable.Range(0, (int)raw[name].ElementCount).Select(i => raw[name].ElementAsDouble(i)).ToArray();
        int[] conv1 = f.Shape("init.conv1.weight");
        var config = new ResNet18Config(Width: conv1[0], ImageSize: f.Shape("input.x")[3], Classes: f.Shape("init.fc.weight")[0]);
        var labels = f.Longs("input.labels").Select(l => (int)l).ToArray();
        int n = labels.Length;
        var x = f.Floats("input.x");

        using var model = new ResNet18(Ops, config, maxBatch: n);
        var initial = PyTorchFixtureCheck.FixtureState(f, "init.", model.Layout);
        ModelState.Load(model, initial);
        var trackedBefore = (long[])model.BatchesTracked.Clone();
        Ops.Upload<float>(x, model.Input.At(0, x.Length));
        model.Forward(n, BatchNormMode.EvaluationWithGradients);
        using var lbl = Ops.Allocate<int>(n);
        using var loss = Ops.Allocate<float>(1);
        using var grads = Ops.Allocate<float>(model.Layout.ParameterCount);
        Ops.Upload<int>(labels, lbl.All);
        Ops.SoftmaxNllLoss(n, config.Classes, model.LogitsOf(n), lbl.All, 1f, loss.All, model.DLogitsOf(n));
        var logits = new float[n * config.Classes];
        Ops.Download<float>(model.LogitsOf(n), logits);
        model.Backward(n, grads.All);
        var g = new float[model.Layout.ParameterCount];
        Ops.Download<float>(grads.All, g);
        var lossValue = new float[1];
        Ops.Download<float>(loss.All, lossValue);

        // Logits and loss: one forward in float32, 1e-5 relative to the largest logit is float32 rounding through 20 layers.
        var logits64 = Doubles("logits64");
        double logitScale = logits64.Max(Math.Abs);
        double logitError = logits.Select((v, i) => Math.Abs(v - logits64[i])).Max() / logitScale;
        output.WriteLine($"logits: max |diff| / max |logit| from PyTorch fp64 {logitError:E2}; loss {lossValue[0]} vs {Doubles("loss64")[0]}");
        Assert.True(logitError < 1e-5, $"logits {logitError:E2} of scale from PyTorch fp64");
        Assert.True(Math.Abs(lossValue[0] - Doubles("loss64")[0]) < 1e-5 * Math.Abs(Doubles("loss64")[0]) + 1e-6);

        double ours = 0, theirs = 0;
        string oursWorst = "", theirsWorst = "";
        foreach (var t in model.Layout.Tensors.Where(t => t.Role == TensorRole.Parameter))
        {
            var g64 = Doubles("grad64." + t.Name);
            var g32 = f.Floats("grad32." + t.Name);
            double scale = g64.Max(Math.Abs);
            Assert.True(scale > 0, $"{t.Name}: PyTorch's gradient is zero");
            double o = 0, p = 0;
            for (int i = 0; i < g64.Length; i++)
            {
                o = Math.Max(o, Math.Abs(g[t.Offset + i] - g64[i]));
                p = Math.Max(p, Math.Abs(g32[i] - g64[i]));
            }
            if (o / scale > ours) (ours, oursWorst) = (o / scale, t.Name);
            if (p / scale > theirs) (theirs, theirsWorst) = (p / scale, t.Name);
        }
        double allowed = Math.Max(Factor * theirs, Floor);
        output.WriteLine($"{Ops.Name}: gradients, worst max |g - g64| / max |g64| of a tensor: ours {ours:E2} ({oursWorst}), " +
                         $"PyTorch fp32 {theirs:E2} ({theirsWorst}); allowed {allowed:E2}");
        Assert.True(ours <= allowed, $"ours {ours:E2} from PyTorch fp64 ({oursWorst}), allowed {allowed:E2}");

        // Evaluation mode moves no statistic.
        var after = ModelState.Read(model);
        foreach (var t in model.Layout.Tensors.Where(t => t.Role == TensorRole.RunningStat))
            Assert.Equal(f.Floats("after." + t.Name), after[t.Name]);
        Assert.Equal(trackedBefore, model.BatchesTracked);
    }

}

public sealed class EvalModeGradientOnCpuPath(ITestOutputHelper output) : EvalModeGradientTests(output)
{
    protected override IOps CreateOps() => new CpuOps();
    protected override string Fixture => "eval_gradient_w8_s16.safetensors";

    [Fact]
    public void BackwardAfterAPlainEvaluationForwardIsRefused()
    {
        using var ops = new CpuOps();
        using var model = new ResNet18(ops, new ResNet18Config(Width: 2, ImageSize: 8, Classes: 10), maxBatch: 1);
        using var grads = ops.Allocate<float>(model.Layout.ParameterCount);
        model.Forward(1, BatchNormMode.Evaluation);
        Assert.Throws<InvalidOperationException>(() => model.Backward(1, grads.All));
    }
}

/// <summary>
/// The same through the ILGPU kernels on ILGPU's CPU accelerator (an emulator: width 2 on 8x8 images), with the kernel tests'
/// shared accelerator and tiled kernels (compiled once for all of them).
/// </summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class EvalModeGradientOnIlgpuCpuAccelerator(IlgpuCpuFixture kernels, ITestOutputHelper output) : EvalModeGradientTests(output)
{
    protected override IOps CreateOps() => kernels.Tiled;
    protected override bool OwnsOps => false;
    protected override string Fixture => "eval_gradient_w2_s8.safetensors";
}
