using IlgpuUnlearn.Data;

namespace IlgpuUnlearn.Tests.Data;

public class SyntheticDatasetTests
{
    [Fact]
    public void IsDeterministicBalancedAndDifferentPerSeed()
    {
        var a = SyntheticDataset.Generate(20, 5, seed: 7);
        var b = SyntheticDataset.Generate(20, 5, seed: 7);
        var c = SyntheticDataset.Generate(20, 5, seed: 8);
        Assert.Equal(200, a.Train.Count);
        Assert.Equal(50, a.Test.Count);
        Assert.All(a.Train.CountPerClass(), n => Assert.Equal(20, n));
        Assert.True(a.Train.Pixels.SequenceEqual(b.Train.Pixels));
        Assert.True(a.Test.Labels.SequenceEqual(b.Test.Labels));
        Assert.False(a.Train.Pixels.SequenceEqual(c.Train.Pixels));
        Assert.False(a.Train.Pixels[..3072].SequenceEqual(a.Test.Pixels[..3072]));
    }

    [Fact]
    public void ClassesAreSeparableByANearestMeanClassifier()
    {
        // A crude learnability check: nearest class-mean on raw pixels must beat chance by far.
        var split = SyntheticDataset.Generate(30, 10, seed: 1);
        var means = new double[10, 3072];
        var counts = split.Train.CountPerClass();
        for (int i = 0; i < split.Train.Count; i++)
        {
            var img = split.Train.Image(i);
            for (int p = 0; p < 3072; p++) means[split.Train.Label(i), p] += img[p] / (double)counts[split.Train.Label(i)];
        }
        int correct = 0;
        for (int i = 0; i < split.Test.Count; i++)
        {
            var img = split.Test.Image(i);
            int best = -1;
            double bestDistance = double.MaxValue;
            for (int k = 0; k < 10; k++)
            {
                double d = 0;
                for (int p = 0; p < 3072; p++) d += (img[p] - means[k, p]) * (img[p] - means[k, p]);
                if (d < bestDistance) (best, bestDistance) = (k, d);
            }
            if (best == split.Test.Label(i)) correct++;
        }
        Assert.True(correct >= 60, $"nearest mean got {correct} of 100");
    }
}
