using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Evaluation.Probes;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Evaluation.Probes;

/// <summary>
/// Linear CKA per stage on the Comparator's four splits against a float64 PyTorch reference of pytorch-cka 1.0.1's
/// minibatch estimator (Fixtures/make_probe_fixtures.py -> cka_w4_s16.safetensors: three width-4 ResNet18s on 16x16
/// images, 600 training and 120 test images, forget class 3, minibatches of 16). The models' forward passes here are the
/// CPU path's fp32 ones with a batch of 5, so a CKA minibatch spans several forwards.
/// </summary>
public sealed class LayerCkaTests(ITestOutputHelper output)
{
    [Fact]
    public void StageCkaOnTheComparatorsSplitsMatchesTheReference()
    {
        using var ops = new CpuOps();
        using var unlearned = ProbeFixture.Model(ops, "unlearned");
        using var baseModel = ProbeFixture.Model(ops, "base");
        using var retrained = ProbeFixture.Model(ops, "retrained");
        var meta = ProbeFixture.File.Longs("cka.batch");
        int batch = (int)meta[0], forget = (int)meta[1];
        var results = ComparatorCka.Compute([("unlearned", unlearned), ("base", baseModel), ("retrained", retrained)], ProbeFixture.Images("train"), ProbeFixture.Images("test"), forget, batch);
        Assert.Equal(["unlearned/base", "unlearned/retrained", "base/retrained"], results.Select(r => r.Model + "/" + r.Reference));

        string[] splits = ["train-forget", "train-other", "test-forget", "test-other"];
        double worst = 0;
        foreach (var result in results)
        {
            var expected = ProbeFixture.File.Doubles("cka." + (result.Model == "unlearned" ? result.Reference : "base_retrained"));
            for (int s = 0; s < splits.Length; s++)
            {
                var values = result.Of(splits[s]);
                output.WriteLine($"{result.Reference,-9} {splits[s],-12} " + string.Join(" ", values.Select(v => $"{v:F4}")));
                for (int l = 0; l < values.Length; l++)
                    worst = Math.Max(worst, Math.Abs(values[l]!.Value - expected[s * values.Length + l]));
            }
        }
        output.WriteLine($"worst |CKA - float64 reference|: {worst:E2}");
        // Our forward is fp32 (the reference float64): stage outputs carry relative rounding of ~1e-6 (see
        // PyTorchFixtureCheck), and the Gram products fp32 sums of up to 1,024 terms; the CKA ratio moves by a few 1e-6. 1e-4
        // is far below any real difference (the fixture's values range 0 to 0.999 and differ between stages by 0.01 or more;
        // a wrong split, stage or estimator moves them by 0.01 to 0.5) and below the Comparator's 3-decimal rounding.
        Assert.True(worst < 1e-4, $"CKA off the reference by {worst:E2}");

        // The Comparator's split sizes: len // 10 of each training group, len // 2 of each test group.
        var train = ProbeFixture.Images("train");
        var test = ProbeFixture.Images("test");
        int[] sizes = [train.IndicesOfClass(forget).Length / 10, train.IndicesNotOfClass(forget).Length / 10,
            test.IndicesOfClass(forget).Length / 2, test.IndicesNotOfClass(forget).Length / 2];
        Assert.Equal(sizes, results[0].Images);
    }

    [Fact]
    public void PenultimateFeaturesAreThePooledOutput()
    {
        using var ops = new CpuOps();
        using var model = ProbeFixture.Model(ops, "unlearned");
        var features = ModelFeatures.Penultimate(model, ProbeFixture.Images("test"));
        var expected = ProbeFixture.File.Floats("pooled.unlearned");
        Assert.Equal(expected.Length, features.Length);
        double scale = expected.Max(Math.Abs), worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(features[i] - expected[i]) / scale);
        output.WriteLine($"worst pooled-feature error: {worst:E2} of the largest");
        // fp32 forward against float64: as the logits' 1e-4 relative tolerance (PyTorchFixtureCheck).
        Assert.True(worst < 1e-4, $"pooled features off by {worst:E2}");
    }

    [Fact]
    public void ReadingStagesLeavesTheForwardUnchanged()
    {
        using var ops = new CpuOps();
        using var model = ProbeFixture.Model(ops, "base");
        var test = ProbeFixture.Images("test");
        var plain = IlgpuUnlearn.Unlearning.Predictor.Logits(model, test);
        var stages = ModelFeatures.Stages(model, test, Enumerable.Range(0, test.Count).ToArray());
        Assert.Equal(plain, stages[^1]); // the fc stage is the logits, bit for bit
        for (int s = 0; s < stages.Length; s++)
            Assert.Equal(test.Count * model.StageFeatureCount(s), stages[s].LongLength);
    }

    [Fact]
    public void CentredGramOfSeveralRowBlocksMatchesADoubleGram()
    {
        // n = 203 spans three GEMM row blocks of 96 (the last partial) and p = 70 is not a multiple of anything.
        const int n = 203, p = 70;
        var random = new Random(11);
        var x = Enumerable.Range(0, n * p).Select(_ => (float)random.NextDouble()).ToArray();
        var mean = new double[p];
        for (int i = 0; i < n; i++) for (int c = 0; c < p; c++) mean[c] += x[i * p + c] / (double)n;
        var gram = MinibatchCka.CentredGram(x, n, p);
        double worst = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double k = 0;
                for (int c = 0; c < p; c++) k += (x[i * p + c] - mean[c]) * (x[j * p + c] - mean[c]);
                worst = Math.Max(worst, Math.Abs(gram[i * n + j] - k));
                Assert.Equal(gram[i * n + j], gram[j * n + i]); // mirrored exactly
            }
        output.WriteLine($"worst |K - double K|: {worst:E2}");
        // Centred values rounded to fp32 (relative 6e-8 of values ~0.3) and fp32 sums of 70 products ~0.08: ~1e-6 absolute.
        Assert.True(worst < 1e-5, $"Gram off by {worst:E2}");
    }

    [Fact]
    public void CentringLeavesTheUnbiasedHsicUnchangedAndSelfSimilarityIsOne()
    {
        const int n = 12, p = 40;
        var random = new Random(5);
        var x = Enumerable.Range(0, n * p).Select(_ => (float)(random.NextDouble() + 2)).ToArray();      // large mean
        var y = x.Select((v, i) => v * 3 + (float)random.NextDouble()).ToArray();
        double[] NaiveGram(float[] f)
        {
            var k = new double[n * n];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    for (int c = 0; c < p; c++) k[i * n + j] += (double)f[i * p + c] * f[j * p + c];
            return k;
        }
        double naive = MinibatchCka.UnbiasedHsic(NaiveGram(x), NaiveGram(y), n);
        double centred = MinibatchCka.UnbiasedHsic(MinibatchCka.CentredGram(x, n, p), MinibatchCka.CentredGram(y, n, p), n);
        output.WriteLine($"uncentred {naive:G10}, centred {centred:G10}");
        // fp32 centred products against double uncentred ones: relative rounding of ~1e-6 (the uncentred sum cancels 2 digits).
        Assert.True(Math.Abs(naive - centred) <= 1e-5 * Math.Abs(naive), $"{naive} vs {centred}");

        var cka = new MinibatchCka(2);
        var gx = MinibatchCka.CentredGram(x, n, p);
        cka.Add(0, gx, gx, n);
        cka.Add(1, gx, MinibatchCka.CentredGram(y, n, p), n);
        var values = cka.Values();
        Assert.Equal(1.0, values[0], 12);
        Assert.InRange(values[1], 0.0, 1.0);
        Assert.Throws<ArgumentException>(() => MinibatchCka.UnbiasedHsic(new double[9], new double[9], 3));
    }
}
