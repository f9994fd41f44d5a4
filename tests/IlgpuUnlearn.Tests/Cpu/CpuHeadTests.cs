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
}
