using IlgpuUnlearn.Data;

namespace IlgpuUnlearn.Tests.Data;

/// <summary><see cref="EpochBatches"/>: a set in batches, and a set read as an endless stream (AdvNegGrad's forget images).</summary>
public class EpochBatchesTests
{
    /// <summary>90 images cycling through 10 classes: 81 retain and 9 forget images for any class.</summary>
    private static ImageDataset Cycling(int count = 90)
    {
        var labels = Enumerable.Range(0, count).Select(i => (byte)(i % 10)).ToArray();
        return new ImageDataset("cycling", new byte[count * 3], labels, 3, 1, 1, Cifar10.ClassNames);
    }

    [Fact]
    public void BatchesCoverTheSetOnceAndKeepThePartialLastBatch()
    {
        var data = Cycling();
        var batches = EpochBatches.Of(data.IndicesNotOfClass(3), 25, seed: 1, epoch: 0, shuffle: true, augment: false);
        Assert.Equal([25, 25, 25, 6], batches.Select(b => b.Indices.Length).ToArray());
        Assert.Equal(data.IndicesNotOfClass(3), batches.SelectMany(b => b.Indices).Order().ToArray());  // every retain image once
        Assert.Null(batches[0].Augmentation);
    }

    [Fact]
    public void CifarSizedRetainSetHas18BatchesOf2500()
    {
        // 50,000 labels only (1x1x1 images) to check the counts the card's epoch has.
        var labels = Enumerable.Range(0, 50_000).Select(i => (byte)(i % 10)).ToArray();
        var data = new ImageDataset("labels", new byte[50_000], labels, 1, 1, 1, Cifar10.ClassNames);
        Assert.Equal(45_000, data.IndicesNotOfClass(3).Length);
        Assert.Equal(5_000, data.IndicesOfClass(3).Length);
        var batches = EpochBatches.Of(data.IndicesNotOfClass(3), 2500, seed: 0, epoch: 0, shuffle: true, augment: false);
        Assert.Equal(18, batches.Count);
        Assert.All(batches, b => Assert.Equal(2500, b.Indices.Length));
    }

    [Fact]
    public void WithoutShuffleKeepsFileOrderAndRestartsTheStream()
    {
        var data = Cycling();
        var batches = EpochBatches.Of(data.IndicesNotOfClass(0), 4, seed: 99, epoch: 0, shuffle: false, augment: false);
        Assert.Equal([1, 2, 3, 4], batches[0].Indices);
        Assert.Equal([5, 6, 7, 8], batches[1].Indices);
        Assert.Equal([89], batches[^1].Indices);
        // Forget images are 0, 10, ..., 80: the stream runs 0..80 then starts again at 0.
        var stream = new EpochBatches.Stream(data.IndicesOfClass(0), seed: 99, epoch: 0, shuffle: false, augment: false);
        var drawn = batches.SelectMany(b => stream.Next(b.Indices.Length).Indices).ToArray();
        Assert.Equal(81, drawn.Length);
        for (int i = 0; i < drawn.Length; i++) Assert.Equal(i % 9 * 10, drawn[i]);
    }

    [Fact]
    public void ShuffledStreamUsesEveryImageBeforeRepeating()
    {
        var data = Cycling();
        var stream = new EpochBatches.Stream(data.IndicesOfClass(5), seed: 4, epoch: 0, shuffle: true, augment: false);
        var drawn = Enumerable.Range(0, 9).SelectMany(_ => stream.Next(10).Indices).ToArray();
        var forget = data.IndicesOfClass(5);
        for (int start = 0; start + 9 <= drawn.Length; start += 9)
            Assert.Equal(forget, drawn.AsSpan(start, 9).ToArray().Order().ToArray());
        Assert.NotEqual(forget, drawn.Take(9));
    }

    [Fact]
    public void IsDeterministicFromTheSeedAndEpoch()
    {
        var data = Cycling(200);
        var set = data.IndicesNotOfClass(2);
        var a = EpochBatches.Of(set, 16, seed: 5, epoch: 0, shuffle: true, augment: true);
        var b = EpochBatches.Of(set, 16, seed: 5, epoch: 0, shuffle: true, augment: true);
        var c = EpochBatches.Of(set, 16, seed: 6, epoch: 0, shuffle: true, augment: true);
        var nextEpoch = EpochBatches.Of(set, 16, seed: 5, epoch: 1, shuffle: true, augment: true);
        var noAugment = EpochBatches.Of(set, 16, seed: 5, epoch: 0, shuffle: true, augment: false);
        for (int s = 0; s < a.Count; s++)
        {
            Assert.Equal(a[s].Indices, b[s].Indices);
            Assert.Equal(a[s].Augmentation, b[s].Augmentation);
            Assert.Equal(a[s].Indices, noAugment[s].Indices);   // augmentation leaves the order alone
        }
        Assert.NotEqual(a[0].Indices, c[0].Indices);
        Assert.NotEqual(a[0].Indices, nextEpoch[0].Indices);
        Assert.NotEqual(set.Take(16), a[0].Indices);
    }

    [Fact]
    public void AugmentationParametersAreInRange()
    {
        var data = Cycling(200);
        var all = EpochBatches.Of(data.IndicesNotOfClass(2), 16, seed: 5, epoch: 0, shuffle: true, augment: true)
            .SelectMany(b => b.Augmentation!).ToArray();
        Assert.Equal(180 * 3, all.Length);
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
    public void RejectsAnEmptyStreamAndABatchOfZero()
    {
        Assert.Throws<ArgumentException>(() => new EpochBatches.Stream([], 0, 0, true, false));
        Assert.Throws<ArgumentOutOfRangeException>(() => EpochBatches.Of([1, 2], 0, 0, 0, true, false));
    }
}
