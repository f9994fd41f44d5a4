using IlgpuUnlearn.Ilgpu;
using IlgpuUnlearn.Tensors;
using IlgpuUnlearn.Tests.Cpu;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Kernels;

/// <summary>
/// Every other op of IlgpuOps on the ILGPU CPU accelerator against the CPU path, on small and awkward shapes.
/// Batch norm also with its chunked reductions.
/// Tolerances (max |error| / max |reference|): elementwise and input 1e-6, batch norm 2e-4, head and losses 1e-5,
/// reductions and the optimiser 1e-4. The distillation KL also against PyTorch's float64 autograd.
/// </summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class OpKernelTests(IlgpuCpuFixture fixture, ITestOutputHelper output)
{
    private OpComparer Comparer() => new(fixture.Tiled, fixture.Cpu);

    [Theory]
    [InlineData(1, 5, 2, false)]
    [InlineData(3, 5, 2, true)]
    [InlineData(2, 8, 4, true)]
    public void LoadImages(int n, int size, int pad, bool augment)
    {
        using var c = Comparer();
        Expect.AllPass(output, IlgpuSelfTest.CheckLoadImages(c, n, size, pad, augment));
    }

    /// <summary>Grey images (one channel, as native Fashion-MNIST networks read them), 28x28 with the crop-and-flip augmentation.</summary>
    [Fact]
    public void LoadImagesOfOneChannel()
    {
        using var c = Comparer();
        Expect.AllPass(output, IlgpuSelfTest.CheckLoadImages(c, 3, 28, 4, augment: true, channels: 1));
    }

    [Theory]
    [InlineData(1, 3, 5)]
    [InlineData(3, 7, 9)]
    [InlineData(2, 33, 1)]
    [InlineData(2, 4, 300)]    // more values per channel than threads in a group: the grid-stride loop wraps
    public void BatchNorm(int n, int c, int hw)
    {
        using var comparer = Comparer();
        Expect.AllPass(output, IlgpuSelfTest.CheckBatchNorm(comparer, new BatchNormShape(n, c, hw)));
    }

    /// <summary>The chunked reductions (3 chunks per channel, fewer when a channel holds fewer values; chunks of unequal length).</summary>
    [Trait("Category", "Slow")]
    [Theory]
    [InlineData(1, 3, 5)]
    [InlineData(3, 7, 9)]
    [InlineData(2, 33, 1)]
    [InlineData(2, 4, 300)]
    public void BatchNormChunked(int n, int c, int hw)
    {
        var (chunks, length) = fixture.ChunkedBatchNorm.BatchNormChunking(new BatchNormShape(n, c, hw));
        output.WriteLine($"{chunks} chunks of {length}");
        Assert.Equal(Math.Min(3, n * hw), chunks);
        using var comparer = new OpComparer(fixture.ChunkedBatchNorm, fixture.Cpu);
        Expect.AllPass(output, IlgpuSelfTest.CheckBatchNorm(comparer, new BatchNormShape(n, c, hw)));
    }

    /// <summary>Chan's merge keeps the variance of a channel whose mean is far from zero (the case a sum-of-squares formula loses).</summary>
    [Fact]
    public void BatchNormChunkedVarianceOfAnOffsetChannel()
    {
        var ops = fixture.ChunkedBatchNorm;
        var s = new BatchNormShape(2, 1, 50);
        var values = Enumerable.Range(0, 100).Select(i => 1000f + (i % 2 == 0 ? 0.5f : -0.5f) * (1 + i / 50)).ToArray();
        using var x = ops.Allocate<float>(100);
        using var y = ops.Allocate<float>(100);
        using var gamma = ops.Allocate<float>(1);
        using var beta = ops.Allocate<float>(1);
        using var rm = ops.Allocate<float>(1);
        using var rv = ops.Allocate<float>(1);
        using var mean = ops.Allocate<float>(1);
        using var invStd = ops.Allocate<float>(1);
        ops.Upload<float>(values, x.All);
        ops.Fill(gamma.All, 1f);
        ops.BatchNormTrainForward(s, x.All, gamma.All, beta.All, rm.All, rv.All, 0.1f, 0f, y.All, mean.All, invStd.All);
        var got = new float[2];
        ops.Download(mean.All, got.AsSpan(0, 1));
        ops.Download(invStd.All, got.AsSpan(1, 1));
        // Half the values are 1000 +- 0.5, half 1000 +- 1: variance (0.25 + 1) / 2 = 0.625.
        output.WriteLine($"mean {got[0]}, variance {1 / (got[1] * got[1])}");
        Assert.Equal(1000f, got[0], 1e-3f);
        Assert.Equal(0.625f, 1 / (got[1] * got[1]), 1e-3f);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(1001)]
    public void ReluAndAdd(int length)
    {
        using var c = Comparer();
        Expect.AllPass(output, IlgpuSelfTest.CheckRelu(c, length));
    }

    [Theory]
    [InlineData(1, 5, 1)]
    [InlineData(3, 5, 7)]
    public void GlobalAvgPool(int n, int channels, int hw)
    {
        using var c = Comparer();
        Expect.AllPass(output, IlgpuSelfTest.CheckPool(c, n, channels, hw));
    }

    [Theory]
    [InlineData(1, 5, 3)]
    [InlineData(3, 17, 10)]
    public void Linear(int n, int inFeatures, int outFeatures)
    {
        using var c = Comparer();
        Expect.AllPass(output, IlgpuSelfTest.CheckLinear(c, new LinearShape(n, inFeatures, outFeatures)));
    }

    [Theory]
    [InlineData(1, 4, 1f)]
    [InlineData(3, 10, 1f)]
    [InlineData(70, 10, -0.15f)]   // more samples than reduction threads
    public void SoftmaxNllLoss(int n, int classes, float scale)
    {
        using var c = Comparer();
        Expect.AllPass(output, IlgpuSelfTest.CheckLoss(c, n, classes, scale));
    }

    [Theory]
    [InlineData(1, 10, 1f, 1f, false)]
    [InlineData(3, 10, 2f, -1f, true)]
    [InlineData(70, 10, 4f, 0.5f, false)]   // more samples than reduction threads
    [InlineData(5, 1, 4f, 1f, true)]        // one class: KL and gradient 0
    public void KlDivergence(int n, int classes, float temperature, float scale, bool accumulate)
    {
        using var c = Comparer();
        Expect.AllPass(output, IlgpuSelfTest.CheckKlDivergence(c, n, classes, temperature, scale, accumulate));
    }

    /// <summary>
    /// The kernel (fp32 throughout) against PyTorch's float64 autograd of SCRUB's DistillKL (Fixtures/kl_divergence.json), and with
    /// scale -1 accumulated onto a gradient already there. The loss to 2e-6 relative, the gradient to 2e-6 of its largest element:
    /// fp32 sums over C = 10 classes and exp / log each within a few ulp, log p formed from z - max (exact near the max) so logits
    /// to +-80 lose nothing to cancellation; PyTorch's own fp32 lands within 2e-7 of float64 on these cases, ours within 4e-7.
    /// </summary>
    [Theory]
    [MemberData(nameof(KlFixtureCase.Indices), MemberType = typeof(KlFixtureCase))]
    public void KlDivergenceMatchesFloat64Autograd(int index)
    {
        var k = KlFixtureCase.All[index];
        var ops = fixture.Tiled;
        int length = k.N * k.Classes;
        using var s = ops.Allocate<float>(length);
        using var t = ops.Allocate<float>(length);
        using var loss = ops.Allocate<float>(1);
        using var ds = ops.Allocate<float>(length);
        ops.Upload<float>(k.Student, s.All);
        ops.Upload<float>(k.Teacher, t.All);
        ops.KlDivergence(k.N, k.Classes, s.All, t.All, k.Temperature, 1f, loss.All, ds.All, accumulate: false);
        var gotLoss = new float[1];
        var gotGrad = new float[length];
        ops.Download(loss.All, gotLoss);
        ops.Download(ds.All, gotGrad);
        var prior = Enumerable.Range(0, length).Select(i => 0.01f * (i % 7 - 3)).ToArray();
        ops.Upload<float>(prior, ds.All);
        ops.KlDivergence(k.N, k.Classes, s.All, t.All, k.Temperature, -1f, loss.All, ds.All, accumulate: true);
        var gotAccumulated = new float[length];
        ops.Download(ds.All, gotAccumulated);

        double lossError = Math.Abs(gotLoss[0] - k.Loss) / Math.Abs(k.Loss);
        double gradScale = k.Grad.Max(Math.Abs);
        double gradError = gotGrad.Select((g, i) => Math.Abs(g - k.Grad[i])).Max() / gradScale;
        double accumulatedError = gotAccumulated.Select((g, i) => Math.Abs(g - (prior[i] - k.Grad[i]))).Max() / gradScale;
        double torchGradError = k.GradFp32.Select((g, i) => Math.Abs(g - k.Grad[i])).Max() / gradScale;
        output.WriteLine($"{k}: loss {gotLoss[0]} vs {k.Loss}, relative error {lossError:E2} (PyTorch fp32 {Math.Abs(k.LossFp32 - k.Loss) / Math.Abs(k.Loss):E2}); " +
                         $"gradient error / max |gradient| {gradError:E2} (PyTorch fp32 {torchGradError:E2}), accumulated {accumulatedError:E2}");
        Assert.True(lossError <= 2e-6, $"loss relative error {lossError:E2}");
        Assert.True(gradError <= 2e-6, $"gradient error {gradError:E2}");
        Assert.True(accumulatedError <= 2e-6, $"accumulated gradient error {accumulatedError:E2}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5003)]
    public void Multiply(int length)
    {
        using var c = Comparer();
        Expect.AllPass(output, IlgpuSelfTest.CheckMultiply(c, length));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5003)]
    public void AddScaledSign(int length)
    {
        using var c = Comparer();
        Expect.AllPass(output, IlgpuSelfTest.CheckAddScaledSign(c, length));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5003)]
    public void CombineSumOfSquaresFill(int length)
    {
        using var c = Comparer();
        Expect.AllPass(output, IlgpuSelfTest.CheckFlat(c, length));
    }

    [Theory]
    [InlineData(5003, 0.5f, true)]
    [InlineData(777, 0f, false)]
    [InlineData(777, 1000f, true)]   // clip larger than the norm: no clipping
    public void ClipAndSgdStep(int length, float clip, bool nesterov)
    {
        using var c = Comparer();
        Expect.AllPass(output, IlgpuSelfTest.CheckOptimizer(c, length, clip, nesterov));
        using var masked = Comparer();
        Expect.AllPass(output, IlgpuSelfTest.CheckOptimizer(masked, length, clip, nesterov, masked: true));
    }

    /// <summary>The MaskedClipAndSgdStep kernel on ILGPU's CPU accelerator: where the mask is 0 the parameter keeps its bits and
    /// the momentum is 0 after two steps with weight decay and Nesterov momentum (exact: the kernel writes the value it read).</summary>
    [Fact]
    public void MaskedClipAndSgdStepKeepsMaskedParametersBitForBit()
    {
        const int length = 5003;
        var ops = fixture.Tiled;
        var rng = new Random(21);
        float[] pv = CpuTestSupport.Random(rng, length), gv = CpuTestSupport.Random(rng, length);
        float[] maskValues = Enumerable.Range(0, length).Select(i => i % 3 == 0 ? 1f : 0f).ToArray();
        using var p = ops.Allocate<float>(length);
        using var g = ops.Allocate<float>(length);
        using var m = ops.Allocate<float>(length);
        using var mask = ops.Allocate<float>(length);
        using var sum = ops.Allocate<float>(1);
        ops.Upload<float>(pv, p.All);
        ops.Upload<float>(gv, g.All);
        ops.Upload<float>(maskValues, mask.All);
        ops.SumOfSquares(g.All, sum.All);
        var update = new SgdUpdate(0.1f, 0.9f, 5e-4f, Nesterov: true, Clip: 0f);
        for (int step = 0; step < 2; step++)
            ops.ClipAndSgdStep(p.All, g.All, m.All, sum.All, update, firstStep: step == 0, updateMask: mask.All);
        var after = new float[length];
        var momentum = new float[length];
        ops.Download<float>(p.All, after);
        ops.Download<float>(m.All, momentum);
        int kept = 0, moved = 0;
        for (int i = 0; i < length; i++)
        {
            if (maskValues[i] == 0f)
            {
                Assert.True(BitConverter.SingleToInt32Bits(after[i]) == BitConverter.SingleToInt32Bits(pv[i]), $"masked p[{i}] moved: {pv[i]:R} -> {after[i]:R}");
                Assert.True(momentum[i] == 0f, $"masked m[{i}] = {momentum[i]:R}");
                kept++;
            }
            else if (after[i] != pv[i]) moved++;
        }
        output.WriteLine($"{kept} masked parameters kept, {moved} of {length - kept} others moved");
        Assert.Equal(length - length / 3 - 1, kept);
        Assert.Equal(length - kept, moved);
    }

    /// <summary>The loss and the squared norm are exact on simple inputs (not only equal to the CPU path).</summary>
    [Fact]
    public void ReductionsAreExactOnKnownValues()
    {
        var ops = fixture.Tiled;
        using var g = ops.Allocate<float>(3000);
        using var result = ops.Allocate<float>(1);
        ops.Fill(g.All, 0.5f);
        ops.SumOfSquares(g.All, result.All);
        var sum = new float[1];
        ops.Download(result.All, sum);
        output.WriteLine($"sum of squares of 3000 x 0.5 = {sum[0]}");
        Assert.Equal(750f, sum[0], 1e-3f);

        using var logits = ops.Allocate<float>(2 * 4);
        using var labels = ops.Allocate<int>(2);
        using var dlogits = ops.Allocate<float>(2 * 4);
        ops.Upload<int>([1, 3], labels.All);
        ops.SoftmaxNllLoss(2, 4, logits.All, labels.All, 1f, result.All, dlogits.All);
        var loss = new float[1];
        var d = new float[8];
        ops.Download(result.All, loss);
        ops.Download(dlogits.All, d);
        output.WriteLine($"loss of uniform logits over 4 classes = {loss[0]} (ln 4 = {MathF.Log(4)})");
        Assert.Equal(MathF.Log(4), loss[0], 1e-5f);
        Assert.Equal((0.25f - 1f) / 2, d[1], 1e-6f);
        Assert.Equal(0.25f / 2, d[0], 1e-6f);
    }
}
