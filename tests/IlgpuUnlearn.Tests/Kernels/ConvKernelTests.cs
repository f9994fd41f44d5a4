using IlgpuUnlearn.Ilgpu;
using IlgpuUnlearn.Kernels;
using IlgpuUnlearn.Tensors;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Kernels;

/// <summary>
/// Convolution forward, input gradient and weight gradient: the tiled implicit GEMM and the naive kernels on the ILGPU CPU
/// accelerator against the CPU path. Shapes cover 3x3 and 1x1, stride 1 and 2, with and without padding, odd sizes, N = 1 and 3,
/// and channel counts and pixel counts that are not multiples of the 64 x 64 tile (or larger than one tile); then the other
/// versions (128 x 128 wide tiles, the dense input gradient) on the shapes that matter to them.
/// Tolerance: max |error| &lt;= 2e-4 max |reference| (1e-3 for the weight gradient).
/// </summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class ConvKernelTests(IlgpuCpuFixture fixture, ITestOutputHelper output)
{
    public static TheoryData<int, int, int, int, int, int, int, int> Shapes => new()
    {
        // N, Cin, H, W, Cout, K, Stride, Pad
        { 1, 3, 5, 5, 4, 3, 1, 1 },
        { 3, 5, 7, 7, 6, 3, 2, 1 },
        { 2, 4, 6, 5, 5, 1, 2, 0 },
        { 3, 2, 4, 4, 3, 1, 1, 0 },
        { 2, 3, 9, 9, 3, 3, 1, 0 },
        { 1, 70, 3, 3, 66, 3, 1, 1 },
        { 1, 6, 10, 9, 5, 3, 2, 1 },
        { 2, 1, 9, 9, 3, 3, 1, 1 },     // one input channel: the stem of a grey-image (Fashion-MNIST) network
    };

    [Trait("Category", "Slow")]
    [Theory]
    [MemberData(nameof(Shapes))]
    public void TiledMatchesCpu(int n, int cin, int h, int w, int cout, int k, int stride, int pad)
    {
        using var c = new OpComparer(fixture.Tiled, fixture.Cpu);
        Expect.AllPass(output, IlgpuSelfTest.CheckConv(c, new ConvShape(n, cin, h, w, cout, k, stride, pad)));
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void NaiveMatchesCpu(int n, int cin, int h, int w, int cout, int k, int stride, int pad)
    {
        using var c = new OpComparer(fixture.Naive, fixture.Cpu);
        Expect.AllPass(output, IlgpuSelfTest.CheckConv(c, new ConvShape(n, cin, h, w, cout, k, stride, pad)));
    }

    /// <summary>The weight gradient with its reduction split across groups and summed by a second kernel (as on a large GPU).</summary>
    [Theory]
    [InlineData(3, 2, 6, 6, 3, 3, 1, 1, 3)]   // K = 108 pixels: 7 k-tiles in 3 splits, the last one partial
    [InlineData(2, 4, 7, 7, 5, 1, 2, 0, 2)]   // 1x1 stride 2, K = 32
    public void TiledWeightGradientWithSplits(int n, int cin, int h, int w, int cout, int k, int stride, int pad, int splits)
    {
        fixture.Tiled.WeightGradientSplitsOverride = splits;
        try
        {
            using var c = new OpComparer(fixture.Tiled, fixture.Cpu);
            Expect.AllPass(output, IlgpuSelfTest.CheckConv(c, new ConvShape(n, cin, h, w, cout, k, stride, pad)));
        }
        finally
        {
            fixture.Tiled.WeightGradientSplitsOverride = 0;
        }
    }

    /// <summary>The 128 x 128 double-buffered GEMM: strided, 1x1, more than one tile of rows (Cout 130) and of columns (144 pixels).</summary>
    [Theory]
    [InlineData(3, 5, 7, 7, 6, 3, 2, 1)]
    [InlineData(2, 4, 6, 5, 5, 1, 2, 0)]
    [InlineData(1, 3, 3, 3, 130, 1, 1, 0)]
    [InlineData(1, 2, 12, 12, 3, 1, 1, 0)]
    public void WideMatchesCpu(int n, int cin, int h, int w, int cout, int k, int stride, int pad)
    {
        using var c = new OpComparer(fixture.Wide, fixture.Cpu);
        Expect.AllPass(output, IlgpuSelfTest.CheckConv(c, new ConvShape(n, cin, h, w, cout, k, stride, pad)));
    }

    [Fact]
    public void WideWeightGradientWithSplits()
    {
        fixture.Wide.WeightGradientSplitsOverride = 3;
        try
        {
            using var c = new OpComparer(fixture.Wide, fixture.Cpu);
            Expect.AllPass(output, IlgpuSelfTest.CheckConv(c, new ConvShape(3, 2, 6, 6, 3, 3, 1, 1)));
        }
        finally
        {
            fixture.Wide.WeightGradientSplitsOverride = 0;
        }
    }

    /// <summary>
    /// The input gradient over every tap (the first version; the default now goes by stride phase, which the shapes above cover):
    /// strided shapes, including odd sizes where the phases hold different pixel counts and stride 3 (a phase with no tap).
    /// </summary>
    [Theory]
    [InlineData(3, 5, 7, 7, 6, 3, 2, 1)]
    [InlineData(2, 4, 6, 5, 5, 1, 2, 0)]
    [InlineData(1, 3, 8, 7, 2, 2, 3, 0)]
    public void TiledDenseMatchesCpu(int n, int cin, int h, int w, int cout, int k, int stride, int pad)
    {
        using var c = new OpComparer(fixture.TiledDense, fixture.Cpu);
        Expect.AllPass(output, IlgpuSelfTest.CheckConv(c, new ConvShape(n, cin, h, w, cout, k, stride, pad)));
    }

    /// <summary>The phase decomposition on shapes that stress it: stride 3 with a 2x2 kernel (phases with no tap), a 1-pixel input.</summary>
    [Theory]
    [InlineData(1, 3, 8, 7, 2, 2, 3, 0)]
    [InlineData(2, 2, 1, 1, 3, 3, 2, 1)]
    public void ByPhaseOnAwkwardStrides(int n, int cin, int h, int w, int cout, int k, int stride, int pad)
    {
        using var c = new OpComparer(fixture.Tiled, fixture.Cpu);
        Expect.AllPass(output, IlgpuSelfTest.CheckConv(c, new ConvShape(n, cin, h, w, cout, k, stride, pad)));
    }

    /// <summary>
    /// The TF32 tensor-core kernel's fragment bookkeeping (which lane loads, rounds, multiplies and stores which element; the k8
    /// steps; partial tiles; K-splits) on the CPU accelerator: its emulated form (Tf32Emulated), the same kernel and fragment
    /// registers with the mma formed by exchanging them across the warp. Inputs are rounded to TF32 on the host, so the kernel's own rounding changes
    /// nothing and every product of two 11-bit significands is exact in fp32: the result must match the fp32 CPU path to fp32
    /// summation order, the fp32 kernels' tolerance (2e-4 normwise; 1e-3 for the weight gradient). A misplaced fragment element
    /// gives errors of the order of the values themselves. Shapes (tiny: the CPU accelerator runs the 256-thread groups slowly):
    /// K not a multiple of 8 or of the 16-deep k-tile, M and N smaller than the tile, stride 2 phases, the weight gradient in 2 splits.
    /// </summary>
    [Trait("Category", "Slow")]
    [Theory]
    [InlineData(1, 2, 5, 5, 3, 3, 2, 1, 0)]   // stride 2: four phase GEMMs of 1, 2, 2 and 4 taps; K = 18, two k-tiles
    [InlineData(2, 2, 4, 4, 3, 3, 1, 1, 2)]   // the weight gradient's K = 32 pixels in 2 splits
    [InlineData(1, 3, 2, 2, 66, 1, 1, 0, 0)]  // 66 output channels: two row tiles forward, K = 66 for the input gradient
    [InlineData(1, 2, 9, 9, 2, 1, 1, 0, 0)]   // 81 pixels: two column tiles
    public void TensorCoreKernelMatchesCpuOnTf32Inputs(int n, int cin, int h, int w, int cout, int k, int stride, int pad, int splits)
    {
        var s = new ConvShape(n, cin, h, w, cout, k, stride, pad);
        var random = new Random(11);
        float[] Tf32Values(long length) => [.. Enumerable.Range(0, (int)length).Select(_ => RoundToTf32((float)(random.NextDouble() * 2 - 1)))];
        var x = Tf32Values(s.InputLength);
        var weights = Tf32Values(s.WeightLength);
        var dy = Tf32Values(s.OutputLength);
        fixture.Tf32.WeightGradientSplitsOverride = splits;
        try
        {
            foreach (var (pass, tolerance) in new[] { ("forward", IlgpuSelfTest.ConvTolerance), ("input gradient", IlgpuSelfTest.ConvTolerance), ("weight gradient", IlgpuSelfTest.WeightGradientTolerance) })
            {
                var expected = Run(fixture.Cpu, s, pass, x, weights, dy);
                var got = Run(fixture.Tf32, s, pass, x, weights, dy);
                double scale = expected.Max(v => Math.Abs((double)v));
                double error = expected.Zip(got, (e, g) => Math.Abs((double)e - g)).Max();
                output.WriteLine($"{s} {pass}: max |error| {error:E2}, max |reference| {scale:E2}, ratio {error / scale:E2} (tolerance {tolerance:E0})");
                Assert.True(scale > 0 && error <= tolerance * scale, $"{pass}: {error / scale:E2} of the reference's scale");
            }
        }
        finally
        {
            fixture.Tf32.WeightGradientSplitsOverride = 0;
        }
    }

    /// <summary>The emulated TF32 rounding is cvt.rna.tf32.f32's: to nearest, ties away from zero, 10 mantissa bits kept.</summary>
    [Fact]
    public void EmulatedTf32RoundingIsToNearestTiesAway()
    {
        var mma = new ImplicitGemmTensorCore.EmulatedMma();
        float Round(float v) => BitConverter.UInt32BitsToSingle(mma.ToTf32(v));
        Assert.Equal(1f, Round(1f + MathF.Pow(2, -12)));                              // below half an ulp (2^-10): down
        Assert.Equal(1f + MathF.Pow(2, -10), Round(1f + MathF.Pow(2, -11)));          // exactly half: away from zero
        Assert.Equal(-(1f + MathF.Pow(2, -10)), Round(-(1f + MathF.Pow(2, -11))));
        Assert.Equal(1f + MathF.Pow(2, -10), Round(1f + MathF.Pow(2, -10)));          // representable: kept
        Assert.Equal(float.PositiveInfinity, Round(float.PositiveInfinity));
        Assert.True(float.IsNaN(Round(float.NaN)));
    }

    /// <summary>x rounded to TF32 (10 mantissa bits, to nearest, ties away), computed here from its value, not its bits.</summary>
    private static float RoundToTf32(float x)
    {
        if (x == 0f)
            return x;
        int exponent = (int)Math.Floor(Math.Log2(Math.Abs(x)));
        double ulp = Math.Pow(2, exponent - 10);
        return (float)(Math.Sign(x) * Math.Floor(Math.Abs(x) / ulp + 0.5) * ulp);
    }

    private static float[] Run(IOps ops, ConvShape s, string pass, float[] x, float[] w, float[] dy)
    {
        using var xb = ops.Allocate<float>(s.InputLength);
        using var wb = ops.Allocate<float>(s.WeightLength);
        using var yb = ops.Allocate<float>(s.OutputLength);
        ops.Upload<float>(x, xb.All);
        ops.Upload<float>(w, wb.All);
        ops.Upload<float>(dy, yb.All);
        float[] result;
        switch (pass)
        {
            case "forward":
                ops.Conv2dForward(s, xb.All, wb.All, yb.All);
                ops.Download(yb.All, result = new float[s.OutputLength]);
                break;
            case "input gradient":
                ops.Conv2dBackwardInput(s, yb.All, wb.All, xb.All);
                ops.Download(xb.All, result = new float[s.InputLength]);
                break;
            default:
                ops.Conv2dBackwardWeight(s, xb.All, yb.All, wb.All);
                ops.Download(wb.All, result = new float[s.WeightLength]);
                break;
        }
        return result;
    }
}
