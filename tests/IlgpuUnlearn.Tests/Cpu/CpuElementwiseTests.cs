using IlgpuUnlearn.Cpu;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cpu;

public sealed class CpuElementwiseTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1)]
    [InlineData(37)]
    [InlineData(100_003)]
    public void ReluForwardAndBackward(int length)
    {
        using var t = new CpuTestSupport(output);
        var rng = new Random(8);
        var xValues = CpuTestSupport.Random(rng, length);
        var dyValues = CpuTestSupport.Random(rng, length);
        var x = t.Buffer(xValues);
        var y = t.Zeros(length);
        t.Ops.ReluForward(x, y);
        var yValues = CpuTestSupport.Read(y);
        t.AssertClose("relu y", yValues, xValues.Select(v => Math.Max(v, 0f)).ToArray(), 0, 0);
        var dy = t.Buffer(dyValues);
        t.Ops.ReluBackward(y, dy, dy); // in place, as the interface allows
        t.AssertClose("relu dx", CpuTestSupport.Read(dy), dyValues.Select((g, i) => yValues[i] > 0 ? g : 0f).ToArray(), 0, 0);
        t.Ops.ReluForward(x, x); // in place
        t.AssertClose("relu in place", CpuTestSupport.Read(x), yValues, 0, 0);
    }

    [Fact]
    public void ReluGradientMatchesCentralDifferences()
    {
        using var t = new CpuTestSupport(output);
        var rng = new Random(9);
        // Keep every value at least 0.05 away from the kink so that h = 1e-2 never crosses it.
        var xValues = CpuTestSupport.Random(rng, 301).Select(v => v >= 0 ? v + 0.05f : v - 0.05f).ToArray();
        var x = t.Buffer(xValues);
        var y = t.Zeros(301);
        var r = CpuTestSupport.Random(rng, 301);
        double Objective() { t.Ops.ReluForward(x, y); return CpuTestSupport.Objective(r, CpuOps.Span(y)); }
        Objective();
        var dx = t.Zeros(301);
        t.Ops.ReluBackward(y, t.Buffer(r), dx);
        t.CheckGradient("relu dx", x, Objective, CpuTestSupport.Read(dx), 1e-2f, 301, 1e-4, 1e-4, rng);
    }

    /// <summary>
    /// SalUn's mask over the flat gradient: long enough to be split over the cores, with a tail that is not a multiple of 16, and a
    /// 0/1 mask. Exact: a float product is correctly rounded in both the op and the reference ((float)(a * b) of the exact fp64 product).
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(300_007)]
    public void AddScaledSignAddsTheL1Gradient(int length)
    {
        using var t = new CpuTestSupport(output);
        var rng = new Random(17);
        float[] g = CpuTestSupport.Random(rng, length, 1f), p = CpuTestSupport.Random(rng, length, 2f);
        for (int i = 0; i < length; i += 5) p[i] = 0f;   // sign(0) = 0, as torch.linalg.norm(ord=1)'s gradient
        var expected = g.Select((v, i) => v + (p[i] > 0 ? 0.25f : p[i] < 0 ? -0.25f : 0f)).ToArray();
        var sg = t.Buffer(g);
        t.Ops.AddScaledSign(sg, t.Buffer(p), 0.25f);
        t.AssertClose("g + 0.25 sign(p)", CpuTestSupport.Read(sg), expected, 0, 0);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(300_007)]
    public void MultiplyElementwiseAndInPlace(int length)
    {
        using var t = new CpuTestSupport(output);
        var rng = new Random(16);
        float[] a = CpuTestSupport.Random(rng, length, 3f), b = CpuTestSupport.Random(rng, length, 2f);
        var mask = Enumerable.Range(0, length).Select(_ => rng.Next(2) == 0 ? 0f : 1f).ToArray();
        var expected = a.Select((v, i) => (float)((double)v * b[i])).ToArray();
        var sa = t.Buffer(a);
        var sb = t.Buffer(b);
        var y = t.Zeros(length);
        t.Ops.Multiply(sa, sb, y);
        t.AssertClose("multiply", CpuTestSupport.Read(y), expected, 0, 0);
        t.Ops.Multiply(sa, sb, sb);   // y = b
        t.AssertClose("multiply into b", CpuTestSupport.Read(sb), expected, 0, 0);
        t.Ops.Multiply(sa, t.Buffer(mask), sa);   // g = g * mask, in place
        t.AssertClose("mask in place", CpuTestSupport.Read(sa), a.Select((v, i) => mask[i] * v).ToArray(), 0, 0);
        Assert.Throws<ArgumentException>(() => t.Ops.Multiply(sa, t.Zeros(length + 1), y));
        Assert.Throws<ArgumentException>(() => t.Ops.Multiply(sa, sa, t.Zeros(length + 1)));
    }

    [Theory]
    [InlineData(5)]
    [InlineData(70_001)]
    public void AddAndFill(int length)
    {
        using var t = new CpuTestSupport(output);
        var rng = new Random(10);
        float[] a = CpuTestSupport.Random(rng, length), b = CpuTestSupport.Random(rng, length);
        var sa = t.Buffer(a);
        var sb = t.Buffer(b);
        t.Ops.Add(sa, sb, sb);
        t.AssertClose("add", CpuTestSupport.Read(sb), a.Select((v, i) => v + b[i]).ToArray(), 0, 0);
        t.Ops.Fill(sa, 2.5f);
        t.AssertClose("fill", CpuTestSupport.Read(sa), Enumerable.Repeat(2.5f, length).ToArray(), 0, 0);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LoadImagesNormalisesCropsAndFlips(bool augmented)
    {
        const int n = 3, h = 5, w = 6, pad = 2;
        using var t = new CpuTestSupport(output);
        var rng = new Random(11);
        var pixels = new byte[n * 3 * h * w];
        rng.NextBytes(pixels);
        int[] augment = { 0, 4, 1, 2, 2, 0, 3, 1, 1 }; // (shiftY, shiftX, flip) per image
        float[] mean = { 0.4914f, 0.4822f, 0.4465f }, std = { 0.2023f, 0.1994f, 0.2010f };
        var pixelBuffer = t.Ops.Allocate<byte>(pixels.Length);
        t.Ops.Upload<byte>(pixels, pixelBuffer.All);
        var x = t.Zeros(pixels.Length);
        t.Ops.LoadImages(n, h, w, pixelBuffer.All, augmented ? t.Buffer(augment) : null, pad, mean, std, x);
        var expected = new double[pixels.Length];
        for (int img = 0; img < n; img++)
        for (int c = 0; c < 3; c++)
        for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++)
        {
            int si = i, sj = j;
            if (augmented)
            {
                int jc = augment[img * 3 + 2] != 0 ? w - 1 - j : j; // flip the crop
                si = i + augment[img * 3] - pad;
                sj = jc + augment[img * 3 + 1] - pad;
            }
            double pixel = si >= 0 && si < h && sj >= 0 && sj < w ? pixels[((img * 3 + c) * h + si) * w + sj] : 0;
            expected[((img * 3 + c) * h + i) * w + j] = (pixel / 255.0 - mean[c]) / std[c];
        }
        t.AssertClose($"load images (augmented: {augmented})", CpuTestSupport.Read(x), expected, 1e-6, 1e-6);
    }
}
