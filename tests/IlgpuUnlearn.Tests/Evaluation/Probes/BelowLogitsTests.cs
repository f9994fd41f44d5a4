using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Evaluation.Probes;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Weights.ResNet18;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Evaluation.Probes;

/// <summary>The run's composite: a probe per model and CKA per pair, each model loaded from its weights into models of its own.</summary>
public sealed class BelowLogitsTests(ITestOutputHelper output)
{
    [Fact]
    public void ProbesEveryModelAndComparesEveryPairFromWeights()
    {
        var data = ProbeFixture.Data();
        var config = ProbeFixture.Config;
        using var ops = new CpuOps();
        using var holder = new ResNet18(ops, config, maxBatch: 5);
        var models = new[] { "unlearned", "base", "retrained" }.Select(role => (role, ProbeFixture.Weights(holder, role))).ToList();
        var result = BelowLogits.Compute(ops, config, models, data, forgetClass: 3, baseForgetAccuracy: 40,
            new BelowLogitsSettings { ForwardBatch = 7, Relearn = new RelearnSettings { ImageFraction = 0.1, MaxSteps = 2 } });

        Assert.Equal(["unlearned", "base", "retrained"], result.Probes.Keys);
        Assert.All(result.Probes.Values, p => Assert.InRange(p.ForgetAccuracy, 0, 100));
        Assert.Equal(["unlearned/base", "unlearned/retrained", "base/retrained"], result.Cka.Select(c => c.Model + "/" + c.Reference));
        Assert.Equal(["unlearned", "base", "retrained"], result.Relearn.Keys);
        Assert.All(result.Relearn.Values, r => Assert.Equal(20, r.TargetAccuracy, 12));
        Assert.Equal(7, result.Times.Count);

        // The same CKA as the models compared directly (the Comparator's minibatch of 1,000 holds each split whole here).
        using var a = new ResNet18(ops, config, 5);
        using var b = new ResNet18(ops, config, 5);
        ModelFiles.Load(a, models[0].Item2);
        ModelFiles.Load(b, models[1].Item2);
        var direct = ComparatorCka.Compute([("unlearned", a), ("base", b)], data.Train, data.Test, 3);
        Assert.Equal(direct[0].TestOther, result.Cka[0].TestOther);

        var text = BelowLogitsText.Format(models.Select(m => (m.Item1, m.Item1 + ".pth", (LinearProbe?)result.Probes[m.Item1], (RelearnTime?)result.Relearn[m.Item1])).ToList(), result.Cka);
        output.WriteLine(text);
        Assert.Contains("| unlearned.pth | unlearned | ", text);
        Assert.Contains("| base / retrained | test-other | 53 | ", text);
    }

    [Fact]
    public void ProbeFitsOnTheEvaluationOutputsFeaturesAndForwardsNothing()
    {
        var data = ProbeFixture.Data();
        var config = ProbeFixture.Config;
        using var ops = new CpuOps();
        using var evaluated = new ResNet18(ops, config, maxBatch: 5);
        var models = new List<(string, ResNet18Weights)> { ("retrained", ProbeFixture.Weights(evaluated, "retrained")) };
        var outputs = new Dictionary<string, (SampleOutputs, SampleOutputs)>
        {
            ["retrained"] = (IlgpuUnlearn.Unlearning.Predictor.Outputs(evaluated, data.Train, features: true),
                IlgpuUnlearn.Unlearning.Predictor.Outputs(evaluated, data.Test, features: true)),
        };
        var settings = new BelowLogitsSettings { ForwardBatch = 7, Relearn = null, Cka = false };
        var kept = BelowLogits.Compute(ops, config, models, data, forgetClass: 3, baseForgetAccuracy: null, settings, outputs: outputs);
        var forwarded = BelowLogits.Compute(ops, config, models, data, forgetClass: 3, baseForgetAccuracy: null, settings);

        Assert.Equal(0, kept.Times.Single().Images);                                  // no forward for the probe
        Assert.Equal(data.Train.Count + data.Test.Count, forwarded.Times.Single().Images);
        Assert.Equal(forwarded.Probes["retrained"].ClassAccuracy, kept.Probes["retrained"].ClassAccuracy);   // exact
        Assert.Equal(forwarded.Probes["retrained"].ForgetAccuracy, kept.Probes["retrained"].ForgetAccuracy);
        Assert.Equal(forwarded.Probes["retrained"].Iterations, kept.Probes["retrained"].Iterations);
    }
}
