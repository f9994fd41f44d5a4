using System.Runtime.Intrinsics.X86;
using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Tensors;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cpu;

/// <summary>
/// <see cref="StrideTwoPhases"/>: the split against its definition (phase (a, b) of plane (n, c) at (i, j) is x[n, c, 2 i + a,
/// 2 j + b]), bit for bit, for rows of 2 to 80 values (whole 32-value chunks, a chunk and a tail, a tail alone), all four
/// phases or the even one alone; which shapes take phases in which direction; and the col2im grouping of the stride-2 backward-input (<see cref="CpuConv.Col2imImagesPerGroup"/>). The
/// convolutions that read the phases are checked against fp64 in CpuConvTests (its stride-2 shapes of whole-vector outputs).
/// </summary>
public sealed unsafe class StrideTwoPhasesTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(2, 3, 2, 2)]
    [InlineData(1, 2, 8, 8)]
    [InlineData(2, 3, 16, 16)]
    [InlineData(1, 2, 32, 32)]
    [InlineData(3, 2, 8, 40)]
    [InlineData(1, 4, 6, 80)]
    [InlineData(2, 1, 4, 36)]
    public void SplitsIntoTheFourPhases(int count, int c, int h, int w)
    {
        foreach (bool evenOnly in new[] { false, true }) Split(count, c, h, w, evenOnly);
    }

    /// <summary>The split of random planes against the definition; with evenOnly, phase (0, 0) so and the others untouched (NaN).</summary>
    private void Split(int count, int c, int h, int w, bool evenOnly)
    {
        var rng = new Random(5);
        var x = Enumerable.Range(0, count * c * h * w).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var phases = Enumerable.Repeat(float.NaN, x.Length).ToArray();
        if (!Avx512F.IsSupported)
        {
            // the split is written with AVX-512's permute and is never called without it (Applies is false there)
            Assert.Throws<ArgumentException>(() => { fixed (float* px = x, pp = phases) StrideTwoPhases.Split(px, count, c, h, w, pp, evenOnly); });
            output.WriteLine("no AVX-512: the split refuses");
        }
        else SplitMatchesTheDefinition(x, phases, count, c, h, w, evenOnly);
    }

    private void SplitMatchesTheDefinition(float[] x, float[] phases, int count, int c, int h, int w, bool evenOnly)
    {
        fixed (float* px = x, pp = phases) StrideTwoPhases.Split(px, count, c, h, w, pp, evenOnly);
        int oh = h / 2, ow = w / 2;
        var expected = new float[x.Length];
        for (int plane = 0; plane < count * c; plane++)
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++)
                    for (int i = 0; i < oh; i++)
                        for (int j = 0; j < ow; j++)
                            expected[((plane * 4 + StrideTwoPhases.Phase(a, b)) * oh + i) * ow + j] =
                                evenOnly && (a, b) != (0, 0) ? float.NaN : x[(plane * h + 2 * i + a) * w + 2 * j + b];
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), phases.Select(BitConverter.SingleToInt32Bits));
        output.WriteLine($"{count} x {c} planes of {h}x{w}{(evenOnly ? ", even phase only" : "")}: {x.Length} values where the definition puts them");
    }

    [Fact]
    public void OddSizesThrowWithTheSize()
    {
        var e = Assert.Throws<ArgumentException>(() => StrideTwoPhases.Split(null, 1, 1, 7, 8, null));
        Assert.Contains("7x8", e.Message);
    }

    [Fact]
    public void TakesStrideTwoHalvingShapesOfWholeVectorOutputs()
    {
        bool masked = Avx512F.IsSupported && CpuKernelPlan.Current.Im2col == Im2colStrategy.MaskedLoads;
        // ResNet18's 3x3 stride-2 convolutions: phases in the forward and the weight gradient wherever masked loads are
        foreach (var s in new[] { new ConvShape(64, 64, 32, 32, 128, 3, 2, 1), new ConvShape(64, 128, 16, 16, 256, 3, 2, 1),
                     new ConvShape(64, 256, 8, 8, 512, 3, 2, 1), new ConvShape(2, 3, 8, 40, 6, 3, 2, 1) /* OW 20: P 80 */ })
        {
            Assert.Equal(masked, StrideTwoPhases.ForForward(s));
            Assert.Equal(masked, StrideTwoPhases.ForWeightGradient(s));
        }
        // the 1x1 shortcuts: the forward from 64 output pixels (layer2, layer3), never the weight gradient
        var layer2 = new ConvShape(64, 64, 32, 32, 128, 1, 2, 0);
        var layer3 = new ConvShape(64, 128, 16, 16, 256, 1, 2, 0);
        var layer4 = new ConvShape(64, 256, 8, 8, 512, 1, 2, 0);
        Assert.Equal(masked, StrideTwoPhases.ForForward(layer2));
        Assert.Equal(masked, StrideTwoPhases.ForForward(layer3));
        Assert.False(StrideTwoPhases.ForForward(layer4));
        Assert.Equal(masked, StrideTwoPhases.Applies(layer4));
        Assert.False(StrideTwoPhases.ForWeightGradient(layer2));
        // shapes phases cannot serve
        Assert.False(StrideTwoPhases.Applies(new ConvShape(2, 4, 32, 32, 4, 3, 1, 1))); // stride 1
        Assert.False(StrideTwoPhases.Applies(new ConvShape(2, 4, 9, 9, 4, 3, 2, 1))); // odd size
        Assert.False(StrideTwoPhases.Applies(new ConvShape(2, 4, 12, 12, 4, 3, 2, 1))); // P = 36, not whole vectors
        Assert.False(StrideTwoPhases.Applies(new ConvShape(2, 4, 8, 8, 4, 3, 2, 0))); // no padding: OH = 3, not H / 2
        Assert.False(StrideTwoPhases.Applies(new ConvShape(2, 4, 32, 32, 4, 1, 2, 1))); // 1x1 pad 1: OH = 17
    }

    [Theory]
    [InlineData(256, 64, 3)] // layer2: 768 columns, 16 panels
    [InlineData(64, 64, 3)] // layer3: 192 columns, 4 panels
    [InlineData(16, 64, 15)] // layer4: 240 columns, 5 panels
    [InlineData(1024, 64, 3)] // no whole panels at or below 256 columns: the fewest above (3072)
    [InlineData(25, 64, 10)] // never whole panels: 256 / P
    [InlineData(16, 4, 4)] // the batch is smaller than a group
    [InlineData(300, 64, 1)] // an image above 256 columns
    public void Col2imGroupsAreWholePanelsNear256Columns(int p, int n, int expected)
        => Assert.Equal(expected, CpuConv.Col2imImagesPerGroup(p, n));
}
