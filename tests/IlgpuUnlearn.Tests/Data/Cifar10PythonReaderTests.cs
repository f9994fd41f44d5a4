using IlgpuUnlearn.Data;

namespace IlgpuUnlearn.Tests.Data;

public class Cifar10PythonReaderTests
{
    private static readonly int[] Counts = [2, 3, 1, 300, 2, 4];

    private static void AssertMatches(DatasetSplit split)
    {
        Assert.Equal(308, split.Train.Count);
        Assert.Equal(4, split.Test.Count);
        int index = 0;
        for (int f = 0; f < 5; f++)
        {
            for (int r = 0; r < Counts[f]; r++, index++)
            {
                Assert.Equal(CifarTestFiles.LabelOf(f, r), split.Train.Label(index));
                Assert.Equal(CifarTestFiles.PixelOf(f, r, 5), split.Train.Image(index)[5]);
                Assert.Equal(CifarTestFiles.PixelOf(f, r, 3000), split.Train.Image(index)[3000]);
            }
        }
        Assert.Equal(CifarTestFiles.LabelOf(5, 3), split.Test.Label(3));
    }

    [Fact]
    public void ReadsAFolderOfPickledBatches()
    {
        using var temp = new TempFolder();
        CifarPickleTestFiles.WriteFolder(temp.File(Cifar10PythonReader.FolderName), Counts);
        AssertMatches(Cifar10PythonReader.Load(temp.Path));
        Assert.Equal(Cifar10Reader.Version.Python, Cifar10Reader.Detect(temp.Path));
        AssertMatches(Cifar10Reader.Load(temp.Path));
    }

    [Fact]
    public void ReadsTheTarGz()
    {
        using var temp = new TempFolder();
        string archive = temp.File(Cifar10PythonReader.ArchiveName);
        CifarPickleTestFiles.WriteArchive(archive, Counts);
        AssertMatches(Cifar10PythonReader.Load(archive));
        Assert.Equal(Cifar10Reader.Version.Python, Cifar10Reader.Detect(archive));
        AssertMatches(Cifar10Reader.Load(temp.Path));
    }

    [Fact]
    public void BinaryAndPythonVersionsGiveTheSameDataset()
    {
        using var binary = new TempFolder();
        using var python = new TempFolder();
        CifarTestFiles.WriteArchive(binary.File(Cifar10BinaryReader.ArchiveName), Counts);
        CifarPickleTestFiles.WriteArchive(python.File(Cifar10PythonReader.ArchiveName), Counts);
        Assert.Equal(Cifar10Reader.Version.Binary, Cifar10Reader.Detect(binary.File(Cifar10BinaryReader.ArchiveName)));
        var a = Cifar10Reader.Load(binary.Path);
        var b = Cifar10Reader.Load(python.Path);
        Assert.True(a.Train.Pixels.SequenceEqual(b.Train.Pixels));
        Assert.True(a.Train.Labels.SequenceEqual(b.Train.Labels));
        Assert.True(a.Test.Pixels.SequenceEqual(b.Test.Pixels));
    }

    [Fact]
    public void RejectsBadBatches()
    {
        using var temp = new TempFolder();
        CifarPickleTestFiles.WriteFolder(temp.Path, Counts);

        File.WriteAllBytes(temp.File("test_batch"), CifarPickleTestFiles.Batch(5, 3, labelOf: r => r == 1 ? 10 : 0));
        var e = Assert.Throws<DataFormatException>(() => Cifar10PythonReader.LoadTest(temp.Path));
        Assert.Contains("test_batch", e.Message);
        Assert.Contains("label 1 is 10", e.Message);

        File.WriteAllBytes(temp.File("test_batch"), CifarPickleTestFiles.Batch(5, 3, columns: 3000));
        e = Assert.Throws<DataFormatException>(() => Cifar10PythonReader.LoadTest(temp.Path));
        Assert.Contains("shape [3, 3000]", e.Message);

        var cut = CifarPickleTestFiles.Batch(5, 3);
        File.WriteAllBytes(temp.File("test_batch"), cut.AsSpan(0, cut.Length / 2).ToArray());
        e = Assert.Throws<DataFormatException>(() => Cifar10PythonReader.LoadTest(temp.Path));
        Assert.Contains("pickle", e.Message);

        // A pickle that asks for something outside the allow-list is refused, not run.
        File.WriteAllBytes(temp.File("test_batch"), [0x80, 2, (byte)'c', .. "os\nsystem\n"u8, (byte)'.']);
        e = Assert.Throws<DataFormatException>(() => Cifar10PythonReader.LoadTest(temp.Path));
        Assert.Contains("os.system", e.Message);

        File.Delete(temp.File("data_batch_2"));
        e = Assert.Throws<DataFormatException>(() => Cifar10PythonReader.LoadTrain(temp.Path));
        Assert.Contains("data_batch_2", e.Message);
    }

    [Fact]
    public void DetectRejectsFoldersWithoutCifar()
    {
        using var temp = new TempFolder();
        Assert.Throws<DataFormatException>(() => Cifar10Reader.Detect(temp.Path));
        Assert.Throws<DataFormatException>(() => Cifar10Reader.Detect(temp.File("none")));
    }
}
