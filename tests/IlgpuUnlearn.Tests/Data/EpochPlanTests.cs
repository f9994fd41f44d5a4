using IlgpuUnlearn.Data;

namespace IlgpuUnlearn.Tests.Data;

public class EpochPlanTests
{
    /// <summary>90 images cycling through 10 classes: 81 retain and 9 forget images for any class.</summary>
    private static ImageDataset Cycling(int count = 90)
    {
        var labels = Enumerable.Range(0, count).Select(i => (byte)(i % 10)).ToArray();
        return new ImageDataset("cycling", new byte[count * 3], labels, 3, 1, 1, Cifar10.ClassNames);
    }

    [Fact]
    public void SplitsRetainAndForgetAndKeepsThePartialLastBatch()
    {
        var data = Cycling();
        var plan = EpochPlan.Create(data, forgetClass: 3, batchSize: 25, seed: 1, shuffle: true);
        Assert.Equal(81, plan.RetainCount);
        Assert.Equal(9, plan.ForgetCount);
        Assert.Equal(162, plan.ImagePasses);
        Assert.Equal([25, 25, 25, 6], plan.Steps.Select(s => s.BatchSize).ToArray());
        Assert.All(plan.Steps, s => Assert.Equal(s.RetainIndices.Length, s.ForgetIndices.Length));
        var retain = plan.Steps.SelectMany(s => s.RetainIndices).ToArray();
        Assert.Equal(data.IndicesNotOfClass(3), retain.Order().ToArray());            // every retain image once
        Assert.All(plan.Steps.SelectMany(s => s.ForgetIndices), i => Assert.Equal(3, data.Label(i)));
        Assert.Null(plan.Steps[0].RetainAugmentation);
    }

    [Fact]
    public void CifarSizedPlanHas18StepsOf2500()
    {
        // 50,000 labels only (1x1x1 images) to check the counts the card's epoch has.
        var labels = Enumerable.Range(0, 50_000).Select(i => (byte)(i % 10)).ToArray();
        var data = new ImageDataset("labels", new byte[50_000], labels, 1, 1, 1, Cifar10.ClassNames);
        var plan = EpochPlan.Create(data, 3, 2500, seed: 0, shuffle: true);
        Assert.Equal(45_000, plan.RetainCount);
        Assert.Equal(5_000, plan.ForgetCount);
        Assert.Equal(18, plan.Steps.Count);
        Assert.All(plan.Steps, s => Assert.Equal(2500, s.BatchSize));
        Assert.Equal(90_000, plan.ImagePasses);
    }

    [Fact]
    public void WithoutShuffleKeepsFileOrderAndRestartsTheForgetStream()
    {
        var data = Cycling();
        var plan = EpochPlan.Create(data, forgetClass: 0, batchSize: 4, seed: 99, shuffle: false);
        Assert.Equal([1, 2, 3, 4], plan.Steps[0].RetainIndices);
        Assert.Equal([5, 6, 7, 8], plan.Steps[1].RetainIndices);
        Assert.Equal([89], plan.Steps[^1].RetainIndices);
        // Forget images are 0, 10, ..., 80: the stream runs 0..80 then starts again at 0.
        var stream = plan.Steps.SelectMany(s => s.ForgetIndices).ToArray();
        Assert.Equal(81, stream.Length);
        for (int i = 0; i < stream.Length; i++) Assert.Equal(i % 9 * 10, stream[i]);
        Assert.Equal([0, 10, 20, 30], plan.Steps[0].ForgetIndices);
        Assert.Equal([80, 0, 10, 20], plan.Steps[2].ForgetIndices);
    }

    [Fact]
    public void ShuffledForgetStreamUsesEveryImageBeforeRepeating()
    {
        var data = Cycling();
        var plan = EpochPlan.Create(data, forgetClass: 5, batchSize: 10, seed: 4, shuffle: true);
        var stream = plan.Steps.SelectMany(s => s.ForgetIndices).ToArray();
        var forget = data.IndicesOfClass(5);
        for (int start = 0; start + 9 <= stream.Length; start += 9)
            Assert.Equal(forget, stream.AsSpan(start, 9).ToArray().Order().ToArray());
    }

    [Fact]
    public void IsDeterministicFromTheSeed()
    {
        var data = Cycling(200);
        var a = EpochPlan.Create(data, 2, 16, seed: 5, shuffle: true, augment: true);
        var b = EpochPlan.Create(data, 2, 16, seed: 5, shuffle: true, augment: true);
        var c = EpochPlan.Create(data, 2, 16, seed: 6, shuffle: true, augment: true);
        var nextEpoch = EpochPlan.Create(data, 2, 16, seed: 5, shuffle: true, augment: true, epoch: 1);
        var noAugment = EpochPlan.Create(data, 2, 16, seed: 5, shuffle: true, augment: false);
        for (int s = 0; s < a.Steps.Count; s++)
        {
            Assert.Equal(a.Steps[s].RetainIndices, b.Steps[s].RetainIndices);
            Assert.Equal(a.Steps[s].ForgetIndices, b.Steps[s].ForgetIndices);
            Assert.Equal(a.Steps[s].RetainAugmentation, b.Steps[s].RetainAugmentation);
            Assert.Equal(a.Steps[s].RetainIndices, noAugment.Steps[s].RetainIndices);   // augmentation leaves the order alone
        }
        Assert.NotEqual(a.Steps[0].RetainIndices, c.Steps[0].RetainIndices);
        Assert.NotEqual(a.Steps[0].RetainIndices, nextEpoch.Steps[0].RetainIndices);
        Assert.NotEqual(data.IndicesNotOfClass(2).Take(16), a.Steps[0].RetainIndices);
    }

    [Fact]
    public void AugmentationParametersAreInRange()
    {
        var data = Cycling(200);
        var plan = EpochPlan.Create(data, 2, 16, seed: 5, shuffle: true, augment: true);
        var all = plan.Steps.SelectMany(s => s.RetainAugmentation!.Concat(s.ForgetAugmentation!)).ToArray();
        Assert.Equal(2 * 180 * 3, all.Length);
        var shifts = all.Where((_, i) => i % 3 != 2).ToArray();
        var flips = all.Where((_, i) => i % 3 == 2).ToArray();
        Assert.Equal(0, shifts.Min());
        Assert.Equal(8, shifts.Max());
        Assert.Equal([0, 1], flips.Distinct().Order().ToArray());
    }

    [Fact]
    public void AugmentationApplyCropsAndFlips()
    {
        // One 1x2x3 image: rows [1 2 3] [4 5 6].
        byte[] image = [1, 2, 3, 4, 5, 6];
        var output = new byte[6];
        Augmentation.Apply(image, output, 1, 2, 3, Augmentation.IdentityShift, Augmentation.IdentityShift, 0);
        Assert.Equal(image, output);
        Augmentation.Apply(image, output, 1, 2, 3, 5, 4, 0);      // shifted up one row
        Assert.Equal([4, 5, 6, 0, 0, 0], output);
        Augmentation.Apply(image, output, 1, 2, 3, 4, 3, 1);      // shifted right one column, then flipped
        Assert.Equal([2, 1, 0, 5, 4, 0], output);
    }

    [Fact]
    public void RejectsAClassWithNoImages()
    {
        var data = new ImageDataset("x", new byte[3], [0, 1, 1], 1, 1, 1, ["a", "b", "c"]);
        Assert.Throws<ArgumentException>(() => EpochPlan.Create(data, 2, 4, 0, true));
        Assert.Throws<ArgumentOutOfRangeException>(() => EpochPlan.Create(data, 0, 0, 0, true));
    }
}
