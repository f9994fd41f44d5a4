using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Tensors;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cpu;

/// <summary>
/// The blocked GEMM and the GEMM-based convolutions on sizes that are not multiples of the tiles (8 x 48 micro-tiles,
/// K passes of at most the plan's K block, 4 x 6 dot tiles, groups of images) and on full-ish layer sizes, against fp64 loops.
/// </summary>
public sealed unsafe class CpuFastPathTests(ITestOutputHelper output)
{
    private static readonly int[] Sizes = [1, 7, 33, 65, 129];

    [Fact]
    public void GemmMatchesReferenceOnAwkwardSizes()
    {
        using var t = new CpuTestSupport(output);
        var rng = new Random(16);
        var scratch = new CpuScratch();
        double worst = 0;
        foreach (int m in Sizes)
        foreach (int n in Sizes)
        foreach (int k in Sizes.Append(300)) // 300: two K passes
        {
            float[] a = CpuTestSupport.Random(rng, m * k), b = CpuTestSupport.Random(rng, k * n);
            var c = new float[m * n];
            Array.Fill(c, float.NaN);
            fixed (float* pa = a, pb = b, pc = c) CpuGemm.Multiply(m, n, k, pa, pb, pc, scratch);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double sum = 0;
                    for (int q = 0; q < k; q++) sum += (double)a[i * k + q] * b[q * n + j];
                    double error = Math.Abs(c[i * n + j] - sum);
                    // fp32 sum of k products in [-1, 1]: rounding grows like sqrt(k) 6e-8 per term.
                    double tolerance = 1e-6 * Math.Sqrt(k) + 1e-6 * Math.Abs(sum);
                    worst = Math.Max(worst, error / tolerance);
                    if (!(error <= tolerance)) Assert.Fail($"M {m} N {n} K {k}: C[{i},{j}] = {c[i * n + j]}, expected {sum}");
                }
        }
        output.WriteLine($"gemm, M N K in {{1, 7, 33, 65, 129}} x K also 300: worst error/tolerance {worst:F3} (tolerance 1e-6 sqrt(K) + 1e-6 |C|)");
    }

    public static TheoryData<int, int, int, int, int, int, int, int> LayerSizedShapes => new()
    {
        // N, Cin, H, W, Cout, K, stride, pad
        { 2, 64, 16, 16, 64, 3, 1, 1 },   // a layer1 convolution on 16x16
        { 3, 32, 16, 16, 48, 3, 2, 1 },   // stride 2: backward-input through col2im
        { 5, 40, 4, 4, 72, 3, 1, 1 },     // 4x4: images share GEMM panels
        { 3, 16, 2, 8, 24, 3, 1, 1 },     // 2x8: the padding masks of a "same" convolution on a wide image
        { 3, 24, 9, 9, 40, 1, 2, 0 },     // downsample 1x1 stride 2, odd size
        { 2, 3, 32, 32, 16, 3, 1, 1 },    // the stem: Cin 3
        { 70, 8, 4, 4, 16, 3, 1, 1 },     // many images: the weight gradient takes them in several groups
    };

    [Trait("Category", "Slow")]
    [Theory]
    [MemberData(nameof(LayerSizedShapes))]
    public void ConvolutionsMatchReferenceAtLayerSizes(int n, int cin, int h, int w, int cout, int k, int stride, int pad)
    {
        var s = new ConvShape(n, cin, h, w, cout, k, stride, pad);
        using var t = new CpuTestSupport(output);
        var rng = new Random(17);
        float[] x = CpuTestSupport.Random(rng, s.InputLength), wt = CpuTestSupport.Random(rng, s.WeightLength),
            dy = CpuTestSupport.Random(rng, s.OutputLength);
        var y = t.Zeros(s.OutputLength);
        var dx = t.Zeros(s.InputLength);
        var dw = t.Zeros(s.WeightLength);
        t.Ops.Fill(y, float.NaN);
        t.Ops.Fill(dx, float.NaN);
        t.Ops.Fill(dw, float.NaN);
        t.Ops.Conv2dForward(s, t.Buffer(x), t.Buffer(wt), y);
        t.Ops.Conv2dBackwardInput(s, t.Buffer(dy), t.Buffer(wt), dx);
        t.Ops.Conv2dBackwardWeight(s, t.Buffer(x), t.Buffer(dy), dw);
        // fp32 sums of L products of values in [-1, 1] (sums of size ~sqrt(L) / 3): rounding ~sqrt(L) 6e-8 per term with
        // blocked summation; 2e-6 sqrt(L) absolute plus 1e-5 relative is a few times that.
        int forwardLength = cin * k * k, inputLength = cout * k * k, weightLength = n * s.OutH * s.OutW;
        t.AssertClose($"forward {s}", CpuTestSupport.Read(y), CpuConvTests.ReferenceForward(s, x, wt), 2e-6 * Math.Sqrt(forwardLength), 1e-5);
        t.AssertClose($"backward input {s}", CpuTestSupport.Read(dx), CpuConvTests.ReferenceBackwardInput(s, dy, wt), 2e-6 * Math.Sqrt(inputLength), 1e-5);
        t.AssertClose($"backward weight {s}", CpuTestSupport.Read(dw), CpuConvTests.ReferenceBackwardWeight(s, x, dy), 2e-6 * Math.Sqrt(weightLength), 1e-5);
    }
}
