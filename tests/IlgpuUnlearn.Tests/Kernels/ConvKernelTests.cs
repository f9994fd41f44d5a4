using IlgpuUnlearn.Ilgpu;
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

    /// <summary>The TF32 tensor-core kernel is inline PTX: refused on the CPU accelerator (the PTX test compiles it; the self-test runs it on CUDA).</summary>
    [Fact]
    public void TensorCoreVersionIsRefusedOffCuda()
    {
        var e = Assert.Throws<NotSupportedException>(() => new IlgpuOps(fixture.Accelerator, new IlgpuOpsOptions { ConvForward = ConvAlgorithm.TensorCoreTf32 }));
        output.WriteLine(e.Message);
        Assert.Contains("CUDA", e.Message);
    }
}
