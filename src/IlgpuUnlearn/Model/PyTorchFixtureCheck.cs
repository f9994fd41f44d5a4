using IlgpuUnlearn.Data;
using IlgpuUnlearn.Tensors;
using IlgpuUnlearn.Unlearning;
using IlgpuUnlearn.Unlearning.Methods;

namespace IlgpuUnlearn.Model;

/// <summary>
/// The whole network on one <see cref="IOps"/> against PyTorch 1.13 fp32 (tests/IlgpuUnlearn.Tests/Fixtures/make_model_fixtures.py):
/// the xunit tests assert that every comparison passes, and `ilgpu-unlearn self-test` prints them on any device.
///
/// Tolerances: both sides compute in fp32 with different summation orders, so each value carries rounding of order
/// 1e-7 times the square root of its summation length, amplified through 20 BatchNorms in training mode (which divide by
/// small batch standard deviations). Logits and losses are checked to 1e-4 relative (+1e-5 absolute, 1e-6 for the loss);
/// gradients, which pass through every layer twice, to 2e-3 of each tensor's largest value (full width: of its scale, and
/// its L2 norm to 1e-3 relative); the losses and gradient norm of an AdvNegGrad step to 2e-4 relative; parameters after two
/// steps to 1e-5 absolute + 1e-4 relative (lr 0.1 times clipped gradients of norm 0.5 moves them by at most ~0.05).
/// The full-width fixture's input images keep every ReLU input at least 4e-6 from zero in float64: closer ones flip a ReLU
/// mask between two correct fp32 implementations (one value 8.5e-7 from zero in layer2.0 once made errors of 3e-2 below it).
/// </summary>
public static class PyTorchFixtureCheck
{
    /// <summary>Width-8 ResNet18 on 16x16 images: forward, backward, running statistics, two AdvNegGrad steps.</summary>
    public const string NarrowFixtureFile = "resnet18_w8_s16.safetensors";
    /// <summary>Width 2 on 8x8 images: small enough for ILGPU's CPU accelerator, which emulates every GPU thread.</summary>
    public const string TinyFixtureFile = "resnet18_w2_s8.safetensors";
    /// <summary>
    /// Width 2 on 28x28 grey images (conv1 reads one channel, Fashion-MNIST's normalisation, stages 28, 14, 7, 4), as native
    /// Fashion-MNIST networks are: forward, backward, running statistics, two AdvNegGrad steps from uint8 pixels.
    /// </summary>
    public const string GreyFixtureFile = "resnet18_c1_w2_s28.safetensors";
    /// <summary>Full-width ResNet18 on two 32x32 images with hashed parameters (<see cref="HashedParameters"/>).</summary>
    public const string FullWidthFixtureFile = "resnet18_w64_s32.safetensors";

    public const double LogitsRelative = 1e-4, LogitsAbsolute = 1e-5, LossAbsolute = 1e-6;
    public const double GradientOfScale = 2e-3;
    public const double GradientNormRelative = 1e-3;
    public const double StepLossesRelative = 2e-4, StepLossesAbsolute = 1e-5;
    public const double StateRelative = 1e-4, StateAbsolute = 1e-5;

    /// <summary>
    /// The network a narrow fixture was made with: width and input channels from conv1.weight, size from the input, and
    /// the fixture's normalisation ("input.mean", "input.std") where it has one, else CIFAR-10's.
    /// </summary>
    static ResNet18Config ConfigOf(PyTorchFixture f)
    {
        int[] conv1 = f.Shape("init.conv1.weight");
        var normalization = f.Contains("input.mean")
            ? new InputNormalization("fixture", f.Floats("input.mean"), f.Floats("input.std"), "the fixture")
            : InputNormalization.Cifar10;
        return new(Width: conv1[0], ImageSize: f.Shape("input.x")[3], Classes: f.Shape("init.fc.weight")[0], InputChannels: conv1[1])
        {
            Normalization = normalization,
        };
    }

    /// <summary>Eval and train logits, loss, every parameter gradient, and the running statistics after the training forward.</summary>
    public static List<FixtureComparison> NarrowForwardBackward(IOps ops, PyTorchFixture f)
    {
        var results = new List<FixtureComparison>();
        using var model = new ResNet18(ops, ConfigOf(f), maxBatch: 4);
        ModelState.Load(model, FixtureState(f, "init.", model.Layout));
        var x = f.Floats("input.x");
        var labels = f.Longs("input.labels").Select(l => (int)l).ToArray();
        int n = labels.Length;

        ops.Upload<float>(x, model.Input.At(0, x.Length));
        model.Forward(n, training: false);
        results.Add(Close("eval logits", f.Floats("eval.logits"), Download(ops, model.LogitsOf(n)), LogitsRelative, LogitsAbsolute));

        model.Forward(n, training: true);
        results.Add(Close("train logits", f.Floats("train.logits"), Download(ops, model.LogitsOf(n)), LogitsRelative, LogitsAbsolute));
        using var lbl = ops.Allocate<int>(n);
        using var loss = ops.Allocate<float>(1);
        using var grads = ops.Allocate<float>(model.Layout.ParameterCount);
        ops.Upload<int>(labels, lbl.All);
        ops.SoftmaxNllLoss(n, model.Config.Classes, model.LogitsOf(n), lbl.All, 1f, loss.All, model.DLogitsOf(n));
        results.Add(Close("loss", f.Floats("train.loss"), Download(ops, loss.All), LogitsRelative, LossAbsolute));

        model.Backward(n, grads.All);
        var g = Download(ops, grads.All);
        var gradients = new WorstError("gradients", GradientOfScale, "max |diff| / max |expected| of each tensor");
        foreach (var t in model.Layout.Tensors.Where(t => t.Role == TensorRole.Parameter))
        {
            double err = RelativeToScale(f.Floats("train.grad." + t.Name), g.AsSpan((int)t.Offset, (int)t.Length));
            gradients.Add(t.Name, err, err < GradientOfScale);
        }
        results.Add(gradients.Result());

        var state = ModelState.Read(model);
        results.AddRange(StateComparisons("running statistics after the training forward", "train.after.", f, model.Layout, state,
            [TensorRole.RunningStat], "num_batches_tracked after it"));
        return results;
    }

    /// <summary>Two AdvNegGrad steps (batch 2 forget + 2 retain): each step's losses and gradient norm, then the whole state.</summary>
    public static List<FixtureComparison> NarrowAdvNegGradSteps(IOps ops, PyTorchFixture f)
    {
        var results = new List<FixtureComparison>();
        using var model = new ResNet18(ops, ConfigOf(f), maxBatch: 2);
        ModelState.Load(model, FixtureState(f, "init.", model.Layout));
        using var step = new TrainingStep(ops, model);
        var card = new AdvNegGrad().Defaults;
        var (retainScale, forgetScale) = AdvNegGrad.Scales(card);
        for (int s = 1; s <= 2; s++)
        {
            var forget = new HostBatch(f.Bytes($"step{s}.forget_pixels"), f.Longs($"step{s}.forget_labels").Select(l => (int)l).ToArray(), [], 2);
            var retain = new HostBatch(f.Bytes($"step{s}.retain_pixels"), f.Longs($"step{s}.retain_labels").Select(l => (int)l).ToArray(), [], 2);
            var result = step.Unlearn(forget, retain, retainScale, forgetScale, card.UpdateAt(0));
            results.Add(Close($"step {s}: forget loss, retain loss, gradient norm", f.Floats($"step{s}.losses"),
                [result.ForgetLoss ?? float.NaN, result.RetainLoss, result.GradientNorm], StepLossesRelative, StepLossesAbsolute));
        }
        var state = ModelState.Read(model);
        results.AddRange(StateComparisons("state after two steps", "after.", f, model.Layout, state,
            [TensorRole.Parameter, TensorRole.RunningStat], "num_batches_tracked after them"));
        return results;
    }

    /// <summary>The full-width network on two 32x32 images: logits, loss, every gradient's norm and values, running statistics.</summary>
    public static List<FixtureComparison> FullWidthForwardBackward(IOps ops, PyTorchFixture f)
    {
        const int n = 2;
        var results = new List<FixtureComparison>();
        using var model = new ResNet18(ops, ResNet18Config.Cifar10, maxBatch: n);
        int imageLength = 3 * model.Config.ImageSize * model.Config.ImageSize;
        ModelState.Load(model, HashedParameters.State(model.Layout));
        using var pixels = ops.Allocate<byte>(n * imageLength);
        ops.Upload<byte>(HashedParameters.Bytes(n * imageLength, (int)f.Longs("input.stream")[0]), pixels.All);
        ops.LoadImages(n, model.Config.ImageSize, model.Config.ImageSize, pixels.All, null, 0, model.Config.Normalization.Mean, model.Config.Normalization.Std,
            model.Input.At(0, n * imageLength));

        model.Forward(n, training: false);
        results.Add(Close("eval logits", f.Floats("eval.logits"), Download(ops, model.LogitsOf(n)), LogitsRelative, LogitsAbsolute));
        model.Forward(n, training: true);
        results.Add(Close("train logits", f.Floats("train.logits"), Download(ops, model.LogitsOf(n)), LogitsRelative, LogitsAbsolute));

        using var labels = ops.Allocate<int>(n);
        using var loss = ops.Allocate<float>(1);
        using var grads = ops.Allocate<float>(model.Layout.ParameterCount);
        ops.Upload<int>(f.Longs("input.labels").Select(l => (int)l).ToArray(), labels.All);
        ops.SoftmaxNllLoss(n, model.Config.Classes, model.LogitsOf(n), labels.All, 1f, loss.All, model.DLogitsOf(n));
        results.Add(Close("loss", f.Floats("train.loss"), Download(ops, loss.All), LogitsRelative, LossAbsolute));
        model.Backward(n, grads.All);

        var g = Download(ops, grads.All);
        var norms = new WorstError("gradient norms", GradientNormRelative, "|norm - expected| / expected");
        var values = new WorstError("gradient values (whole or every 997th)", GradientOfScale,
            "max |diff| / max(max |expected|, 10 RMS) of each tensor");
        foreach (var t in model.Layout.Tensors.Where(t => t.Role == TensorRole.Parameter))
        {
            var mine = g.AsSpan((int)t.Offset, (int)t.Length).ToArray();
            double norm = Math.Sqrt(mine.Sum(v => (double)v * v));
            double expectedNorm = f.Floats("train.gradnorm." + t.Name)[0];
            double relNorm = Math.Abs(norm - expectedNorm) / expectedNorm;
            norms.Add(t.Name, relNorm, relNorm < GradientNormRelative);

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
            values.Add(t.Name, err, err < GradientOfScale);
        }
        results.Add(norms.Result());
        results.Add(values.Result());

        var state = ModelState.Read(model);
        // (This fixture holds no num_batches_tracked.)
        results.AddRange(StateComparisons("running statistics after the training forward", "train.after.", f, model.Layout, state,
            [TensorRole.RunningStat], trackedName: null));
        return results;
    }

    /// <summary>The state-dict tensors of <paramref name="f"/> under <paramref name="prefix"/>, as <see cref="ModelState.Load"/> takes them.</summary>
    public static Dictionary<string, float[]> FixtureState(PyTorchFixture f, string prefix, ResNet18Layout layout) =>
        layout.Tensors.ToDictionary(t => t.Name, t => t.Role == TensorRole.BatchesTracked
            ? [f.Longs(prefix + t.Name)[0]] : f.Floats(prefix + t.Name));

    /// <summary>
    /// |actual - expected| &lt;= atol + rtol |expected| for every element (and no NaN). The error reported is the worst
    /// |diff| as a fraction of what its element allows, so it passes up to 1.
    /// </summary>
    public static FixtureComparison Close(string name, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double rtol, double atol)
    {
        var (ratio, passed, detail) = CloseError(expected, actual, rtol, atol);
        return new FixtureComparison(name, ratio, 1, passed, $"|diff| / ({atol:0e0} + {rtol:0e0} |expected|)", detail);
    }

    /// <summary>Max |a - b| / max(max |b|, tiny): an error relative to the tensor's scale.</summary>
    public static double RelativeToScale(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        double worst = 0, scale = 1e-30;
        for (int i = 0; i < expected.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs((double)actual[i] - expected[i]));
            scale = Math.Max(scale, Math.Abs(expected[i]));
        }
        return worst / scale;
    }

    static (double Ratio, bool Passed, string Detail) CloseError(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double rtol, double atol)
    {
        if (expected.Length != actual.Length) return (double.NaN, false, $"{actual.Length} values where PyTorch has {expected.Length}");
        double worstAbs = 0, scale = 0, worstRatio = 0;
        bool passed = true;
        int nans = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (float.IsNaN(actual[i])) { nans++; passed = false; worstRatio = double.NaN; continue; }
            double diff = Math.Abs((double)actual[i] - expected[i]);
            double allowed = atol + rtol * Math.Abs(expected[i]);
            if (diff - allowed > 0) passed = false;
            worstAbs = Math.Max(worstAbs, diff);
            scale = Math.Max(scale, Math.Abs(expected[i]));
            if (!double.IsNaN(worstRatio)) worstRatio = Math.Max(worstRatio, diff / allowed);
        }
        string detail = $"{expected.Length} values, worst |diff| {worstAbs:0.00e+00} = {worstAbs / Math.Max(scale, 1e-30):0.00e+00} of max |expected|"
            + (nans > 0 ? $", {nans} NaN" : "");
        return (worstRatio, passed, detail);
    }

    /// <summary>
    /// Every tensor of the given roles against the fixture's (one comparison), and, unless <paramref name="trackedName"/> is
    /// null, every num_batches_tracked exactly (another).
    /// </summary>
    static IEnumerable<FixtureComparison> StateComparisons(string name, string prefix, PyTorchFixture f, ResNet18Layout layout,
        Dictionary<string, float[]> state, TensorRole[] roles, string? trackedName)
    {
        var close = new WorstError(name, 1, $"|diff| / ({StateAbsolute:0e0} + {StateRelative:0e0} |expected|)");
        var tracked = new WorstError(trackedName ?? "", 0, "|difference|");
        foreach (var t in layout.Tensors)
        {
            if (t.Role == TensorRole.BatchesTracked)
            {
                if (trackedName is null) continue;
                long expected = f.Longs(prefix + t.Name)[0], actual = (long)state[t.Name][0];
                tracked.Add(t.Name, Math.Abs(expected - actual), expected == actual);
            }
            else if (roles.Contains(t.Role))
            {
                var (ratio, passed, _) = CloseError(f.Floats(prefix + t.Name), state[t.Name], StateRelative, StateAbsolute);
                close.Add(t.Name, ratio, passed);
            }
        }
        yield return close.Result();
        if (trackedName is not null) yield return tracked.Result("counters");
    }

    static float[] Download(IOps ops, Slice<float> s)
    {
        var host = new float[s.Length];
        ops.Download(s, host);
        return host;
    }
}
