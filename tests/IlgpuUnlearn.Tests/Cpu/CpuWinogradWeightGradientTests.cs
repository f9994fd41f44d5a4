using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Tensors;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cpu;

/// <summary>
/// The Winograd F(2x2, 3x3) weight gradient (<see cref="CpuWinogradWeightGradient"/>) against the fp64 definition
/// (<see cref="CpuConvTests.ReferenceBackwardWeight"/>) and the direct path (<see cref="CpuConvWeightGradient"/>), on shapes with
/// partial tiles (odd H and W), both ways of reading tiles (gathered for narrow images, along rows of tiles for wide ones,
/// with rows of more than one vector of tiles), channel counts off the micro-kernel's 4 x 6 tile, one
/// image, and more images than one block holds; run twice for bit-identical results; and the plan's choice of it.
/// </summary>
public sealed unsafe class CpuWinogradWeightGradientTests(ITestOutputHelper output)
{
    public static TheoryData<int, int, int, int, int> AwkwardShapes => new()
    {
        // N, Cin, H, W, Cout
        { 1, 5, 7, 7, 7 },    // one image, odd size: the last row and column of tiles overhang; 5 = not a multiple of 6
        { 3, 13, 5, 9, 6 },   // odd, not square; Cout 6 not a multiple of 4
        { 2, 6, 4, 4, 9 },    // layer4's 4x4 (whole tiles); Cout 9 = two tiles of 4 and one row
        { 2, 3, 1, 3, 2 },    // one row: every tile hangs over the bottom; fewer channels than one micro-tile
        { 2, 4, 6, 35, 5 },   // 18 tiles across: a row of tiles longer than one vector
        { 3, 17, 8, 8, 19 },  // the tails of both channel counts at once
        { 2, 5, 19, 17, 7 },  // 9 tiles across, odd H and W: transformed along rows of tiles rather than gathered
        { 1, 3, 32, 32, 4 },  // CIFAR's 32x32, rows of 16 tiles (whole vectors)
    };

    /// <summary>
    /// The tolerance for one dw element of a sum over <paramref name="tiles"/> tiles of values of magnitude at most 1, and why.
    /// Each number of dU[ξ] is an fp32 sum of N T products m v, |m| &lt;= 4 (a transformed dy tile adds at most 4 values) and
    /// |v| &lt;= 4 (the input tile's transform, likewise); the summation's rounding grows like sqrt(N T) eps32 (6e-8) |m v|, and
    /// dg = Gᵀ dU G adds up to 16 of them with weights whose absolute values sum to at most 4: sqrt(N T) 6e-8 x 16 x 4 =
    /// 3.8e-6 sqrt(N T), times 3 for the tails of a rounding distribution (the errors are random walks, not bounds).
    /// </summary>
    private static double Tolerance(long tiles) => 3 * 16 * 4 * 6e-8 * Math.Sqrt(tiles);
    private const double Rtol = 1e-5; // on top: fp32's relative rounding of the result itself with ample room

    [Theory]
    [MemberData(nameof(AwkwardShapes))]
    public void MatchesFp64Reference(int n, int cin, int h, int w, int cout)
    {
        var s = new ConvShape(n, cin, h, w, cout, 3, 1, 1);
        var rng = new Random(5);
        float[] x = CpuTestSupport.Random(rng, s.InputLength), dy = CpuTestSupport.Random(rng, s.OutputLength);
        float[] dw = Winograd(s, x, dy);
        using var t = new CpuTestSupport(output);
        t.AssertClose($"Winograd dw {s} vs fp64", dw, CpuConvTests.ReferenceBackwardWeight(s, x, dy), Tolerance(Tiles(s)), Rtol);
        t.AssertClose($"Winograd dw {s} vs direct fp32", dw, Direct(s, x, dy), 2 * Tolerance(Tiles(s)), 2 * Rtol);
    }

    [Fact]
    public void ManyImagesSplitIntoBlocksMatchTheReference()
    {
        // 7x7 images have 16 tiles each: 200 images are 3,200 tiles, more than one block (a plan's target is at most 1,536
        // tiles for an L1 of 48 KiB), so blocks of whole images follow one another and the last one is partial
        var s = new ConvShape(200, 7, 7, 7, 5, 3, 1, 1);
        Assert.True(Tiles(s) > 2 * CpuKernelPlan.Current.WeightGradientGroupPixels, "the shape must span more than two blocks");
        var rng = new Random(6);
        float[] x = CpuTestSupport.Random(rng, s.InputLength), dy = CpuTestSupport.Random(rng, s.OutputLength);
        using var t = new CpuTestSupport(output);
        t.AssertClose($"Winograd dw {s} vs fp64", Winograd(s, x, dy), CpuConvTests.ReferenceBackwardWeight(s, x, dy), Tolerance(Tiles(s)), Rtol);
    }

    /// <summary>
    /// Its fp32 error on every 3x3 stride-1 shape of ResNet18 (batch 4, post-ReLU inputs: one-signed, the case where the
    /// transforms' sums are largest), as relative rms error against fp64, next to PyTorch 1.13's own fp32 weight gradient on
    /// the same distribution (bench/cpu/torch_weight_gradient_error.py; NCHW, 2 threads; other draws, and a relative rms over
    /// 37k-2.4M values varies by about 1% between draws). Measured here: 2.3e-7, 1.5e-7, 1.3e-7, 1.3e-7 (the direct path
    /// 1.5e-7, 1.3e-7, 0.8e-7, 0.6e-7). The bound is PyTorch's figure, times 1.25 at layer4's 4x4 only, where with 4 tiles
    /// an image the transforms' rounding is not averaged down by long sums and ours is 1.2x PyTorch NCHW's (1.6x its
    /// channels-last 7.9e-8); at layers 1 to 3 ours is 0.3-0.6x PyTorch's.
    /// </summary>
    [Theory]
    [InlineData(64, 32, 7.26e-7)]
    [InlineData(128, 16, 4.87e-7)]
    [InlineData(256, 8, 2.27e-7)]
    [InlineData(512, 4, 1.25 * 1.07e-7)]
    public void ErrorOnResNet18sShapesIsPyTorchs(int channels, int size, double bound)
    {
        var s = new ConvShape(4, channels, size, size, channels, 3, 1, 1);
        var rng = new Random(11);
        float[] x = CpuTestSupport.Random(rng, s.InputLength), dy = CpuTestSupport.Random(rng, s.OutputLength);
        for (int i = 0; i < x.Length; i++) x[i] = Math.Max(0f, x[i] + 0.5f);
        double[] reference = CpuConvTests.ReferenceBackwardWeight(s, x, dy);
        double RelativeRms(float[] dw)
        {
            double error = 0, norm = 0;
            for (int i = 0; i < dw.Length; i++) (error, norm) = (error + (dw[i] - reference[i]) * (dw[i] - reference[i]), norm + reference[i] * reference[i]);
            return Math.Sqrt(error / norm);
        }
        double winograd = RelativeRms(Winograd(s, x, dy)), direct = RelativeRms(Direct(s, x, dy));
        output.WriteLine($"{s}: relative rms error against fp64: Winograd {winograd:E2}, direct {direct:E2}, bound {bound:E2} (PyTorch fp32's)");
        Assert.True(winograd <= bound, $"Winograd's relative rms error {winograd:E2} passes {bound:E2}");
    }

    [Fact]
    public void TheCpuOpsTakeTheWinogradWeightGradientAndMatchTheReference()
    {
        // the shipped path: CpuOps.Conv2dBackwardWeight on a shape the plan gives to Winograd where AVX-512 is (odd size,
        // tails of 4 and 6 in neither count: 64 = 10 x 6 + 4 input channels), against the fp64 definition
        var s = new ConvShape(3, 64, 5, 7, CpuKernelPlan.WinogradWeightGradientMinChannelsMeasured + 2, 3, 1, 1);
        Assert.Equal(CpuCacheDescription.ThisMachine.Avx512, CpuKernelPlan.Current.UsesWinogradWeightGradient(s));
        using var t = new CpuTestSupport(output);
        var rng = new Random(8);
        float[] x = CpuTestSupport.Random(rng, s.InputLength), dy = CpuTestSupport.Random(rng, s.OutputLength);
        var dw = t.Zeros(s.WeightLength);
        t.Ops.Fill(dw, float.NaN);
        t.Ops.Conv2dBackwardWeight(s, t.Buffer(x), t.Buffer(dy), dw);
        t.AssertClose($"CpuOps dw {s} vs fp64", CpuTestSupport.Read(dw), CpuConvTests.ReferenceBackwardWeight(s, x, dy), Tolerance(Tiles(s)), Rtol);
    }

    [Fact]
    public void TwoRunsAreBitIdentical()
    {
        // enough channels and images that both parallel passes have many work items and several blocks
        var s = new ConvShape(40, 24, 9, 9, 20, 3, 1, 1);
        var rng = new Random(7);
        float[] x = CpuTestSupport.Random(rng, s.InputLength), dy = CpuTestSupport.Random(rng, s.OutputLength);
        var winograd = new CpuWinogradWeightGradient();
        float[] first = Run(winograd, s, x, dy), second = Run(winograd, s, x, dy), fresh = Run(new CpuWinogradWeightGradient(), s, x, dy);
        Assert.Equal(Bits(first), Bits(second));
        Assert.Equal(Bits(first), Bits(fresh));
    }

    [Fact]
    public void AnInstanceNothingElseHoldsKeepsItsScratchUntilRunReturns()
    {
        // Run writes V and M through raw pointers into native blocks only the instance holds (CpuScratch, freed by its
        // finalizer); a temporary instance (as Winograd() makes) must not let the GC collect it mid-call. Regression: with full
        // opts (DOTNET_TieredCompilation=0, or tier 1 once Run is hot) the blocks (pinned arrays then) were freed and reused
        // while the transforms wrote into them (crashes, wrong dw). A second thread collects, runs the finalizers and allocates
        // throughout, pinned arrays and native blocks of the Winograd scratch's size (8 MiB and more) filled with NaN, so freed
        // memory is reused (or unmapped) at once; the gathered path's shape (5 tiles across). Bounded work: 200 calls of 45 tiles.
        var s = new ConvShape(3, 13, 5, 9, 6, 3, 1, 1);
        var rng = new Random(9);
        float[] x = CpuTestSupport.Random(rng, s.InputLength), dy = CpuTestSupport.Random(rng, s.OutputLength);
        var kept = new CpuWinogradWeightGradient();
        int[] expected = Bits(Run(kept, s, x, dy));
        GC.KeepAlive(kept);
        using var stop = new CancellationTokenSource();
        var collector = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.AllocateUninitializedArray<float>(1 << 20, pinned: true).AsSpan().Fill(float.NaN);
                const int floats = 9 << 18; // 9 MiB: the size of the instance's tile block
                float* block = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(floats * sizeof(float), 64);
                new Span<float>(block, floats).Fill(float.NaN);
                System.Runtime.InteropServices.NativeMemory.AlignedFree(block);
            }
        }) { IsBackground = true };
        collector.Start();
        try
        {
            for (int i = 0; i < 200; i++) Assert.Equal(expected, Bits(Winograd(s, x, dy)));
        }
        finally
        {
            stop.Cancel();
            collector.Join();
        }
    }

    [Fact]
    public void RefusesOtherConvolutions()
    {
        var winograd = new CpuWinogradWeightGradient();
        foreach (var s in new[] { new ConvShape(1, 4, 8, 8, 4, 3, 2, 1), new ConvShape(1, 4, 8, 8, 4, 1, 1, 0), new ConvShape(1, 4, 8, 8, 4, 3, 1, 0) })
        {
            Assert.False(CpuWinogradWeightGradient.Applies(s));
            Assert.Throws<ArgumentException>(() => Run(winograd, s, new float[s.InputLength], new float[s.OutputLength]));
        }
    }

    [Fact]
    public void PlanChoosesWinogradForWide3x3Stride1Convolutions()
    {
        var plan = CpuKernelPlan.For(new CpuCacheDescription("AuthenticAMD", true, 32 * 1024, 1024 * 1024));
        int min = plan.WinogradWeightGradientMinChannels;
        Assert.Equal(CpuKernelPlan.WinogradWeightGradientMinChannelsMeasured, min);
        // without AVX-512: never (the transforms need its permutes)
        var noAvx512 = CpuKernelPlan.For(new CpuCacheDescription("AuthenticAMD", false, 32 * 1024, 1024 * 1024));
        Assert.False(noAvx512.UsesWinogradWeightGradient(new ConvShape(64, 512, 4, 4, 512, 3, 1, 1)));
        Assert.True(plan.UsesWinogradWeightGradient(new ConvShape(64, min, 32, 32, min, 3, 1, 1)));
        Assert.True(plan.UsesWinogradWeightGradient(new ConvShape(64, 512, 4, 4, 512, 3, 1, 1)));
        Assert.False(plan.UsesWinogradWeightGradient(new ConvShape(64, min - 1, 32, 32, 64, 3, 1, 1)));  // too few in
        Assert.False(plan.UsesWinogradWeightGradient(new ConvShape(64, 64, 32, 32, min - 1, 3, 1, 1)));  // too few out
        Assert.False(plan.UsesWinogradWeightGradient(new ConvShape(64, 64, 32, 32, 128, 3, 2, 1)));      // stride 2
        Assert.False(plan.UsesWinogradWeightGradient(new ConvShape(64, 64, 32, 32, 128, 1, 2, 0)));      // 1x1
    }

    /// <summary>Tiles of 2x2 outputs summed over: N ceil(H/2) ceil(W/2).</summary>
    private static long Tiles(ConvShape s) => (long)s.N * ((s.H + 1) / 2) * ((s.W + 1) / 2);

    private static float[] Winograd(ConvShape s, float[] x, float[] dy) => Run(new CpuWinogradWeightGradient(), s, x, dy);

    private static float[] Run(CpuWinogradWeightGradient winograd, ConvShape s, float[] x, float[] dy)
    {
        var dw = new float[s.WeightLength];
        Array.Fill(dw, float.NaN); // every element must be written
        fixed (float* px = x, pdy = dy, pdw = dw) winograd.Run(s, px, pdy, pdw);
        return dw;
    }

    private static float[] Direct(ConvShape s, float[] x, float[] dy)
    {
        var dw = new float[s.WeightLength];
        fixed (float* px = x, pdy = dy, pdw = dw) new CpuConvWeightGradient().Run(s, px, pdy, pdw);
        return dw;
    }

    private static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();
}
