using IlgpuUnlearn.Data;

namespace IlgpuUnlearn.Tests.Data;

public class Cifar10BinaryReaderTests
{
    private static readonly int[] Counts = [3, 2, 4, 1, 2, 5];

    private static void AssertMatchesFiles(DatasetSplit split)
    {
        Assert.Equal(12, split.Train.Count);
        Assert.Equal(5, split.Test.Count);
        Assert.Equal(Cifar10.ClassNames, split.Train.ClassNames);
        Assert.Equal(3, split.Train.Channels);
        Assert.Equal(32, split.Train.Height);
        // Training images are data_batch_1's records first, then data_batch_2's, in file order.
        int index = 0;
        for (int f = 0; f < 5; f++)
        {
            for (int r = 0; r < Counts[f]; r++, index++)
            {
                Assert.Equal(CifarTestFiles.LabelOf(f, r), split.Train.Label(index));
                var image = split.Train.Image(index);
                Assert.Equal(CifarTestFiles.PixelOf(f, r, 0), image[0]);
                Assert.Equal(CifarTestFiles.PixelOf(f, r, 1024), image[1024]);
                Assert.Equal(CifarTestFiles.PixelOf(f, r, 3071), image[3071]);
            }
        }
        for (int r = 0; r < Counts[5]; r++)
        {
            Assert.Equal(CifarTestFiles.LabelOf(5, r), split.Test.Label(r));
            Assert.Equal(CifarTestFiles.PixelOf(5, r, 2000), split.Test.Image(r)[2000]);
        }
    }

    [Fact]
    public void ReadsAFolderOfBatchFiles()
    {
        using var temp = new TempFolder();
        string folder = temp.File(Cifar10BinaryReader.FolderName);
        CifarTestFiles.WriteFolder(folder, Counts);
        AssertMatchesFiles(Cifar10BinaryReader.Load(folder));
        // A folder that holds cifar-10-batches-bin/ serves as well.
        AssertMatchesFiles(Cifar10BinaryReader.Load(temp.Path));
        Assert.Equal(5, Cifar10BinaryReader.LoadTest(temp.Path).Count);
        Assert.Equal(12, Cifar10BinaryReader.LoadTrain(folder).Count);
    }

    [Fact]
    public void ReadsTheTarGzWithoutExtracting()
    {
        using var temp = new TempFolder();
        string archive = temp.File(Cifar10BinaryReader.ArchiveName);
        CifarTestFiles.WriteArchive(archive, Counts);
        AssertMatchesFiles(Cifar10BinaryReader.Load(archive));
        // A folder holding only the archive is found too.
        AssertMatchesFiles(Cifar10BinaryReader.Load(temp.Path));
        Assert.Single(Directory.GetFileSystemEntries(temp.Path));
    }

    [Fact]
    public void RejectsAFileThatIsNotWholeRecords()
    {
        using var temp = new TempFolder();
        CifarTestFiles.WriteFolder(temp.Path, Counts);
        string bad = temp.File("data_batch_3.bin");
        File.WriteAllBytes(bad, new byte[Cifar10BinaryReader.RecordSize * 2 + 5]);
        var e = Assert.Throws<DataFormatException>(() => Cifar10BinaryReader.Load(temp.Path));
        Assert.Contains("data_batch_3.bin", e.Message);
        Assert.Contains("3073", e.Message);
        Assert.Equal(bad, e.FilePath);
    }

    [Fact]
    public void RejectsALabelOutsideTheTenClasses()
    {
        using var temp = new TempFolder();
        CifarTestFiles.WriteFolder(temp.Path, Counts);
        var bytes = CifarTestFiles.Records(5, 3);
        bytes[2 * Cifar10BinaryReader.RecordSize] = 10;
        File.WriteAllBytes(temp.File("test_batch.bin"), bytes);
        var e = Assert.Throws<DataFormatException>(() => Cifar10BinaryReader.LoadTest(temp.Path));
        Assert.Contains("test_batch.bin", e.Message);
        Assert.Contains("record 2 has label 10", e.Message);
    }

    [Fact]
    public void NamesAMissingFile()
    {
        using var temp = new TempFolder();
        CifarTestFiles.WriteFolder(temp.Path, Counts);
        File.Delete(temp.File("data_batch_4.bin"));
        var e = Assert.Throws<DataFormatException>(() => Cifar10BinaryReader.Load(temp.Path));
        Assert.Contains("data_batch_4.bin", e.Message);
        Assert.Contains("missing", e.Message);

        var none = Assert.Throws<DataFormatException>(() => Cifar10BinaryReader.Load(temp.File("no-such-folder")));
        Assert.Contains("no-such-folder", none.Message);
    }

    [Fact]
    public void NamesAFileMissingFromTheArchive()
    {
        using var temp = new TempFolder();
        string archive = temp.File("c.tar.gz");
        CifarTestFiles.WriteArchive(archive, Counts, includeTest: false);
        Assert.Equal(12, Cifar10BinaryReader.LoadTrain(archive).Count);
        var e = Assert.Throws<DataFormatException>(() => Cifar10BinaryReader.LoadTest(archive));
        Assert.Contains("test_batch.bin", e.Message);
        Assert.Contains("c.tar.gz", e.Message);
    }

    [Fact]
    public void RejectsATruncatedArchive()
    {
        using var temp = new TempFolder();
        string archive = temp.File(Cifar10BinaryReader.ArchiveName);
        CifarTestFiles.WriteArchive(archive, [30, 30, 30, 30, 30, 30]);
        var bytes = File.ReadAllBytes(archive);
        foreach (double fraction in new[] { 0.5, 0.97 })
        {
            string cut = temp.File($"cut-{fraction}.tar.gz");
            File.WriteAllBytes(cut, bytes.AsSpan(0, (int)(bytes.Length * fraction)).ToArray());
            var e = Assert.Throws<DataFormatException>(() => Cifar10BinaryReader.Load(cut));
            Assert.Contains(cut, e.Message);
        }
    }

    [Fact]
    public void RejectsAFileThatIsNotGzip()
    {
        using var temp = new TempFolder();
        string archive = temp.File(Cifar10BinaryReader.ArchiveName);
        File.WriteAllText(archive, "not an archive at all");
        var e = Assert.Throws<DataFormatException>(() => Cifar10BinaryReader.Load(archive));
        Assert.Contains(archive, e.Message);
    }
}
