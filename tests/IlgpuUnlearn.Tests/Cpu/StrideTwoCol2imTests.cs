using System.Runtime.Intrinsics.X86;
using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Tensors;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cpu;

/// <summary>
/// <see cref="StrideTwoCol2im"/> against the scatter it replaces (clear dx, then add each dcol row into its strided positions in
/// (ci, kh, kw) order), bit for bit: the same terms added to +0 in the same order. Row widths OW of 1, 4, 16 (one vector), 17
/// and 20 (a vector and a tail), square and not, images after the first (first &gt; 0), K = 3 pad 1 and K = 1 pad 0.
/// </summary>
public sealed unsafe class StrideTwoCol2imTests(ITestOutputHelper output)
{
    public static TheoryData<int, int, int, int, int> Shapes => new()
    {
        // Cin, H, W, K, pad (stride 2, H = 2 OH, W = 2 OW)
        { 3, 2, 2, 3, 1 },
        { 2, 8, 8, 3, 1 },
        { 3, 32, 32, 3, 1 },
        { 2, 6, 34, 3, 1 },
        { 1, 40, 40, 3, 1 },
        { 4, 8, 8, 1, 0 },
        { 2, 10, 40, 1, 0 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void EqualsTheScatterBitForBit(int cin, int h, int w, int k, int pad)
    {
        var s = new ConvShape(3, cin, h, w, 5, k, 2, pad);
        Assert.True(StrideTwoCol2im.Handles(s));
        const int first = 1, count = 2;
        long columns = (long)count * s.OutH * s.OutW, rows = (long)cin * k * k;
        var rng = new Random(4);
        // Values of mixed signs, so that partial sums cancel; some exact zeros of both signs.
        var dcol = Enumerable.Range(0, (int)(rows * columns)).Select(i => i % 37 == 0 ? (i % 2 == 0 ? 0f : -0f) : (float)(rng.NextDouble() - 0.5)).ToArray();
        var expected = Enumerable.Repeat(float.NaN, (int)s.InputLength).ToArray();
        var actual = Enumerable.Repeat(float.NaN, (int)s.InputLength).ToArray();
        long imageLength = (long)cin * h * w;
        Array.Fill(expected, 0f, (int)(first * imageLength), (int)(count * imageLength));
        int p = s.OutH * s.OutW;
        for (int ci = 0; ci < cin; ci++)
            for (int kh = 0; kh < k; kh++)
                for (int kw = 0; kw < k; kw++)
                    for (int n = 0; n < count; n++)
                        for (int oh = 0; oh < s.OutH; oh++)
                            for (int ow = 0; ow < s.OutW; ow++)
                            {
                                int ih = 2 * oh - pad + kh, iw = 2 * ow - pad + kw;
                                if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                                expected[(first + n) * imageLength + ((long)ci * h + ih) * w + iw] +=
                                    dcol[((ci * k + kh) * k + kw) * columns + (long)n * p + oh * s.OutW + ow];
                            }
        fixed (float* d = dcol, a = actual) StrideTwoCol2im.Run(s, d, columns, first, count, a);
        // Bit patterns, so that +0 and -0 count as different; the images outside [first, first + count) stay NaN.
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), actual.Select(BitConverter.SingleToInt32Bits));
        output.WriteLine($"{s}: {count * imageLength} values equal the scatter bit for bit ({(Avx512F.IsSupported ? "AVX-512" : "one by one")})");
    }

    [Fact]
    public void TakesOnlyStrideTwoHalvingShapes()
    {
        Assert.False(StrideTwoCol2im.Handles(new ConvShape(1, 4, 8, 8, 4, 3, 1, 1))); // stride 1
        Assert.False(StrideTwoCol2im.Handles(new ConvShape(1, 4, 7, 7, 4, 3, 2, 1))); // odd size: H != 2 OH
        Assert.False(StrideTwoCol2im.Handles(new ConvShape(1, 4, 8, 8, 4, 3, 2, 0))); // K = 3 without padding
        Assert.False(StrideTwoCol2im.Handles(new ConvShape(1, 4, 8, 8, 4, 5, 2, 2))); // K = 5
        Assert.Throws<ArgumentException>(() => StrideTwoCol2im.Run(new ConvShape(1, 4, 7, 7, 4, 3, 2, 1), null, 16, 0, 1, null));
    }
}
