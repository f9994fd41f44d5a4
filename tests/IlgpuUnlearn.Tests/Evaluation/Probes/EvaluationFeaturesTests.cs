using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Evaluation.Probes;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;
using IlgpuUnlearn.Tests.Kernels;
using IlgpuUnlearn.Unlearning;

namespace IlgpuUnlearn.Tests.Evaluation.Probes;

/// <summary>
/// The pooled penultimate features that the evaluation pass keeps (<see cref="Predictor.Outputs"/> with features) are, bit
/// for bit, those of the probe's own forward (<see cref="ModelFeatures.Penultimate"/>) at another batch size, and keeping them
/// leaves the logits as they were; so the probe fitted on them (<see cref="LinearProbe.Of"/>) is <see cref="LinearProbe.Measure"/>'s,
/// figure for figure. On each ops implementation the evaluation pass runs on (the CPU path; ILGPU, here on its CPU accelerator).
/// Data: Fixtures/cka_w4_s16.safetensors (a width-4 ResNet18 on 16x16 images, PyTorch-initialised models).
/// </summary>
public abstract class EvaluationFeaturesTests : IDisposable
{
    protected abstract IOps CreateOps();
    /// <summary>False where the ops belong to a shared test fixture.</summary>
    protected virtual bool OwnsOps => true;
    /// <summary>Images of each split used (ILGPU's CPU accelerator emulates every thread: a handful there, still in batches
    /// that differ between the two passes).</summary>
    protected abstract (int Train, int Test) Images { get; }
    IOps? ops;
    IOps Ops => ops ??= CreateOps();
    public void Dispose() { if (OwnsOps) ops?.Dispose(); GC.SuppressFinalize(this); }

    DatasetSplit Load() => ProbeFixture.Data(Images.Train, Images.Test);

    [Fact]
    public void TheEvaluationPassKeepsTheProbesFeaturesBitForBit()
    {
        var data = Load();
        // Batches of 5 for the evaluation pass, 7 for the probe's own forward: rows fall in different batches and positions.
        using var evaluated = ProbeFixture.Model(Ops, "unlearned", maxBatch: 5);
        using var own = ProbeFixture.Model(Ops, "unlearned", maxBatch: 7);

        foreach (var split in new[] { data.Train, data.Test })
        {
            var withFeatures = Predictor.Outputs(evaluated, split, features: true);
            var without = Predictor.Outputs(evaluated, split);
            Assert.True(withFeatures.HasFeatures);
            Assert.Equal(32, withFeatures.FeatureWidth);
            Assert.False(without.HasFeatures);
            Assert.Equal(without.AllLogits.ToArray(), withFeatures.AllLogits.ToArray());   // exact: reading the features changes nothing
            var separate = ModelFeatures.Penultimate(own, split);
            Assert.Equal(separate.Length, withFeatures.Features.Length);
            Assert.Contains(separate, v => v != 0);                                          // features of a real pass, not zeros
            Assert.Equal(separate, withFeatures.Features.ToArray());                          // exact, bit for bit
        }
    }

    /// <summary>The probe's figures from the kept features against its own forward; the fit is on the CPU either way.</summary>
    protected void ProbeFromTheEvaluationPassIsTheProbeOfItsOwnForward()
    {
        var data = Load();
        using var evaluated = ProbeFixture.Model(Ops, "base", maxBatch: 5);
        using var own = ProbeFixture.Model(Ops, "base", maxBatch: 7);
        var fromOutputs = LinearProbe.Of(Predictor.Outputs(evaluated, data.Train, features: true), Predictor.Outputs(evaluated, data.Test, features: true), forgetClass: 3);
        var measured = LinearProbe.Measure(own, data, forgetClass: 3);
        Assert.Equal(measured.ForgetAccuracy, fromOutputs.ForgetAccuracy);
        Assert.Equal(measured.RetainAccuracy, fromOutputs.RetainAccuracy);
        Assert.Equal(measured.ClassAccuracy, fromOutputs.ClassAccuracy);
        Assert.Equal(measured.Iterations, fromOutputs.Iterations);
        Assert.Equal(measured.Converged, fromOutputs.Converged);
        Assert.True(measured.Iterations > 0);
    }

    protected void ProbeRefusesOutputsWithoutFeatures()
    {
        var data = Load();
        using var model = ProbeFixture.Model(Ops, "base");
        var test = Predictor.Outputs(model, data.Test);
        var e = Assert.Throws<ArgumentException>(() => LinearProbe.Of(test, test, 3));
        Assert.Contains("no penultimate features", e.Message);
    }
}

public sealed class EvaluationFeaturesOnCpuPath : EvaluationFeaturesTests
{
    protected override IOps CreateOps() => new CpuOps();
    protected override (int Train, int Test) Images => (600, 120);

    [Fact]
    public void ProbeFromTheEvaluationPassIsTheProbeOfItsOwnForwardOnTheCpuPath() => ProbeFromTheEvaluationPassIsTheProbeOfItsOwnForward();

    [Fact]
    public void ProbeRefusesOutputsWithoutFeaturesOnTheCpuPath() => ProbeRefusesOutputsWithoutFeatures();
}

/// <summary>The same checks through the ILGPU kernels on ILGPU's CPU accelerator (an emulator: 50 s for 9 images under load).</summary>
[Trait("Category", "Slow")]
[Collection(IlgpuCpuCollection.Name)]
public sealed class EvaluationFeaturesOnIlgpuCpuAccelerator(IlgpuCpuFixture kernels) : EvaluationFeaturesTests
{
    protected override IOps CreateOps() => kernels.Tiled;
    protected override bool OwnsOps => false;
    protected override (int Train, int Test) Images => (6, 3);
}
