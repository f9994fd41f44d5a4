using IlgpuUnlearn.Tensors;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cpu;

public sealed class CpuOptimizerTests(ITestOutputHelper output)
{
    // p = (1, -2), g = (0.3, 0.4) so |g| = 0.5, m = (0.1, -0.1), lr 0.1, mu 0.9, wd 0.01.
    private static readonly float[] P = { 1f, -2f }, G = { 0.3f, 0.4f }, M = { 0.1f, -0.1f };

    private (float[] P, float[] M) Step((SgdUpdate Update, bool FirstStep) settings)
    {
        using var t = new CpuTestSupport(output);
        var p = t.Buffer(P);
        var g = t.Buffer(G);
        var m = t.Buffer(M);
        var sumOfSquares = t.Zeros(1);
        t.Ops.SumOfSquares(g, sumOfSquares);
        t.AssertClose("sum of squares", CpuTestSupport.Read(sumOfSquares), new[] { 0.25 }, 1e-7, 1e-6);
        t.Ops.ClipAndSgdStep(p, g, m, sumOfSquares, settings.Update, settings.FirstStep);
        return (CpuTestSupport.Read(p), CpuTestSupport.Read(m));
    }

    [Fact]
    public void FirstNesterovStepWithInactiveClip()
    {
        // clip 1 > |g|: g' = g. d = g + wd p = (0.31, 0.38); m = d; d = d + 0.9 m = (0.589, 0.722); p = (0.9411, -2.0722).
        var (p, m) = Step((new SgdUpdate(0.1f, 0.9f, 0.01f, Nesterov: true, Clip: 1f), true));
        using var t = new CpuTestSupport(output);
        t.AssertClose("p", p, new[] { 0.9411, -2.0722 }, 1e-6, 1e-6);
        t.AssertClose("m", m, new[] { 0.31, 0.38 }, 1e-6, 1e-6);
    }

    [Fact]
    public void LaterNesterovStepWithActiveClip()
    {
        // clip 0.25: g' = g 0.25 / (0.5 + 1e-6) = (0.15, 0.2) (times 0.999998). d = g' + wd p = (0.16, 0.18);
        // m = 0.9 (0.1, -0.1) + d = (0.25, 0.09); d = d + 0.9 m = (0.385, 0.261); p = (0.9615, -2.0261).
        var (p, m) = Step((new SgdUpdate(0.1f, 0.9f, 0.01f, Nesterov: true, Clip: 0.25f), false));
        using var t = new CpuTestSupport(output);
        t.AssertClose("p", p, new[] { 0.9615, -2.0261 }, 1e-6, 1e-6);
        t.AssertClose("m", m, new[] { 0.25, 0.09 }, 1e-6, 1e-6);
    }

    [Fact]
    public void LaterPlainMomentumStepWithoutClip()
    {
        // clip 0 (off): d = g + wd p = (0.31, 0.38); m = 0.9 (0.1, -0.1) + d = (0.4, 0.29); d = m; p = (0.96, -2.029).
        var (p, m) = Step((new SgdUpdate(0.1f, 0.9f, 0.01f, Nesterov: false, Clip: 0f), false));
        using var t = new CpuTestSupport(output);
        t.AssertClose("p", p, new[] { 0.96, -2.029 }, 1e-6, 1e-6);
        t.AssertClose("m", m, new[] { 0.4, 0.29 }, 1e-6, 1e-6);
    }

    [Fact]
    public void LongBuffersMatchTheFormula()
    {
        // Long enough to be split over the cores, with a tail that is not a multiple of the vector width.
        const int length = 300_007;
        using var t = new CpuTestSupport(output);
        var rng = new Random(15);
        float[] pv = CpuTestSupport.Random(rng, length), gr = CpuTestSupport.Random(rng, length),
            gf = CpuTestSupport.Random(rng, length), mv = CpuTestSupport.Random(rng, length);
        var p = t.Buffer(pv);
        var g = t.Buffer(gr);
        var m = t.Buffer(mv);
        t.Ops.CombineGradients(g, t.Buffer(gf), 0.85f, -0.15f, g); // aliasing the retain input
        var combined = gr.Select((v, i) => 0.85 * v - 0.15 * gf[i]).ToArray();
        t.AssertClose("combined gradient", CpuTestSupport.Read(g), combined, 1e-6, 1e-6);
        var sumOfSquares = t.Zeros(1);
        t.Ops.SumOfSquares(g, sumOfSquares);
        double ss = combined.Sum(v => v * v);
        t.AssertClose("sum of squares", CpuTestSupport.Read(sumOfSquares), new[] { ss }, 0, 1e-6);
        var settings = (Update: new SgdUpdate(0.1f, 0.9f, 5e-4f, Nesterov: true, Clip: 0.5f), FirstStep: false);
        t.Ops.ClipAndSgdStep(p, g, m, sumOfSquares, settings.Update, settings.FirstStep);
        double clip = Math.Min(1, 0.5 / (Math.Sqrt(ss) + 1e-6));
        var expectedP = new double[length];
        var expectedM = new double[length];
        for (int i = 0; i < length; i++)
        {
            double d = combined[i] * clip + 5e-4 * pv[i];
            expectedM[i] = 0.9 * mv[i] + d;
            expectedP[i] = pv[i] - 0.1 * (d + 0.9 * expectedM[i]);
        }
        t.AssertClose("p", CpuTestSupport.Read(p), expectedP, 1e-6, 1e-6);
        t.AssertClose("m", CpuTestSupport.Read(m), expectedM, 1e-6, 1e-6);
    }

    /// <summary>
    /// The update mask (SalUn's hard mask): where it is 0 the parameter keeps its bits and the momentum becomes 0, with weight
    /// decay, momentum and Nesterov on; elsewhere the step is bit for bit the unmasked one (each element's arithmetic is its own,
    /// so no tolerance is needed). Long enough for several chunks and a tail off the vector width; a second step checks that a
    /// zeroed momentum does not bring a masked weight back.
    /// </summary>
    [Fact]
    public void MaskedElementsKeepTheirBitsAndTheRestStepAsUnmasked()
    {
        const int length = 300_007;
        using var t = new CpuTestSupport(output);
        var rng = new Random(17);
        float[] pv = CpuTestSupport.Random(rng, length), gv = CpuTestSupport.Random(rng, length), mv = CpuTestSupport.Random(rng, length);
        float[] maskValues = Enumerable.Range(0, length).Select(_ => rng.Next(2) == 0 ? 0f : 1f).ToArray();
        var pMasked = t.Buffer(pv);
        var mMasked = t.Buffer(mv);
        var pPlain = t.Buffer(pv);
        var mPlain = t.Buffer(mv);
        var g = t.Buffer(gv);
        var mask = t.Buffer(maskValues);
        var sumOfSquares = t.Zeros(1);
        t.Ops.SumOfSquares(g, sumOfSquares);
        var update = new SgdUpdate(0.1f, 0.9f, 5e-4f, Nesterov: true, Clip: 0.5f);
        for (int step = 0; step < 2; step++)
        {
            t.Ops.ClipAndSgdStep(pMasked, g, mMasked, sumOfSquares, update, firstStep: step == 0, updateMask: mask);
            t.Ops.ClipAndSgdStep(pPlain, g, mPlain, sumOfSquares, update, firstStep: step == 0);
        }
        float[] p = CpuTestSupport.Read(pMasked), m = CpuTestSupport.Read(mMasked), plainP = CpuTestSupport.Read(pPlain), plainM = CpuTestSupport.Read(mPlain);
        int frozen = 0, moved = 0;
        for (int i = 0; i < length; i++)
        {
            if (maskValues[i] == 0f)
            {
                Assert.True(BitConverter.SingleToInt32Bits(p[i]) == BitConverter.SingleToInt32Bits(pv[i]), $"masked p[{i}] moved: {pv[i]:R} -> {p[i]:R}");
                Assert.True(m[i] == 0f, $"masked m[{i}] = {m[i]:R}");
                frozen++;
            }
            else
            {
                Assert.True(BitConverter.SingleToInt32Bits(p[i]) == BitConverter.SingleToInt32Bits(plainP[i]), $"p[{i}]: {p[i]:R}, unmasked step {plainP[i]:R}");
                Assert.True(BitConverter.SingleToInt32Bits(m[i]) == BitConverter.SingleToInt32Bits(plainM[i]), $"m[{i}]: {m[i]:R}, unmasked step {plainM[i]:R}");
                if (p[i] != pv[i]) moved++;
            }
        }
        output.WriteLine($"{frozen} masked elements kept, {moved} of {length - frozen} others moved");
        Assert.InRange(frozen, length / 3, 2 * length / 3);
        Assert.True(moved > (length - frozen) * 9 / 10, $"only {moved} unmasked elements moved");
    }
}
