using IlgpuUnlearn.Data;

namespace IlgpuUnlearn.Tests.Data;

public class ImageDatasetTests
{
    private static ImageDataset Small()
    {
        // 6 images of 3x2x2; image i holds bytes 10*i .. 10*i + 11.
        var pixels = new byte[6 * 12];
        for (int i = 0; i < 6; i++)
            for (int p = 0; p < 12; p++) pixels[i * 12 + p] = (byte)(10 * i + p);
        return new ImageDataset("small", pixels, [0, 2, 1, 2, 0, 2], 3, 2, 2, ["a", "b", "c"]);
    }

    [Fact]
    public void GathersImagesAndLabelsByIndex()
    {
        var data = Small();
        Span<byte> batch = stackalloc byte[3 * 12];
        data.GatherImages([4, 0, 4], batch);
        Assert.Equal(40, batch[0]);
        Assert.Equal(11, batch[12 + 11]);
        Assert.Equal(45, batch[24 + 5]);
        Span<int> labels = stackalloc int[3];
        data.GatherLabels([1, 2, 3], labels);
        Assert.Equal([2, 1, 2], labels.ToArray());
        Assert.Throws<ArgumentException>(() => data.GatherImages([0, 1], new byte[23]));
        Assert.Throws<ArgumentOutOfRangeException>(() => data.GatherImages([6], new byte[12]));
    }

    [Fact]
    public void FiltersByClass()
    {
        var data = Small();
        Assert.Equal([1, 3, 5], data.IndicesOfClass(2));
        Assert.Equal([0, 2, 4], data.IndicesNotOfClass(2));
        Assert.Equal([2, 1, 3], data.CountPerClass());
        Assert.Throws<ArgumentOutOfRangeException>(() => data.IndicesOfClass(3));
    }

    [Fact]
    public void SubsetCopiesTheChosenImages()
    {
        var data = Small();
        var subset = data.Subset([5, 1]);
        Assert.Equal(2, subset.Count);
        Assert.Equal(50, subset.Image(0)[0]);
        Assert.Equal(2, subset.Label(1));
        var first = data.FirstPerClass(1);
        Assert.Equal([0, 2, 1], Enumerable.Range(0, first.Count).Select(first.Label).ToArray());   // images 0, 1, 2
    }

    [Fact]
    public void RejectsInconsistentArrays()
    {
        Assert.Throws<ArgumentException>(() => new ImageDataset("x", new byte[11], [0], 3, 2, 2, ["a"]));
        Assert.Throws<ArgumentException>(() => new ImageDataset("x", new byte[12], [1], 3, 2, 2, ["a"]));
    }
}
