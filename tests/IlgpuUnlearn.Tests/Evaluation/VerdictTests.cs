using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Evaluation.Probes;

namespace IlgpuUnlearn.Tests.Evaluation;

/// <summary>The verdict against retraining: both directions, its thresholds' edges, and what it says without a retrained model.</summary>
public sealed class VerdictTests
{
    static ModelEvaluation Model(double ua, double tua, double tra, double mia, double forgetLoss) => new()
    {
        Model = "m.pth", Role = "unlearned",
        Test = new SplitMetrics { ForgetLoss = forgetLoss },
        Metrics = new()
        {
            [ModelEvaluation.UA] = MetricValue.Point(ua), [ModelEvaluation.TUA] = MetricValue.Point(tua),
            [ModelEvaluation.RA] = MetricValue.Point(tra), [ModelEvaluation.TRA] = MetricValue.Point(tra),
            [ModelEvaluation.MiaEfficacy] = MetricValue.Point(mia),
        },
    };

    static LinearProbe Probe(double forget, double retain) => new() { ForgetAccuracy = forget, RetainAccuracy = retain, Converged = true };

    static readonly ModelEvaluation Retrained = Model(ua: 0, tua: 0, tra: 94, mia: 100, forgetLoss: 5);

    [Fact]
    public void ProbeAccuracyFarAboveRetrainingIsUnderForgottenEvenAtZeroForgetAccuracy()
    {
        var verdict = Verdict.Judge(Model(0, 0, 93, 100, 6), Retrained, Probe(82, 90), Probe(31, 91), []);
        Assert.True(verdict.UnderForgotten);
        Assert.False(verdict.OverForgotten);
        Assert.False(verdict.RetainDamage);
        Assert.Equal("under-forgotten: probe_forget_accuracy 82.0% is 51.0 points above the retrained model's 31.0%", verdict.Line);
        var probe = verdict.Figures.Single(f => f.Figure == "probe_forget_accuracy");
        Assert.Equal(51, probe.Distance, 12);
        Assert.Equal("above", probe.Direction);
    }

    [Fact]
    public void ForgetLossFarAboveRetrainingIsOverForgotten()
    {
        var verdict = Verdict.Judge(Model(0, 0, 92, 100, 30), Retrained, Probe(30, 90), Probe(31, 91), []);
        Assert.True(verdict.OverForgotten);
        Assert.False(verdict.UnderForgotten);
        Assert.Equal("over-forgotten: forget test loss 30.00 is 6.0x the retrained model's 5.00", verdict.Line);
    }

    [Fact]
    public void ThresholdsAreStrictAndBothDirectionsOfMiaEfficacyCount()
    {
        // Exactly 5 points and exactly twice the loss are not far.
        var edge = Verdict.Judge(Model(5, 5, 89, 95, 10), Retrained, Probe(36, 86), Probe(31, 91), []);
        Assert.StartsWith("close to retraining", edge.Line);
        Assert.All(edge.Figures, f => Assert.False(f.Far));
        Assert.Empty(edge.NotJudged);

        var members = Verdict.Judge(Model(0, 0, 94, 80, 5), Retrained, null, null, []);
        Assert.True(members.UnderForgotten); // fewer forget images called unseen than for the retrained model
        Assert.Contains("MIA_efficacy 80.0% is 20.0 points below", members.Line);
        Assert.Contains(members.NotJudged, s => s.StartsWith("linear probe"));

        var retrainedLow = Model(0, 0, 94, 60, 5);
        var streisand = Verdict.Judge(Model(0, 0, 94, 100, 5), retrainedLow, null, null, []);
        Assert.True(streisand.OverForgotten);
    }

    [Fact]
    public void RetainDropAndCollapseAreRetainDamage()
    {
        var collapsed = new[] { new CollapsedClass(5, "dog", 88, 40, 48) };
        var verdict = Verdict.Judge(Model(0, 0, 80, 100, 5), Retrained, null, null, collapsed);
        Assert.True(verdict.RetainDamage);
        Assert.Contains("retain damage: RA 80.0% is 14.0 points below the retrained model's 94.0%", verdict.Line);
        Assert.Contains("collapsed: dog 40.0% (48.0 points below base)", verdict.Line);
    }

    [Fact]
    public void WithoutARetrainedModelItSaysWhatCannotBeJudged()
    {
        var verdict = Verdict.Judge(Model(50, 50, 90, 10, 1), null, Probe(90, 90), null, []);
        Assert.False(verdict.UnderForgotten || verdict.OverForgotten || verdict.RetainDamage);
        Assert.Empty(verdict.Figures);
        Assert.Contains(verdict.NotJudged, s => s.Contains("cannot be judged"));
        Assert.StartsWith("not judged against retraining", verdict.Line);

        var collapsed = Verdict.Judge(Model(50, 50, 90, 10, 1), null, null, null, [new CollapsedClass(1, "car", 95, 50, 45)]);
        Assert.True(collapsed.RetainDamage);
        Assert.StartsWith("collapsed: car", collapsed.Line);
    }
}
