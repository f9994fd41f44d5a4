using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Tensors;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cpu;

public sealed class CpuHeadTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1, 3, 1)]
    [InlineData(3, 5, 16)]
    [InlineData(2, 7, 49)]
    public void GlobalAvgPoolAndItsGradient(int n, int c, int hw)
    {
        using var t = new CpuTestSupport(output);
        var rng = new Random(12);
        var xValues = CpuTestSupport.Random(rng, n * c * hw);
        var x = t.Buffer(xValues);
        var y = t.Zeros(n * c);
        t.Ops.GlobalAvgPoolForward(n, c, hw, x, y);
        var expected = new double[n * c];
        for (int row = 0; row < n * c; row++) expected[row] = xValues.Skip(row * hw).Take(hw).Select(v => (double)v).Average();
        t.AssertClose("avg pool y", CpuTestSupport.Read(y), expected, 1e-6, 1e-6);

        var r = CpuTestSupport.Random(rng, n * c);
        var dx = t.Zeros(n * c * hw);
        t.Ops.GlobalAvgPoolBackward(n, c, hw, t.Buffer(r), dx);
        t.AssertClose("avg pool dx", CpuTestSupport.Read(dx), Enumerable.Range(0, n * c * hw).Select(i => (double)r[i / hw] / hw).ToArray(), 1e-7, 1e-6);
        double Objective() { t.Ops.GlobalAvgPoolForward(n, c, hw, x, y); return CpuTestSupport.Objective(r, CpuOps.Span(y)); }
        // Linear in x: central differences are exact up to fp32 rounding of y over 2h = 0.02.
        t.CheckGradient("avg pool dx", x, Objective, CpuTestSupport.Read(dx), 1e-2f, 60, 1e-4, 1e-4, rng);
    }

    [Theory]
    [InlineData(1, 5, 3)]
    [InlineData(3, 37, 10)]
    [InlineData(4, 512, 10)]
    public void LinearAndItsGradients(int n, int inFeatures, int outFeatures)
    {
        var s = new LinearShape(n, inFeatures, outFeatures);
        using var t = new CpuTestSupport(output);
        var rng = new Random(13);
        float[] xv = CpuTestSupport.Random(rng, n * inFeatures), wv = CpuTestSupport.Random(rng, outFeatures * inFeatures),
            bv = CpuTestSupport.Random(rng, outFeatures), r = CpuTestSupport.Random(rng, n * outFeatures);
        var x = t.Buffer(xv);
        var w = t.Buffer(wv);
        var b = t.Buffer(bv);
        var y = t.Zeros(n * outFeatures);
        t.Ops.LinearForward(s, x, w, b, y);
        var expected = new double[n * outFeatures];
        for (int i = 0; i < n; i++)
            for (int o = 0; o < outFeatures; o++)
            {
                double sum = bv[o];
                for (int k = 0; k < inFeatures; k++) sum += (double)xv[i * inFeatures + k] * wv[o * inFeatures + k];
                expected[i * outFeatures + o] = sum;
            }
        t.AssertClose($"linear y {s}", CpuTestSupport.Read(y), expected, 1e-5, 1e-5);

        var dx = t.Zeros(n * inFeatures);
        var dw = t.Zeros(outFeatures * inFeatures);
        var db = t.Zeros(outFeatures);
        t.Ops.Fill(dw, 7f); // the op writes, it does not accumulate
        t.Ops.LinearBackward(s, x, w, t.Buffer(r), dx, dw, db);
        var refDx = new double[n * inFeatures];
        var refDw = new double[outFeatures * inFeatures];
        var refDb = new double[outFeatures];
        for (int i = 0; i < n; i++)
            for (int o = 0; o < outFeatures; o++)
            {
                double g = r[i * outFeatures + o];
                refDb[o] += g;
                for (int k = 0; k < inFeatures; k++)
                {
                    refDx[i * inFeatures + k] += g * wv[o * inFeatures + k];
                    refDw[o * inFeatures + k] += g * xv[i * inFeatures + k];
                }
            }
        t.AssertClose("linear dx vs reference", CpuTestSupport.Read(dx), refDx, 1e-5, 1e-5);
        t.AssertClose("linear dw vs reference", CpuTestSupport.Read(dw), refDw, 1e-5, 1e-5);
        t.AssertClose("linear db vs reference", CpuTestSupport.Read(db), refDb, 1e-5, 1e-5);
        double Objective() { t.Ops.LinearForward(s, x, w, b, y); return CpuTestSupport.Objective(r, CpuOps.Span(y)); }
        // Linear in each of x, w, b: exact up to fp32 rounding of y (~1e-7 sqrt(In) per output) over 2h = 0.02.
        t.CheckGradient("linear dx", x, Objective, CpuTestSupport.Read(dx), 1e-2f, 40, 1e-3, 1e-3, rng);
        t.CheckGradient("linear dw", w, Objective, CpuTestSupport.Read(dw), 1e-2f, 40, 1e-3, 1e-3, rng);
        t.CheckGradient("linear db", b, Objective, CpuTestSupport.Read(db), 1e-2f, 40, 1e-3, 1e-3, rng);
    }

    [Theory]
    [InlineData(1, 10, 1f)]
    [InlineData(5, 10, -0.15f)]
    [InlineData(3, 7, 0.85f)]
    public void SoftmaxNllLossAndItsGradient(int n, int classes, float scale)
    {
        using var t = new CpuTestSupport(output);
        var rng = new Random(14);
        var zv = CpuTestSupport.Random(rng, n * classes, 4f);
        var labels = Enumerable.Range(0, n).Select(_ => rng.Next(classes)).ToArray();
        var z = t.Buffer(zv);
        var lab = t.Buffer(labels);
        var loss = t.Zeros(1);
        var dz = t.Zeros(n * classes);
        t.Ops.SoftmaxNllLoss(n, classes, z, lab, scale, loss, dz);
        double expectedLoss = 0;
        var expectedDz = new double[n * classes];
        for (int i = 0; i < n; i++)
        {
            var row = zv.Skip(i * classes).Take(classes).Select(v => (double)v).ToArray();
            double lse = Math.Log(row.Sum(Math.Exp));
            expectedLoss += (lse - row[labels[i]]) / n;
            for (int k = 0; k < classes; k++) expectedDz[i * classes + k] = scale / n * (Math.Exp(row[k] - lse) - (k == labels[i] ? 1 : 0));
        }
        t.AssertClose("nll loss", CpuTestSupport.Read(loss), new[] { expectedLoss }, 1e-6, 1e-6);
        t.AssertClose("nll dlogits vs reference", CpuTestSupport.Read(dz), expectedDz, 1e-7, 1e-5);
        var scratch = t.Zeros(n * classes);
        double Objective() { t.Ops.SoftmaxNllLoss(n, classes, z, lab, scale, loss, scratch); return scale * (double)CpuOps.Span(loss)[0]; }
        // Smooth: truncation ~h^2 = 1e-4 (relative), plus fp32 rounding of the loss (~2e-7 |loss|) over 2h = 0.02.
        t.CheckGradient("nll dlogits", z, Objective, CpuTestSupport.Read(dz), 1e-2f, n * classes, 1e-4, 3e-3, rng);
    }

    /// <summary>
    /// The distillation KL (SCRUB's DistillKL) against a plain fp64 reference: log p = z / T - log sum exp(z / T) (no max
    /// subtraction needed in fp64 for |z| / T up to 700), KL = T^2 / N sum p_t (log p_t - log p_s), gradient scale T / N (p_s - p_t).
    /// Logits uniform in +-range; 80 and 400 are the extreme cases (at 400, T = 1, a p_t of exp(-800) underflows to 0 in fp64 too,
    /// and its term must add 0, not NaN). Tolerances: the op also works in fp64 and rounds each output once, so loss rtol 1e-6 and
    /// gradient rtol 1e-6 (with accumulate, one more fp32 rounding of the sum) with atol 1e-9 for gradients near 0.
    /// </summary>
    [Theory]
    [InlineData(1, 10, 1f, 1f, false, 4f)]
    [InlineData(1, 10, 4f, -1f, true, 4f)]
    [InlineData(5, 10, 2f, 1f, false, 4f)]
    [InlineData(3, 7, 4f, 0.5f, true, 4f)]
    [InlineData(4, 10, 1f, 1f, false, 80f)]
    [InlineData(4, 10, 2f, -1f, true, 80f)]
    [InlineData(6, 10, 4f, 1f, false, 80f)]
    [InlineData(3, 10, 1f, 1f, true, 400f)]
    [InlineData(2, 1, 2f, 1f, false, 4f)]   // one class: p = 1, KL and gradient 0
    public void KlDivergenceMatchesFloat64Reference(int n, int classes, float temperature, float scale, bool accumulate, float range)
    {
        using var t = new CpuTestSupport(output);
        var rng = new Random(17);
        float[] sv = CpuTestSupport.Random(rng, n * classes, range), tv = CpuTestSupport.Random(rng, n * classes, range);
        float[] prior = CpuTestSupport.Random(rng, n * classes);   // the gradient already there (a cross-entropy's, say)
        var (expectedLoss, expectedGrad) = KlReference(n, classes, sv, tv, temperature, scale);
        if (accumulate)
            for (int i = 0; i < expectedGrad.Length; i++) expectedGrad[i] += prior[i];
        var s = t.Buffer(sv);
        var loss = t.Zeros(1);
        var ds = t.Buffer(accumulate ? prior : Enumerable.Repeat(7f, n * classes).ToArray());   // 7s: the op writes
        t.Ops.KlDivergence(n, classes, s, t.Buffer(tv), temperature, scale, loss, ds, accumulate);
        string what = $"KL N {n} C {classes} T {temperature} scale {scale} accumulate {accumulate} logits +-{range}";
        Assert.True(float.IsFinite(CpuTestSupport.Read(loss)[0]), $"{what}: loss {CpuTestSupport.Read(loss)[0]}");
        t.AssertClose($"{what}: loss", CpuTestSupport.Read(loss), new[] { expectedLoss }, 1e-12, 1e-6);
        t.AssertClose($"{what}: dstudent", CpuTestSupport.Read(ds), expectedGrad, 1e-9, 1e-6);
    }

    /// <summary>KL(p || p) = 0 exactly, with a zero gradient; a student that matches the teacher only up to a shift per row too.</summary>
    [Fact]
    public void KlDivergenceOfTheTeacherItselfIsZero()
    {
        using var t = new CpuTestSupport(output);
        var rng = new Random(18);
        var zv = CpuTestSupport.Random(rng, 3 * 10, 5f);
        var z = t.Buffer(zv);
        var loss = t.Zeros(1);
        var ds = t.Zeros(30);
        t.Ops.KlDivergence(3, 10, z, z, 2f, 1f, loss, ds, accumulate: false);
        t.AssertClose("KL(p || p)", CpuTestSupport.Read(loss), new[] { 0.0 }, 1e-12, 0);
        t.AssertClose("its gradient", CpuTestSupport.Read(ds), new double[30], 1e-12, 0);
        // softmax is shift-invariant: the student z + 3 has the teacher's distribution.
        t.Ops.KlDivergence(3, 10, t.Buffer(zv.Select(v => v + 3f).ToArray()), z, 2f, 1f, loss, ds, accumulate: false);
        t.AssertClose("KL of a shifted student", CpuTestSupport.Read(loss), new[] { 0.0 }, 1e-6, 0);
        t.AssertClose("its gradient", CpuTestSupport.Read(ds), new double[30], 1e-7, 0);
    }

    /// <summary>The gradient is the derivative of scale * loss (central differences of the op's own loss).</summary>
    [Theory]
    [InlineData(1, 10, 1f, 1f)]
    [InlineData(4, 10, 4f, -1f)]
    [InlineData(3, 7, 2f, 0.5f)]
    public void KlDivergenceGradientMatchesCentralDifferences(int n, int classes, float temperature, float scale)
    {
        using var t = new CpuTestSupport(output);
        var rng = new Random(19);
        var s = t.Buffer(CpuTestSupport.Random(rng, n * classes, 4f));
        var teacher = t.Buffer(CpuTestSupport.Random(rng, n * classes, 4f));
        var loss = t.Zeros(1);
        var ds = t.Zeros(n * classes);
        t.Ops.KlDivergence(n, classes, s, teacher, temperature, scale, loss, ds, accumulate: false);
        var scratch = t.Zeros(n * classes);
        double Objective()
        {
            t.Ops.KlDivergence(n, classes, s, teacher, temperature, scale, loss, scratch, accumulate: false);
            return scale * (double)CpuOps.Span(loss)[0];
        }
        // Smooth: truncation ~h^2 / T^2 (relative), plus fp32 rounding of the loss (~6e-8 |loss|) over 2h = 0.02.
        t.CheckGradient("KL dstudent", s, Objective, CpuTestSupport.Read(ds), 1e-2f, n * classes, 1e-4, 3e-3, rng);
    }

    [Fact]
    public void KlDivergenceRefusesBadArguments()
    {
        using var t = new CpuTestSupport(output);
        Slice<float> z = t.Zeros(20), loss = t.Zeros(1), ds = t.Zeros(20);
        void Kl(int n, int classes, Slice<float> s, Slice<float> te, float temperature, Slice<float> l, Slice<float> d)
            => t.Ops.KlDivergence(n, classes, s, te, temperature, 1f, l, d, accumulate: false);
        Assert.Throws<ArgumentException>(() => Kl(0, 20, t.Zeros(0), t.Zeros(0), 1f, loss, t.Zeros(0)));
        Assert.Throws<ArgumentException>(() => Kl(20, 0, t.Zeros(0), t.Zeros(0), 1f, loss, t.Zeros(0)));
        foreach (float temperature in new[] { 0f, -1f, float.NaN, float.PositiveInfinity })
            Assert.Throws<ArgumentException>(() => Kl(2, 10, z, z, temperature, loss, ds));
        Assert.Throws<ArgumentException>(() => Kl(2, 10, t.Zeros(19), z, 1f, loss, ds));
        Assert.Throws<ArgumentException>(() => Kl(2, 10, z, t.Zeros(21), 1f, loss, ds));
        Assert.Throws<ArgumentException>(() => Kl(2, 10, z, z, 1f, loss, t.Zeros(10)));
        Assert.Throws<ArgumentException>(() => Kl(2, 10, z, z, 1f, t.Zeros(0), ds));
        Kl(2, 10, z, z, 1f, loss, ds);
    }

    /// <summary>
    /// The KL and its gradient straight from the definition in fp64: log p = z / T - log sum_c exp(z_c / T) (finite for
    /// |z| / T &lt; 700), KL = T^2 / N sum p_t (log p_t - log p_s) (p_t = exp(log p_t); 0 where it underflows),
    /// d(scale KL)/ds = scale T / N (p_s - p_t).
    /// </summary>
    internal static (double Loss, double[] Gradient) KlReference(int n, int classes, float[] student, float[] teacher, double temperature, double scale)
    {
        double total = 0;
        var grad = new double[n * classes];
        for (int i = 0; i < n; i++)
        {
            double[] logPs = LogSoftmax(student.AsSpan(i * classes, classes), temperature);
            double[] logPt = LogSoftmax(teacher.AsSpan(i * classes, classes), temperature);
            for (int c = 0; c < classes; c++)
            {
                double pt = Math.Exp(logPt[c]);
                total += pt * (logPt[c] - logPs[c]);
                grad[i * classes + c] = scale * temperature / n * (Math.Exp(logPs[c]) - pt);
            }
        }
        return (temperature * temperature / n * total, grad);
    }

    private static double[] LogSoftmax(ReadOnlySpan<float> z, double temperature)
    {
        double sum = 0;
        foreach (float v in z) sum += Math.Exp(v / temperature);
        double logSum = Math.Log(sum);
        var result = new double[z.Length];
        for (int c = 0; c < z.Length; c++) result[c] = z[c] / temperature - logSum;
        return result;
    }
}
