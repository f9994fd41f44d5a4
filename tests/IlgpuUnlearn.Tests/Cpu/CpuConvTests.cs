using IlgpuUnlearn.Tensors;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cpu;

/// <summary>The CPU convolutions against loops written from the definition (in fp64), and their gradients against central differences.</summary>
public sealed class CpuConvTests(ITestOutputHelper output)
{
    public static TheoryData<int, int, int, int, int, int, int, int> AwkwardShapes => new()
    {
        // N, Cin, H, W, Cout, K, stride, pad
        { 1, 3, 7, 5, 5, 3, 1, 1 },
        { 3, 5, 9, 9, 17, 3, 2, 1 },
        { 2, 6, 8, 8, 4, 1, 2, 0 },
        { 3, 7, 6, 6, 9, 1, 1, 0 },
        { 2, 3, 6, 7, 5, 3, 1, 0 },
        { 1, 19, 4, 4, 33, 3, 1, 1 },
        { 2, 4, 5, 5, 3, 3, 2, 0 },
        { 3, 20, 8, 8, 18, 3, 1, 1 },
        { 2, 18, 9, 7, 20, 3, 2, 1 },
        // stride 2 halving even sizes with an output of whole vectors: 3x3 read through the input's phases under AVX-512
        // (StrideTwoPhases), with channel tails (5 -> 12, 9 -> 10), non-square images, rows of 20 and 18 outputs (a split
        // whose rows end in a partial vector), an input of 1 MB per image (the forward splits 3 images per work item: 3 + 2), and backward-input
        // groups of 3 images with a shorter last one (P 64 and 1024, 5 images); 1x1 shortcuts of 32 output pixels (direct), 64
        // and 160 (rows of 20: forward from the even phase)
        { 3, 5, 8, 8, 12, 3, 2, 1 },
        { 2, 9, 16, 8, 10, 3, 2, 1 },
        { 5, 17, 16, 16, 9, 3, 2, 1 },
        { 2, 3, 8, 40, 6, 3, 2, 1 },
        { 1, 4, 16, 36, 5, 3, 2, 1 },
        { 2, 7, 8, 16, 20, 1, 2, 0 },
        { 3, 6, 16, 16, 11, 1, 2, 0 },
        { 2, 5, 16, 40, 7, 1, 2, 0 },
        { 5, 64, 64, 64, 8, 3, 2, 1 },
    };

    // ---- references, straight from the definition ------------------------------------------------

    internal static double[] ReferenceForward(ConvShape s, float[] x, float[] w)
    {
        var y = new double[s.OutputLength];
        for (int n = 0; n < s.N; n++)
        for (int co = 0; co < s.Cout; co++)
        for (int oh = 0; oh < s.OutH; oh++)
        for (int ow = 0; ow < s.OutW; ow++)
        {
            double sum = 0;
            for (int ci = 0; ci < s.Cin; ci++)
            for (int kh = 0; kh < s.K; kh++)
            for (int kw = 0; kw < s.K; kw++)
            {
                int ih = oh * s.Stride - s.Pad + kh, iw = ow * s.Stride - s.Pad + kw;
                if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                sum += (double)x[((n * s.Cin + ci) * s.H + ih) * s.W + iw] * w[((co * s.Cin + ci) * s.K + kh) * s.K + kw];
            }
            y[((n * s.Cout + co) * s.OutH + oh) * s.OutW + ow] = sum;
        }
        return y;
    }

    internal static double[] ReferenceBackwardInput(ConvShape s, float[] dy, float[] w)
    {
        var dx = new double[s.InputLength];
        for (int n = 0; n < s.N; n++)
        for (int co = 0; co < s.Cout; co++)
        for (int oh = 0; oh < s.OutH; oh++)
        for (int ow = 0; ow < s.OutW; ow++)
        for (int ci = 0; ci < s.Cin; ci++)
        for (int kh = 0; kh < s.K; kh++)
        for (int kw = 0; kw < s.K; kw++)
        {
            int ih = oh * s.Stride - s.Pad + kh, iw = ow * s.Stride - s.Pad + kw;
            if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
            dx[((n * s.Cin + ci) * s.H + ih) * s.W + iw] +=
                (double)dy[((n * s.Cout + co) * s.OutH + oh) * s.OutW + ow] * w[((co * s.Cin + ci) * s.K + kh) * s.K + kw];
        }
        return dx;
    }

    internal static double[] ReferenceBackwardWeight(ConvShape s, float[] x, float[] dy)
    {
        var dw = new double[s.WeightLength];
        for (int n = 0; n < s.N; n++)
        for (int co = 0; co < s.Cout; co++)
        for (int oh = 0; oh < s.OutH; oh++)
        for (int ow = 0; ow < s.OutW; ow++)
        for (int ci = 0; ci < s.Cin; ci++)
        for (int kh = 0; kh < s.K; kh++)
        for (int kw = 0; kw < s.K; kw++)
        {
            int ih = oh * s.Stride - s.Pad + kh, iw = ow * s.Stride - s.Pad + kw;
            if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
            dw[((co * s.Cin + ci) * s.K + kh) * s.K + kw] +=
                (double)dy[((n * s.Cout + co) * s.OutH + oh) * s.OutW + ow] * x[((n * s.Cin + ci) * s.H + ih) * s.W + iw];
        }
        return dw;
    }

    // ---- the ops against the references ----------------------------------------------------------

    // fp32 sums of Cin K K (or Cout K K, or N OH OW) products of values in [-1, 1]: the error grows like
    // sqrt(length) 6e-8 |terms|, far below 1e-5 for these lengths; 1e-5 absolute + 1e-5 relative leaves room.
    private const double Atol = 1e-5, Rtol = 1e-5;

    [Theory]
    [MemberData(nameof(AwkwardShapes))]
    public void ForwardMatchesReference(int n, int cin, int h, int w, int cout, int k, int stride, int pad)
    {
        var s = new ConvShape(n, cin, h, w, cout, k, stride, pad);
        using var t = new CpuTestSupport(output);
        var rng = new Random(1);
        float[] x = CpuTestSupport.Random(rng, s.InputLength), wt = CpuTestSupport.Random(rng, s.WeightLength);
        var y = t.Zeros(s.OutputLength);
        t.Ops.Fill(y, float.NaN);
        t.Ops.Conv2dForward(s, t.Buffer(x), t.Buffer(wt), y);
        t.AssertClose($"forward {s}", CpuTestSupport.Read(y), ReferenceForward(s, x, wt), Atol * Math.Sqrt(cin * k * k), Rtol);
    }

    [Theory]
    [MemberData(nameof(AwkwardShapes))]
    public void BackwardInputMatchesReference(int n, int cin, int h, int w, int cout, int k, int stride, int pad)
    {
        var s = new ConvShape(n, cin, h, w, cout, k, stride, pad);
        using var t = new CpuTestSupport(output);
        var rng = new Random(2);
        float[] dy = CpuTestSupport.Random(rng, s.OutputLength), wt = CpuTestSupport.Random(rng, s.WeightLength);
        var dx = t.Zeros(s.InputLength);
        t.Ops.Fill(dx, float.NaN);
        t.Ops.Conv2dBackwardInput(s, t.Buffer(dy), t.Buffer(wt), dx);
        t.AssertClose($"backward input {s}", CpuTestSupport.Read(dx), ReferenceBackwardInput(s, dy, wt), Atol * Math.Sqrt(cout * k * k), Rtol);
    }

    [Theory]
    [MemberData(nameof(AwkwardShapes))]
    public void BackwardWeightMatchesReference(int n, int cin, int h, int w, int cout, int k, int stride, int pad)
    {
        var s = new ConvShape(n, cin, h, w, cout, k, stride, pad);
        using var t = new CpuTestSupport(output);
        var rng = new Random(3);
        float[] x = CpuTestSupport.Random(rng, s.InputLength), dy = CpuTestSupport.Random(rng, s.OutputLength);
        var dw = t.Zeros(s.WeightLength);
        t.Ops.Fill(dw, float.NaN);
        t.Ops.Conv2dBackwardWeight(s, t.Buffer(x), t.Buffer(dy), dw);
        t.AssertClose($"backward weight {s}", CpuTestSupport.Read(dw), ReferenceBackwardWeight(s, x, dy),
            Atol * Math.Sqrt(n * s.OutH * s.OutW), Rtol);
    }

    // ---- gradients against central differences ---------------------------------------------------

    [Theory]
    [InlineData(2, 3, 5, 6, 4, 3, 1, 1)]
    [InlineData(3, 4, 7, 7, 5, 3, 2, 1)]
    [InlineData(2, 5, 6, 6, 3, 1, 2, 0)]
    public void GradientsMatchCentralDifferences(int n, int cin, int h, int w, int cout, int k, int stride, int pad)
    {
        var s = new ConvShape(n, cin, h, w, cout, k, stride, pad);
        using var t = new CpuTestSupport(output);
        var rng = new Random(4);
        var x = t.Buffer(CpuTestSupport.Random(rng, s.InputLength));
        var wt = t.Buffer(CpuTestSupport.Random(rng, s.WeightLength));
        var r = CpuTestSupport.Random(rng, s.OutputLength);
        var y = t.Zeros(s.OutputLength);
        double Objective()
        {
            t.Ops.Conv2dForward(s, x, wt, y);
            return CpuTestSupport.Objective(r, CpuOps_Span(y));
        }
        var dy = t.Buffer(r);
        var dx = t.Zeros(s.InputLength);
        var dw = t.Zeros(s.WeightLength);
        t.Ops.Conv2dBackwardInput(s, dy, wt, dx);
        t.Ops.Conv2dBackwardWeight(s, x, dy, dw);
        // The objective is linear in x and w, so central differences are exact but for fp32 rounding of y
        // (about 1e-7 |y| per output, summed over the outputs and divided by 2h = 0.02): 1e-3 is ample.
        t.CheckGradient($"conv dx {s}", x, Objective, CpuTestSupport.Read(dx), 1e-2f, 60, 1e-3, 1e-3, rng);
        t.CheckGradient($"conv dw {s}", wt, Objective, CpuTestSupport.Read(dw), 1e-2f, 60, 1e-3, 1e-3, rng);
    }

    private static ReadOnlySpan<float> CpuOps_Span(Slice<float> s) => IlgpuUnlearn.Cpu.CpuOps.Span(s);
}
