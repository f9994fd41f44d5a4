using IlgpuUnlearn.Data;

namespace IlgpuUnlearn.Tests.Data;

public class DatasetLoaderTests
{
    [Fact]
    public void ParsesNamesAndLoadsEachKind()
    {
        Assert.Equal(DatasetKind.Cifar10, DatasetLoader.ParseKind("CIFAR-10"));
        Assert.Equal(DatasetKind.FashionMnist, DatasetLoader.ParseKind("fashion_mnist"));
        Assert.Equal(DatasetKind.Synthetic, DatasetLoader.ParseKind("synthetic"));
        Assert.Throws<ArgumentException>(() => DatasetLoader.ParseKind("imagenet"));

        var synthetic = DatasetLoader.Load(DatasetKind.Synthetic, null, seed: 3, syntheticTrainPerClass: 2, syntheticTestPerClass: 1);
        Assert.Equal((20, 10), (synthetic.Train.Count, synthetic.Test.Count));
        Assert.Throws<ArgumentException>(() => DatasetLoader.Load(DatasetKind.Cifar10, null));

        using var temp = new TempFolder();
        CifarTestFiles.WriteFolder(temp.File(Cifar10BinaryReader.FolderName), [1, 1, 1, 1, 1, 2]);
        Assert.Equal(2, DatasetLoader.Load(DatasetKind.Cifar10, temp.Path).Test.Count);
    }
}
