using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Tensors;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cpu;

/// <summary>
/// Winograd F(2x2, 3x3) (<see cref="CpuWinogradConv"/>) against the fp64 definitions of <see cref="CpuConvTests"/>, on awkward
/// shapes, each error printed beside the direct (im2col GEMM) convolution's on the same data.
/// </summary>
public sealed unsafe class CpuWinogradConvTests(ITestOutputHelper output)
{
    public static TheoryData<int, int, int, int, int> AwkwardShapes => new()
    {
        // N, Cin, H, W, Cout (K 3, stride 1, padding 1)
        { 1, 3, 7, 7, 5 },      // one image, odd sizes: the last tile's second row and column fall outside
        { 5, 13, 5, 9, 11 },    // 15 tiles per image: the 48-tile blocks end inside an image's tile row; channel tails
        { 3, 7, 9, 7, 10 },     // 4 tile rows in a vector, 20 tiles per image: the second block starts inside an image
        { 3, 5, 3, 15, 6 },     // tile rows of 8 (two in a vector), odd height and width
        { 4, 6, 5, 2, 7 },      // tile rows of 1 tile (16 in a vector)
        { 2, 9, 6, 37, 20 },    // 19 tiles per tile row: a run of one whole vector and a partial one
        { 1, 300, 4, 4, 9 },    // Cin over the GEMM's K block (two blocks of 150 in packed U)
        { 3, 20, 8, 8, 57 },    // Cout over a micro-tile's 8 rows with a tail of 1
        { 2, 64, 7, 7, 64 },    // Fashion-MNIST's layer3 spatial size
        { 2, 32, 7, 7, 33 },    // the plan's smallest Winograd width
    };

    // The direct convolution's fp32 error is about 6e-8 sqrt(Cin 9) for values in [-1, 1] (a sum of Cin 9 rounded products).
    // Winograd rounds transformed values instead: |Bᵀ d B| <= 4 max|d| (two nonzeros per row of Bᵀ), |G g Gᵀ| <= 2.25 max|g|
    // (row sums of |G| at most 1.5), and each output sums 9 of the 16 GEMMs' results (three nonzeros per row of Aᵀ): terms up to
    // 9 x larger and 9 x as many sums meet in one output, about 9 sqrt(9) = 27 x the direct error at worst, 1.6e-6 sqrt(Cin 9);
    // 2e-6 sqrt(Cin 9) absolute (plus 1e-5 relative). Measured: 1.7e-7 to 3.7e-7 sqrt(Cin 9), within 2 x the direct
    // convolution's error on the same data (both printed).
    private const double Atol = 2e-6, Rtol = 1e-5;

    [Theory]
    [MemberData(nameof(AwkwardShapes))]
    public void ForwardMatchesReference(int n, int cin, int h, int w, int cout)
    {
        var s = new ConvShape(n, cin, h, w, cout, 3, 1, 1);
        using var t = new CpuTestSupport(output);
        var rng = new Random(11);
        float[] x = CpuTestSupport.Random(rng, s.InputLength), wt = CpuTestSupport.Random(rng, s.WeightLength);
        var y = Filled(s.OutputLength);
        var conv = new CpuWinogradConv();
        fixed (float* px = x, pw = wt, py = y) conv.Forward(s, px, pw, py);
        double[] reference = CpuConvTests.ReferenceForward(s, x, wt);
        PrintDirectError(t, $"direct forward {s}", Direct(s, x, wt, forward: true), reference);
        t.AssertClose($"Winograd forward {s}", y, reference, Atol * Math.Sqrt(cin * 9), Rtol);
    }

    [Theory]
    [MemberData(nameof(AwkwardShapes))]
    public void BackwardInputMatchesReference(int n, int cin, int h, int w, int cout)
    {
        var s = new ConvShape(n, cin, h, w, cout, 3, 1, 1);
        using var t = new CpuTestSupport(output);
        var rng = new Random(12);
        float[] dy = CpuTestSupport.Random(rng, s.OutputLength), wt = CpuTestSupport.Random(rng, s.WeightLength);
        var dx = Filled(s.InputLength);
        var conv = new CpuWinogradConv();
        fixed (float* pdy = dy, pw = wt, pdx = dx) conv.BackwardInput(s, pdy, pw, pdx);
        double[] reference = CpuConvTests.ReferenceBackwardInput(s, dy, wt);
        PrintDirectError(t, $"direct backward input {s}", Direct(s, dy, wt, forward: false), reference);
        t.AssertClose($"Winograd backward input {s}", dx, reference, Atol * Math.Sqrt(cout * 9), Rtol);
    }

    [Fact]
    public void CpuOpsRunsThePlansWinogradShapesWithinItsTolerance()
    {
        // through CpuOps: Winograd where this machine's plan says so (AVX-512), the direct convolution otherwise
        var s = new ConvShape(2, 32, 7, 7, 33, 3, 1, 1);
        output.WriteLine($"this machine's plan uses Winograd here: {CpuKernelPlan.Current.UsesWinograd(3, 1, 1, 32, 33)}");
        using var t = new CpuTestSupport(output);
        var rng = new Random(13);
        float[] x = CpuTestSupport.Random(rng, s.InputLength), wt = CpuTestSupport.Random(rng, s.WeightLength);
        float[] dy = CpuTestSupport.Random(rng, s.OutputLength);
        var y = t.Zeros(s.OutputLength);
        var dx = t.Zeros(s.InputLength);
        t.Ops.Fill(y, float.NaN);
        t.Ops.Fill(dx, float.NaN);
        t.Ops.Conv2dForward(s, t.Buffer(x), t.Buffer(wt), y);
        t.Ops.Conv2dBackwardInput(s, t.Buffer(dy), t.Buffer(wt), dx);
        t.AssertClose($"CpuOps forward {s}", CpuTestSupport.Read(y), CpuConvTests.ReferenceForward(s, x, wt), Atol * Math.Sqrt(s.Cin * 9), Rtol);
        t.AssertClose($"CpuOps backward input {s}", CpuTestSupport.Read(dx), CpuConvTests.ReferenceBackwardInput(s, dy, wt),
            Atol * Math.Sqrt(s.Cout * 9), Rtol);
    }

    [Fact]
    public void PlanSendsResNetShapesToWinogradAndTheStemToDirect()
    {
        var plan = CpuKernelPlan.For(new CpuCacheDescription("AuthenticAMD", true, 32 * 1024, 1024 * 1024));
        Assert.True(plan.UsesWinograd(3, 1, 1, 64, 64));
        Assert.True(plan.UsesWinograd(3, 1, 1, 512, 512));
        Assert.True(plan.UsesWinograd(3, 1, 1, 32, 32));
        Assert.False(plan.UsesWinograd(3, 1, 1, 16, 16));  // measured slower than direct
        Assert.False(plan.UsesWinograd(3, 1, 1, 3, 64));   // the stem
        Assert.False(plan.UsesWinograd(3, 2, 1, 64, 128)); // stride 2
        Assert.False(plan.UsesWinograd(1, 1, 0, 64, 64));  // 1x1
        Assert.False(CpuKernelPlan.For(new CpuCacheDescription("AuthenticAMD", false, 32 * 1024, 1024 * 1024)).UsesWinograd(3, 1, 1, 64, 64));
        // blocks: whole 48-tile panels, 4 per worker at least where the tiles allow, V and M within L2
        Assert.Equal(48, plan.WinogradTilesPerBlock(512, 512, 256, 2));             // layer4 at batch 64: 6 blocks
        Assert.Equal(96, plan.WinogradTilesPerBlock(64, 64, 64 * 256, 2));          // layer1: 1 MiB / (16 x 128 x 4 B) = 128 tiles
        Assert.Equal(48, plan.WinogradTilesPerBlock(64, 64, 10, 2));
    }

    /// <summary>NaN everywhere, so that an output the convolution fails to write shows.</summary>
    private static float[] Filled(long length)
    {
        var a = new float[length];
        Array.Fill(a, float.NaN);
        return a;
    }

    /// <summary>The direct (im2col GEMM) forward or backward-input, with Winograd turned off, on the same data.</summary>
    private static float[] Direct(ConvShape s, float[] input, float[] w, bool forward)
    {
        var result = new float[forward ? s.OutputLength : s.InputLength];
        fixed (float* pin = input, pw = w, pout = result)
        {
            // a 3x3 convolution padded by 1 equals a 5x5 one padded by 2 whose ring of taps is zero: never Winograd's shape
            var wide = new float[(long)s.Cout * s.Cin * 25];
            for (long f = 0; f < (long)s.Cout * s.Cin; f++)
                for (int kh = 0; kh < 3; kh++)
                    for (int kw = 0; kw < 3; kw++)
                        wide[f * 25 + (kh + 1) * 5 + kw + 1] = w[f * 9 + kh * 3 + kw];
            var s5 = s with { K = 5, Pad = 2 };
            using var ops = new CpuOps();
            var inBuffer = ops.Allocate<float>(input.Length).All;
            var wBuffer = ops.Allocate<float>(wide.Length).All;
            var outBuffer = ops.Allocate<float>(result.Length).All;
            input.CopyTo(CpuOps.Span(inBuffer));
            wide.CopyTo(CpuOps.Span(wBuffer));
            if (forward) ops.Conv2dForward(s5, inBuffer, wBuffer, outBuffer);
            else ops.Conv2dBackwardInput(s5, inBuffer, wBuffer, outBuffer);
            CpuOps.Span(outBuffer).CopyTo(result);
        }
        return result;
    }

    private static void PrintDirectError(CpuTestSupport t, string what, float[] direct, double[] reference)
    {
        double worst = 0;
        for (int i = 0; i < direct.Length; i++) worst = Math.Max(worst, Math.Abs(direct[i] - reference[i]));
        t.Output.WriteLine($"{what}: worst |error| {worst:E2}");
    }
}
