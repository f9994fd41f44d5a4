using System.Buffers.Binary;
using System.IO.Compression;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Tests.Support;

namespace IlgpuUnlearn.Tests.Data;

public class FashionMnistReaderTests
{
    private static byte[] ImagesIdx(int count, int rows, int columns, int? headerCount = null, int magic = IdxReader.ImagesMagic)
    {
        var bytes = new byte[16 + count * rows * columns];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), headerCount ?? count);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(12), columns);
        for (int i = 16; i < bytes.Length; i++) bytes[i] = (byte)(i * 13 % 251 + 1);   // never 0, so padding shows
        return bytes;
    }

    private static byte[] LabelsIdx(byte[] labels, int? headerCount = null, int magic = IdxReader.LabelsMagic)
    {
        var bytes = new byte[8 + labels.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), headerCount ?? labels.Length);
        labels.CopyTo(bytes, 8);
        return bytes;
    }

    private static byte[] Gzip(byte[] data)
    {
        using var memory = new MemoryStream();
        using (var gzip = new GZipStream(memory, CompressionLevel.Fastest)) gzip.Write(data);
        return memory.ToArray();
    }

    private static void WriteSet(TempFolder temp, bool gzip, int trainCount, int testCount, string subfolder = "")
    {
        Directory.CreateDirectory(Path.Combine(temp.Path, subfolder));
        void Write(string name, byte[] data)
        {
            if (gzip) File.WriteAllBytes(Path.Combine(temp.Path, subfolder, name), Gzip(data));
            else File.WriteAllBytes(Path.Combine(temp.Path, subfolder, Path.GetFileNameWithoutExtension(name)), data);
        }
        Write(FashionMnist.TrainImagesFile, ImagesIdx(trainCount, 28, 28));
        Write(FashionMnist.TrainLabelsFile, LabelsIdx([.. Enumerable.Range(0, trainCount).Select(i => (byte)(i % 10))]));
        Write(FashionMnist.TestImagesFile, ImagesIdx(testCount, 28, 28));
        Write(FashionMnist.TestLabelsFile, LabelsIdx([.. Enumerable.Range(0, testCount).Select(i => (byte)(9 - i % 10))]));
    }

    [Theory]
    [InlineData("FashionMNIST/raw", false)]
    [InlineData("FashionMNIST/raw", true)]
    [InlineData("raw", true)]
    public void FindsTheFilesInTorchvisionsFolders(string subfolder, bool gzip)
    {
        // torchvision.datasets.FashionMNIST(root) keeps the IDX files in root/FashionMNIST/raw/ (unpacked next to the .gz).
        using var temp = new TempFolder();
        WriteSet(temp, gzip, trainCount: 4, testCount: 2, subfolder);
        Assert.Equal(Path.Combine(temp.Path, subfolder), FashionMnistReader.Locate(temp.Path));
        var split = FashionMnistReader.Load(temp.Path);
        Assert.Equal(4, split.Train.Count);
        Assert.Equal(2, split.Test.Count);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ReadsGreyImagesAndPadsThemTo32WithGreyCopiedToThreeChannels(bool gzip)
    {
        using var temp = new TempFolder();
        WriteSet(temp, gzip, trainCount: 7, testCount: 3);
        var grey = FashionMnistReader.Load(temp.Path);
        Assert.Equal((1, 28, 28), (grey.Train.Channels, grey.Train.Height, grey.Train.Width));
        Assert.True(grey.Train.Pixels.SequenceEqual(ImagesIdx(7, 28, 28).AsSpan(16)));
        var split = FashionMnistReader.PadToRgb(grey);
        Assert.Equal(7, split.Train.Count);
        Assert.Equal(3, split.Test.Count);
        Assert.Equal("T-shirt/top", split.Train.ClassNames[0]);
        Assert.Equal("Ankle boot", split.Train.ClassNames[9]);
        Assert.Equal(6, split.Train.Label(6));
        Assert.Equal(8, split.Test.Label(1));
        Assert.Equal((3, 32, 32), (split.Train.Channels, split.Train.Height, split.Train.Width));

        var source = ImagesIdx(7, 28, 28);
        for (int n = 0; n < 7; n += 3)
        {
            var image = split.Train.Image(n);
            for (int c = 0; c < 3; c++)
            {
                for (int y = 0; y < 32; y++)
                {
                    for (int x = 0; x < 32; x++)
                    {
                        bool inside = y is >= 2 and < 30 && x is >= 2 and < 30;
                        byte expected = inside ? source[16 + n * 784 + (y - 2) * 28 + (x - 2)] : (byte)0;
                        Assert.Equal(expected, image[c * 1024 + y * 32 + x]);
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void RejectsAWrongMagic(bool gzip)
    {
        using var temp = new TempFolder();
        string images = temp.File("images"), labels = temp.File("labels");
        var labelBytes = LabelsIdx([1, 2], magic: IdxReader.ImagesMagic);
        File.WriteAllBytes(labels, gzip ? Gzip(labelBytes) : labelBytes);
        File.WriteAllBytes(images, ImagesIdx(2, 28, 28));
        var e = Assert.Throws<DataFormatException>(() => FashionMnistReader.Load(images, labels, "t"));
        Assert.Contains("magic 0x00000803", e.Message);
        Assert.Contains(labels, e.Message);

        File.WriteAllBytes(labels, LabelsIdx([1, 2]));
        File.WriteAllBytes(images, ImagesIdx(2, 28, 28, magic: 0x00000802));
        e = Assert.Throws<DataFormatException>(() => FashionMnistReader.Load(images, labels, "t"));
        Assert.Contains("0x00000802", e.Message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void RejectsCountsLargerThanTheFileBeforeAllocating(bool gzip)
    {
        using var temp = new TempFolder();
        string images = temp.File("images"), labels = temp.File("labels");
        // The header claims two billion images; the file holds two.
        var imageBytes = ImagesIdx(2, 28, 28, headerCount: 2_000_000_000);
        File.WriteAllBytes(images, gzip ? Gzip(imageBytes) : imageBytes);
        var labelBytes = LabelsIdx([1, 2], headerCount: 5);
        File.WriteAllBytes(labels, gzip ? Gzip(labelBytes) : labelBytes);

        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(images));
        Assert.Contains("2000000000 images", e.Message);
        Assert.Contains(images, e.Message);
        e = Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(labels));
        Assert.Contains("5 labels", e.Message);
    }

    [Fact]
    public void RejectsMismatchedCountsBadLabelsAndShortFiles()
    {
        using var temp = new TempFolder();
        string images = temp.File("images"), labels = temp.File("labels");
        File.WriteAllBytes(images, ImagesIdx(3, 28, 28));
        File.WriteAllBytes(labels, LabelsIdx([1, 2]));
        var e = Assert.Throws<DataFormatException>(() => FashionMnistReader.Load(images, labels, "t"));
        Assert.Contains("3 images", e.Message);

        File.WriteAllBytes(labels, LabelsIdx([1, 12, 3]));
        e = Assert.Throws<DataFormatException>(() => FashionMnistReader.Load(images, labels, "t"));
        Assert.Contains("label 1 is 12", e.Message);

        File.WriteAllBytes(labels, [0, 0, 8]);
        e = Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(labels));
        Assert.Contains("too short", e.Message);

        // A gzip stream cut short: its trailer is gone, so the length check or the read catches it.
        File.WriteAllBytes(images, Gzip(ImagesIdx(50, 28, 28)).AsSpan(0, 300).ToArray());
        Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(images));

        e = Assert.Throws<DataFormatException>(() => FashionMnistReader.Load(temp.File("nowhere")));
        Assert.Contains(FashionMnist.TrainImagesFile, e.Message);
    }

    [FashionMnistInstalledFact]
    public void ReadsTheRealFilesWhenInstalled()
    {
        string folder = FashionMnist.DebianFolder;
        var test = FashionMnistReader.Load(Path.Combine(folder, FashionMnist.TestImagesFile), Path.Combine(folder, FashionMnist.TestLabelsFile), "fashion-mnist test");
        Assert.Equal(10_000, test.Count);
        Assert.All(test.CountPerClass(), n => Assert.Equal(1_000, n));
        Assert.Equal((1, 28, 28), (test.Channels, test.Height, test.Width));
        Assert.Contains(test.Image(0).ToArray(), b => b > 100);    // a real picture
        var image = FashionMnistReader.PadToRgb(test).Image(0);
        Assert.Equal(0, image[0]);                                  // the padding
        Assert.True(image[..1024].SequenceEqual(image[1024..2048]));
    }
}
