using IlgpuUnlearn.Evaluation;

namespace IlgpuUnlearn.Tests.Evaluation;

public class UnlearningReportTests
{
    private static double Nll(double a, double b, double c, int y) => EvaluationTestReports.Nll([a, b, c], y);

    [Fact]
    public void ComputesAccuraciesLossesAndConfusion()
    {
        var r = EvaluationTestReports.Report(forgetClass: 0);
        Assert.Equal(0, r.ForgetClass);
        Assert.Equal("cat", r.ForgetClassName);
        Assert.Equal(50.0, r.ForgetAccuracy, 12);                                // 1 of 2
        Assert.Equal(25.0, r.RetainAccuracy, 12);                                // 1 of 4
        Assert.Equal((Nll(2, 0, 0, 0) + Nll(0, 1, 0, 0)) / 2, r.ForgetLoss, 12);
        double retain = Nll(3, 1, 1, 1) + Nll(0, 0, 5, 1) + Nll(0, 0, 0.5, 2) + 200;
        Assert.Equal(retain / 4, r.RetainLoss, 10);
        Assert.Equal([50.0, 0.0, 50.0], r.PerClassAccuracy);
        Assert.Equal([[1L, 1, 0], [1L, 0, 1], [0L, 1, 1]], r.ConfusionMatrix);
        Assert.Equal(2, r.ForgetCount);
        Assert.Equal(4, r.RetainCount);
        Assert.Equal(100.0 * 2 / 6, r.OverallAccuracy, 12);
    }

    [Fact]
    public void LossIsStableForHugeLogits()
    {
        Assert.Equal(100.0, NegativeLogLikelihood.Of([100f, 200f, 0f], 0), 9);
        Assert.Equal(200.0, NegativeLogLikelihood.Of([100f, 200f, 0f], 2), 9);
        Assert.Equal(0.0, NegativeLogLikelihood.Of([1e30f, 0f], 0), 9);
        Assert.Equal(Math.Log(3), NegativeLogLikelihood.Of([-1e4f, -1e4f, -1e4f], 1), 12);
        Assert.Equal(1, NegativeLogLikelihood.ArgMax([1f, 3f, 3f]));
    }

    [Fact]
    public void AccumulatingInBatchesEqualsAllAtOnce()
    {
        var accumulator = new EvaluationAccumulator(3);
        accumulator.Add(EvaluationTestReports.Labels.AsSpan(0, 4), EvaluationTestReports.Logits.AsSpan(0, 12));
        byte[] rest = [2, 2];
        accumulator.Add(rest, EvaluationTestReports.Logits.AsSpan(12));
        Assert.Equal(6, accumulator.Count);
        var batched = accumulator.ToReport(1, EvaluationTestReports.Names);
        var whole = EvaluationTestReports.Report(1);
        Assert.Equal(UnlearningReportJson.Serialize(whole), UnlearningReportJson.Serialize(batched));
        Assert.Equal(0.0, whole.ForgetAccuracy);
    }

    [Fact]
    public void RejectsMismatchedInput()
    {
        Assert.Throws<ArgumentException>(() => UnlearningReport.Compute([0, 1], new float[5], 0, EvaluationTestReports.Names));
        Assert.Throws<ArgumentOutOfRangeException>(() => UnlearningReport.Compute([3], new float[3], 0, EvaluationTestReports.Names));
        Assert.Throws<ArgumentOutOfRangeException>(() => UnlearningReport.Compute([0], new float[3], 3, EvaluationTestReports.Names));
    }

    [Fact]
    public void EmptyClassGivesNaNAndStillSerialises()
    {
        var r = UnlearningReport.Compute([1, 1], [0, 1, 0, 0, 1, 0], 0, EvaluationTestReports.Names);
        Assert.True(double.IsNaN(r.ForgetAccuracy));
        Assert.True(double.IsNaN(r.PerClassAccuracy[2]));
        var back = UnlearningReportJson.Deserialize(UnlearningReportJson.Serialize(r));
        Assert.True(double.IsNaN(back.ForgetLoss));
        Assert.Equal(100.0, back.RetainAccuracy);
    }
}
