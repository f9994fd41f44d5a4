using System.Text.Json;
using IlgpuUnlearn.Data;

namespace IlgpuUnlearn.Tests.Data;

/// <summary>
/// Data files as Python writes them (Fixtures/make_data_fixtures.py): a CIFAR-10 batch re-pickled at every protocol with
/// numpy arrays (uint8 pixels, int64 labels, unicode file names), gzip files of several members or with zero padding
/// (read by Python's gzip and torchvision), a cut gzip file, and a plain tar named .tar.gz.
/// </summary>
public class DataFileKindsTests
{
    private static string DataFixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "data", name);

    public static TheoryData<int> Protocols => new() { 0, 1, 2, 3, 4, 5 };

    [Theory]
    [MemberData(nameof(Protocols))]
    public void ACifarBatchPickledAtEveryProtocolReadsAsPythonWroteIt(int protocol)
    {
        string file = DataFixture($"cifar_batch_p{protocol}");
        var chunks = Cifar10PythonReader.ParseBatch(File.ReadAllBytes(file), file);
        var images = CifarRecordChunks.Concatenate("batch", [chunks]);
        using JsonDocument expected = JsonDocument.Parse(File.ReadAllBytes(DataFixture("cifar_batch_expected.json")));
        long[] labels = [.. expected.RootElement.GetProperty("labels").EnumerateArray().Select(e => e.GetInt64())];
        long[] sums = [.. expected.RootElement.GetProperty("image_sums").EnumerateArray().Select(e => e.GetInt64())];
        byte[][] firstBytes = [.. expected.RootElement.GetProperty("first_bytes").EnumerateArray().Select(row => row.EnumerateArray().Select(e => (byte)e.GetInt32()).ToArray())];
        Assert.Equal(labels.Length, images.Count);
        for (int i = 0; i < images.Count; i++)
        {
            Assert.Equal(labels[i], images.Label(i));
            byte[] image = images.Image(i).ToArray();
            Assert.Equal(sums[i], image.Sum(b => (long)b));
            Assert.Equal(firstBytes[i], image[..4]);
        }
    }

    [Theory]
    [InlineData("labels_two_members.gz")]
    [InlineData("labels_zero_padded.gz")]
    public void GzipOfSeveralMembersOrWithZeroPaddingReadsAsPythonsGzipDoes(string name)
    {
        using JsonDocument expected = JsonDocument.Parse(File.ReadAllBytes(DataFixture("labels_expected.json")));
        byte[] labels = [.. expected.RootElement.EnumerateArray().Select(e => (byte)e.GetInt32())];
        Assert.Equal(labels, IdxReader.ReadLabels(DataFixture(name)));
    }

    [Fact]
    public void ACutGzipSaysItEndsEarly()
    {
        string file = DataFixture("labels_cut.gz");
        var error = Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(file));
        Assert.StartsWith($"{file}: the gzip stream ends early", error.Message);
    }

    [Fact]
    public void GarbageAfterAGzipMemberIsRefused()
    {
        using var temp = new TempFolder();
        string file = temp.File("labels.gz");
        File.WriteAllBytes(file, [.. File.ReadAllBytes(DataFixture("labels_two_members.gz")), 0x50, 0x4b]);
        Assert.EndsWith("holds data after a gzip member that is neither another member nor zero padding",
            Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(file)).Message);
    }

    [Fact]
    public void APlainTarNamedTarGzSaysItIsNotGzipCompressed()
    {
        using var temp = new TempFolder();
        string archive = temp.File(Cifar10PythonReader.ArchiveName);
        File.Copy(DataFixture("plain_tar.tar.gz"), archive);
        string expected = $"{archive}: is not gzip-compressed (it does not start with the gzip bytes 1f 8b)";
        Assert.Equal(expected, Assert.Throws<DataFormatException>(() => Cifar10PythonReader.LoadTest(archive)).Message);
        Assert.Equal(expected, Assert.Throws<DataFormatException>(() => Cifar10Reader.Detect(archive)).Message);
        Assert.Equal(expected, Assert.Throws<DataFormatException>(() => Cifar10BinaryReader.LoadTest(archive)).Message);
    }

    [Fact]
    public void MutatedGzipFilesReadOrFailWithTheDocumentedException()
    {
        // Seeded mutation fuzzing of a two-member gzip IDX file: each case reads or is one DataFormatException.
        byte[] original = File.ReadAllBytes(DataFixture("labels_two_members.gz"));
        using var temp = new TempFolder();
        string file = temp.File("fuzz.gz");
        var random = new Random(20241129);
        int refused = 0;
        for (int i = 0; i < 500; i++)
        {
            var bytes = new List<byte>(original);
            for (int m = random.Next(1, 4); m > 0 && bytes.Count > 2; m--)
            {
                int at = random.Next(2, bytes.Count); // keep the magic, so the gzip path is taken
                switch (random.Next(4))
                {
                    case 0: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                    case 1: bytes[at] = (byte)random.Next(256); break;
                    case 2: bytes.RemoveRange(at, Math.Min(bytes.Count - at, random.Next(1, 8))); break;
                    default: bytes.RemoveRange(at, bytes.Count - at); break;
                }
            }
            File.WriteAllBytes(file, [.. bytes]);
            try
            {
                IdxReader.ReadLabels(file);
            }
            catch (DataFormatException)
            {
                refused++;
            }
            catch (Exception e)
            {
                Assert.Fail($"case {i}: {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }
        }
        Assert.True(refused > 0);
    }
}
