using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Tensors;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cpu;

public sealed class CpuBatchNormTests(ITestOutputHelper output)
{
    private const float Eps = 1e-5f, Momentum = 0.1f;

    /// <summary>Per channel: the mean and biased variance over N HW values, in fp64.</summary>
    private static (double[] Mean, double[] Var) ReferenceStatistics(BatchNormShape s, float[] x)
    {
        var mean = new double[s.C];
        var variance = new double[s.C];
        long m = (long)s.N * s.HW;
        for (int c = 0; c < s.C; c++)
        {
            double sum = 0;
            for (int n = 0; n < s.N; n++) for (int i = 0; i < s.HW; i++) sum += x[(n * s.C + c) * s.HW + i];
            mean[c] = sum / m;
            double sq = 0;
            for (int n = 0; n < s.N; n++) for (int i = 0; i < s.HW; i++) { double d = x[(n * s.C + c) * s.HW + i] - mean[c]; sq += d * d; }
            variance[c] = sq / m;
        }
        return (mean, variance);
    }

    [Theory]
    [InlineData(1, 3, 7)]
    [InlineData(3, 5, 33)]
    [InlineData(2, 17, 16)]
    [InlineData(4, 2, 1)]
    public void TrainForwardMatchesReference(int n, int c, int hw)
    {
        var s = new BatchNormShape(n, c, hw);
        using var t = new CpuTestSupport(output);
        var rng = new Random(5);
        // An offset mean and a spread unlike 1 make a wrong normalisation visible.
        var x = CpuTestSupport.Random(rng, s.Length, 2f).Select(v => v + 0.7f).ToArray();
        float[] gamma = CpuTestSupport.Random(rng, c), beta = CpuTestSupport.Random(rng, c);
        float[] runMean = CpuTestSupport.Random(rng, c), runVar = CpuTestSupport.Random(rng, c).Select(v => v + 2f).ToArray();
        var rm = t.Buffer(runMean);
        var rv = t.Buffer(runVar);
        var y = t.Zeros(s.Length);
        var saveMean = t.Zeros(c);
        var saveInvStd = t.Zeros(c);
        t.Ops.BatchNormTrainForward(s, t.Buffer(x), t.Buffer(gamma), t.Buffer(beta), rm, rv, Momentum, Eps, y, saveMean, saveInvStd);

        var (mean, variance) = ReferenceStatistics(s, x);
        var expectedY = new double[s.Length];
        long m = (long)n * hw;
        for (int ch = 0; ch < c; ch++)
            for (int b = 0; b < n; b++)
                for (int i = 0; i < hw; i++)
                {
                    int at = (b * c + ch) * hw + i;
                    expectedY[at] = gamma[ch] * (x[at] - mean[ch]) / Math.Sqrt(variance[ch] + Eps) + beta[ch];
                }
        t.AssertClose($"bn train y {s}", CpuTestSupport.Read(y), expectedY, 1e-5, 1e-5);

        // The backward pass recomputes y from x and the saved statistics: it must be the forward's y bit for bit
        // (in place, as the model does it).
        var recomputed = t.Buffer(x);
        t.Ops.BatchNormApply(s, recomputed, t.Buffer(gamma), t.Buffer(beta), saveMean, saveInvStd, recomputed);
        Assert.Equal(CpuTestSupport.Read(y), CpuTestSupport.Read(recomputed));
        t.AssertClose("bn saved mean", CpuTestSupport.Read(saveMean), mean, 1e-6, 1e-6);
        t.AssertClose("bn saved 1/std", CpuTestSupport.Read(saveInvStd), variance.Select(v => 1 / Math.Sqrt(v + Eps)).ToArray(), 1e-6, 1e-5);
        t.AssertClose("bn running mean", CpuTestSupport.Read(rm),
            Enumerable.Range(0, c).Select(ch => (1 - Momentum) * (double)runMean[ch] + Momentum * mean[ch]).ToArray(), 1e-6, 1e-6);
        t.AssertClose("bn running var (unbiased)", CpuTestSupport.Read(rv),
            Enumerable.Range(0, c).Select(ch => (1 - Momentum) * (double)runVar[ch] + Momentum * variance[ch] * (m > 1 ? m / (m - 1.0) : 1.0)).ToArray(),
            1e-6, 1e-5);
    }

    [Fact]
    public void RunningStatisticsUseTheUnbiasedVarianceByHand()
    {
        // One channel, x = 1, 2, 3, 6 (N = 2, HW = 2): mean 3, biased variance (4 + 1 + 0 + 9) / 4 = 3.5,
        // unbiased 14 / 3. From running mean 0.5, running var 2: 0.9 * 0.5 + 0.1 * 3 = 0.75, 0.9 * 2 + 0.1 * 14 / 3 = 2.2666667.
        var s = new BatchNormShape(2, 1, 2);
        using var t = new CpuTestSupport(output);
        var rm = t.Buffer(new[] { 0.5f });
        var rv = t.Buffer(new[] { 2f });
        var y = t.Zeros(4);
        var saveMean = t.Zeros(1);
        var saveInvStd = t.Zeros(1);
        t.Ops.BatchNormTrainForward(s, t.Buffer(new[] { 1f, 2f, 3f, 6f }), t.Buffer(new[] { 1f }), t.Buffer(new[] { 0f }),
            rm, rv, 0.1f, Eps, y, saveMean, saveInvStd);
        t.AssertClose("running mean", CpuTestSupport.Read(rm), new[] { 0.75 }, 1e-7, 1e-7);
        t.AssertClose("running var", CpuTestSupport.Read(rv), new[] { 2.2666667 }, 1e-7, 1e-7);
        t.AssertClose("saved mean", CpuTestSupport.Read(saveMean), new[] { 3.0 }, 1e-7, 1e-7);
        t.AssertClose("saved 1/std", CpuTestSupport.Read(saveInvStd), new[] { 1 / Math.Sqrt(3.5 + 1e-5) }, 1e-7, 1e-6);
        double inv = 1 / Math.Sqrt(3.5 + 1e-5);
        t.AssertClose("y", CpuTestSupport.Read(y), new[] { -2 * inv, -1 * inv, 0, 3 * inv }, 1e-6, 1e-6);
    }

    [Fact]
    public void EvalForwardMatchesReference()
    {
        var s = new BatchNormShape(3, 5, 19);
        using var t = new CpuTestSupport(output);
        var rng = new Random(6);
        var x = CpuTestSupport.Random(rng, s.Length, 3f);
        float[] gamma = CpuTestSupport.Random(rng, 5), beta = CpuTestSupport.Random(rng, 5);
        float[] runMean = CpuTestSupport.Random(rng, 5), runVar = CpuTestSupport.Random(rng, 5).Select(v => v + 1.5f).ToArray();
        var y = t.Zeros(s.Length);
        t.Ops.BatchNormEvalForward(s, t.Buffer(x), t.Buffer(gamma), t.Buffer(beta), t.Buffer(runMean), t.Buffer(runVar), Eps, y);
        var expected = new double[s.Length];
        for (int i = 0; i < s.Length; i++)
        {
            int c = i / s.HW % s.C;
            expected[i] = gamma[c] * (x[i] - (double)runMean[c]) / Math.Sqrt(runVar[c] + (double)Eps) + beta[c];
        }
        t.AssertClose("bn eval y", CpuTestSupport.Read(y), expected, 1e-5, 1e-5);
    }

    [Theory]
    [InlineData(2, 3, 5)]
    [InlineData(3, 4, 17)]
    public void BackwardMatchesReferenceAndCentralDifferences(int n, int c, int hw)
    {
        var s = new BatchNormShape(n, c, hw);
        using var t = new CpuTestSupport(output);
        var rng = new Random(7);
        var xValues = CpuTestSupport.Random(rng, s.Length, 2f).Select(v => v + 0.3f).ToArray();
        var x = t.Buffer(xValues);
        var gammaValues = CpuTestSupport.Random(rng, c).Select(v => v + 1.5f).ToArray();
        var gamma = t.Buffer(gammaValues);
        var beta = t.Buffer(CpuTestSupport.Random(rng, c));
        var rm = t.Zeros(c);
        var rv = t.Zeros(c);
        var y = t.Zeros(s.Length);
        var saveMean = t.Zeros(c);
        var saveInvStd = t.Zeros(c);
        var r = CpuTestSupport.Random(rng, s.Length);
        double Objective()
        {
            t.Ops.BatchNormTrainForward(s, x, gamma, beta, rm, rv, Momentum, Eps, y, saveMean, saveInvStd);
            return CpuTestSupport.Objective(r, CpuOps.Span(y));
        }
        Objective();
        var dx = t.Zeros(s.Length);
        var dgamma = t.Zeros(c);
        var dbeta = t.Zeros(c);
        t.Ops.BatchNormBackward(s, x, t.Buffer(r), gamma, saveMean, saveInvStd, dx, dgamma, dbeta);

        // Reference: the formula of the interface in fp64 from the fp64 statistics.
        var (mean, variance) = ReferenceStatistics(s, xValues);
        long m = (long)n * hw;
        var refDx = new double[s.Length];
        var refDgamma = new double[c];
        var refDbeta = new double[c];
        for (int ch = 0; ch < c; ch++)
        {
            double inv = 1 / Math.Sqrt(variance[ch] + Eps);
            for (int b = 0; b < n; b++)
                for (int i = 0; i < hw; i++)
                {
                    int at = (b * c + ch) * hw + i;
                    refDbeta[ch] += r[at];
                    refDgamma[ch] += r[at] * (xValues[at] - mean[ch]) * inv;
                }
            for (int b = 0; b < n; b++)
                for (int i = 0; i < hw; i++)
                {
                    int at = (b * c + ch) * hw + i;
                    double xhat = (xValues[at] - mean[ch]) * inv;
                    refDx[at] = gammaValues[ch] * inv / m * (m * r[at] - refDbeta[ch] - xhat * refDgamma[ch]);
                }
        }
        t.AssertClose($"bn dx {s} vs formula", CpuTestSupport.Read(dx), refDx, 1e-5, 1e-4);
        t.AssertClose("bn dgamma vs formula", CpuTestSupport.Read(dgamma), refDgamma, 1e-5, 1e-5);
        t.AssertClose("bn dbeta vs formula", CpuTestSupport.Read(dbeta), refDbeta, 1e-5, 1e-5);

        // Central differences, h = 1e-2 on values of size ~1: truncation error ~h^2 |f'''| ~ 1e-4 plus fp32 rounding of
        // y (~1e-7 |y| per output, over 2h): tolerance 2e-3 absolute + 2e-3 relative.
        t.CheckGradient($"bn dx {s}", x, Objective, CpuTestSupport.Read(dx), 1e-2f, 50, 2e-3, 2e-3, rng);
        t.CheckGradient("bn dgamma", gamma, Objective, CpuTestSupport.Read(dgamma), 1e-2f, c, 2e-3, 2e-3, rng);
        t.CheckGradient("bn dbeta", beta, Objective, CpuTestSupport.Read(dbeta), 1e-2f, c, 2e-3, 2e-3, rng);
    }

    /// <summary>
    /// The fused ops (BatchNorm, + residual, ReLU in one pass; the ReLU's backward mask recomputed from x) give exactly the
    /// bits of the composition their IOps default bodies spell out, run here op by op on the same CPU ops. Shapes: a row
    /// shorter than a vector, tails of 1 and 1..15 values, and one large enough to be split over the cores.
    /// </summary>
    [Theory]
    [InlineData(3, 5, 33)]
    [InlineData(2, 17, 16)]
    [InlineData(4, 2, 1)]
    [InlineData(8, 24, 400)]
    public void FusedOpsEqualTheCompositionBitForBit(int n, int c, int hw)
    {
        var s = new BatchNormShape(n, c, hw);
        using var t = new CpuTestSupport(output);
        var rng = new Random(11);
        var x = t.Buffer(CpuTestSupport.Random(rng, s.Length, 2f));
        var residual = t.Buffer(CpuTestSupport.Random(rng, s.Length));
        var gamma = t.Buffer(CpuTestSupport.Random(rng, c).Select(v => v + 1f).ToArray());
        var beta = t.Buffer(CpuTestSupport.Random(rng, c));
        var dyValues = CpuTestSupport.Random(rng, s.Length);
        IOps ops = t.Ops;
        foreach (bool withResidual in new[] { false, true })
        {
            Slice<float>? r = withResidual ? residual : null;
            // Training forward: fused, then the same forward unfused from the same running statistics.
            var (rm1, rv1, rm2, rv2) = (t.Zeros(c), t.Zeros(c), t.Zeros(c), t.Zeros(c));
            var (mean1, inv1, mean2, inv2) = (t.Zeros(c), t.Zeros(c), t.Zeros(c), t.Zeros(c));
            var fused = t.Zeros(s.Length);
            ops.BatchNormTrainForwardRelu(s, x, gamma, beta, rm1, rv1, Momentum, Eps, fused, mean1, inv1, r);
            var composed = t.Zeros(s.Length);
            ops.BatchNormTrainForward(s, x, gamma, beta, rm2, rv2, Momentum, Eps, composed, mean2, inv2);
            if (r is { } res) ops.Add(composed, res, composed);
            ops.ReluForward(composed, composed);
            Assert.Equal(CpuTestSupport.Read(composed), CpuTestSupport.Read(fused));
            Assert.Equal(CpuTestSupport.Read(rm2).Concat(CpuTestSupport.Read(rv2)), CpuTestSupport.Read(rm1).Concat(CpuTestSupport.Read(rv1)));
            Assert.True(CpuTestSupport.Read(fused).Any(v => v == 0f) && CpuTestSupport.Read(fused).Any(v => v > 0f), "the ReLU cuts some values, not all");

            // The recomputation, in place as the model does it.
            var recomputed = t.Buffer(CpuTestSupport.Read(x));
            ops.BatchNormApplyRelu(s, recomputed, gamma, beta, mean1, inv1, recomputed, r);
            Assert.Equal(CpuTestSupport.Read(fused), CpuTestSupport.Read(recomputed));
        }

        // Backward through relu(bn(x)): the fused op against ReluBackward then BatchNormBackward.
        var stats = (rm: t.Zeros(c), rv: t.Zeros(c), mean: t.Zeros(c), inv: t.Zeros(c));
        var y = t.Zeros(s.Length);
        ops.BatchNormTrainForwardRelu(s, x, gamma, beta, stats.rm, stats.rv, Momentum, Eps, y, stats.mean, stats.inv, null);
        var (dx1, dg1, db1, dx2, dg2, db2) = (t.Zeros(s.Length), t.Zeros(c), t.Zeros(c), t.Zeros(s.Length), t.Zeros(c), t.Zeros(c));
        ops.BatchNormReluBackward(s, x, y, t.Buffer(dyValues), gamma, beta, stats.mean, stats.inv, dx1, dg1, db1);
        var masked = t.Buffer(dyValues);
        ops.ReluBackward(y, masked, masked);
        ops.BatchNormBackward(s, x, masked, gamma, stats.mean, stats.inv, dx2, dg2, db2);
        Assert.Equal(CpuTestSupport.Read(dx2), CpuTestSupport.Read(dx1));
        Assert.Equal(CpuTestSupport.Read(dg2), CpuTestSupport.Read(dg1));
        Assert.Equal(CpuTestSupport.Read(db2), CpuTestSupport.Read(db1));
    }

    /// <summary>
    /// The variance (squared deviations from the channel's mean, fp32 within a row, fp64 over rows) against the fp64 two-pass
    /// reference where the mean is large against the spread (offset 300, spread 0.5, so E[x^2] - E[x]^2 in fp32 would lose
    /// every digit), with rows whose means differ (a per-image offset). Tolerance 1e-6 relative on the variance: the deviations
    /// are exact differences of nearby fp32 values, their squares summed in fp32 over ~HW / 16 terms per lane (~1e-7
    /// relative), the result rounded once to fp32 (6e-8). The mean: its fp32 rounding at 300 is up to 1.5e-5 (5e-8 relative).
    /// </summary>
    [Fact]
    public void VarianceKeepsItsDigitsUnderALargeMean()
    {
        var s = new BatchNormShape(6, 3, 50);
        using var t = new CpuTestSupport(output);
        var rng = new Random(3);
        var x = CpuTestSupport.Random(rng, s.Length, 0.5f);
        for (int i = 0; i < x.Length; i++) x[i] += 300f + i / (s.C * s.HW) * 0.25f;
        var saveMean = t.Zeros(s.C);
        var saveInvStd = t.Zeros(s.C);
        var rv = t.Zeros(s.C);
        var ones = t.Buffer(Enumerable.Repeat(1f, s.C).ToArray());
        t.Ops.BatchNormTrainForward(s, t.Buffer(x), ones, t.Zeros(s.C), t.Zeros(s.C), rv, 1f, Eps, t.Zeros(s.Length), saveMean, saveInvStd);
        var (mean, variance) = ReferenceStatistics(s, x);
        long m = (long)s.N * s.HW;
        t.AssertClose("bn mean, offset 300", CpuTestSupport.Read(saveMean), mean, 0, 1e-7);
        // momentum 1: the running variance is the batch's unbiased variance, rounded once to fp32.
        t.AssertClose("bn variance, offset 300", CpuTestSupport.Read(rv), variance.Select(v => v * m / (m - 1)).ToArray(), 0, 1e-6);
    }
}
