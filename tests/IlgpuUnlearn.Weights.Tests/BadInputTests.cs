using System.Buffers.Binary;
using System.IO.Compression;
using IlgpuUnlearn.Weights.Pickle;

namespace IlgpuUnlearn.Weights.Tests;

/// <summary>Damaged and hostile files: each is one clear WeightsFormatException, with no crash, hang or big allocation.</summary>
public class BadInputTests
{
    private static WeightsFormatException LoadFails(byte[] file, string name = "bad.pth")
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<WeightsFormatException>(() => WeightsFile.Load(file, name));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 2L * file.Length + (1 << 20), $"allocated {allocated} bytes for a {file.Length}-byte file");
        Assert.StartsWith(name + ": ", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        return error;
    }

    internal static byte[] ZipWithPickle(byte[] pickle, params (string Name, byte[] Content)[] more)
    {
        using var stream = new MemoryStream();
        using (var archive = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach ((string name, byte[] content) in new[] { ("archive/data.pkl", pickle) }.Concat(more))
            {
                using Stream entry = archive.CreateEntry(name, CompressionLevel.NoCompression).Open();
                entry.Write(content);
            }
        }
        return stream.ToArray();
    }

    /// <summary>A torch-style pickle of one float tensor whose persistent id says it has <paramref name="numel"/> elements.</summary>
    private static byte[] OneTensorPickle(long numel, string storageClass = "FloatStorage")
    {
        var writer = new PickleWriter().Protocol2().Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark();
        writer.String("w").Global("torch._utils", "_rebuild_tensor_v2").Mark();
        writer.Mark().String("storage").Global("torch", storageClass).String("0").String("cpu").Int(numel).TupleFromMark().BinaryPersistentId();
        writer.Int(0).IntTuple([numel]).IntTuple([1]).False().Global("collections", "OrderedDict").EmptyTuple().Reduce().TupleFromMark().Reduce();
        return writer.SetItemsFromMark().Stop().ToArray();
    }

    [Trait("Category", "Slow")]
    [Theory]
    [InlineData("dtypes.pth")]
    [InlineData("dtypes_legacy.pth")]
    [InlineData("resnet_w4_zip.pth")]
    [InlineData("resnet_w4_legacy.pth")]
    public void EveryTruncationIsReported(string fixture)
    {
        byte[] full = File.ReadAllBytes(TestFiles.Fixture(fixture));
        int step = Math.Max(1, full.Length / 600);
        for (int length = 0; length < full.Length; length += step)
        {
            LoadFails(full[..length]);
        }
    }

    [Fact]
    public void EveryTruncatedSafetensorsIsReported()
    {
        byte[] full = SafetensorsTests.WriteToBytes(WeightsFile.Load(TestFiles.Fixture("dtypes.pth")).Tensors);
        for (int length = 0; length < full.Length; length++)
        {
            LoadFails(full[..length], "t.safetensors");
        }
    }

    [Fact]
    public void CorruptedZipEntriesAreReported()
    {
        byte[] good = File.ReadAllBytes(TestFiles.Fixture("dtypes.pth"));
        // The local header signature of the first entry ("PK\3\4") is damaged; the central directory still points at it.
        byte[] badLocalHeader = (byte[])good.Clone();
        int secondLocal = IndexOf(badLocalHeader, [(byte)'P', (byte)'K', 3, 4], 4);
        badLocalHeader[secondLocal + 2] = 9;
        Assert.Contains("zip", LoadFails(badLocalHeader).Message);

        // The central directory's end record is gone.
        byte[] noDirectory = good[..(IndexOf(good, [(byte)'P', (byte)'K', 1, 2], 0))];
        Assert.Contains("zip", LoadFails(noDirectory).Message);

        // A storage entry's size in the central directory does not fit the tensor.
        byte[] wrongSize = ZipWithPickle(OneTensorPickle(4), ("archive/data/0", new byte[12]));
        Assert.Contains("has 12 bytes, but storage 0 needs 16", LoadFails(wrongSize).Message);

        // A storage the pickle uses is missing.
        Assert.Contains("storage 0 is missing", LoadFails(ZipWithPickle(OneTensorPickle(4))).Message);
    }

    [Fact]
    public void AZipWithoutDataPklIsNotATorchFile()
    {
        byte[] file = ZipWithPickle([0x80, 2, (byte)'N', (byte)'.']).ToArray();
        byte[] renamed = ZipWithPickleNamed("something/else.pkl");
        Assert.Contains("no FOLDER/data.pkl", LoadFails(renamed).Message);
        Assert.Contains("not a dict", LoadFails(file).Message);
    }

    private static byte[] ZipWithPickleNamed(string name)
    {
        using var stream = new MemoryStream();
        using (var archive = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            using Stream entry = archive.CreateEntry(name).Open();
            entry.Write([0x80, 2, (byte)'N', (byte)'.']);
        }
        return stream.ToArray();
    }

    [Fact]
    public void WrongMagicNumbersAreReported()
    {
        byte[] legacy = File.ReadAllBytes(TestFiles.Fixture("dtypes_legacy.pth"));
        legacy[5] ^= 0x40; // inside the LONG1 magic number: a legacy file is told by its magic number, so this is none
        Assert.Contains("unknown format (first bytes 80028A0A6CBC9C46): not a torch.save zip or legacy file (of any pickle protocol), nor safetensors", LoadFails(legacy).Message);

        byte[] zip = File.ReadAllBytes(TestFiles.Fixture("dtypes.pth"));
        zip[0] = (byte)'Q';
        Assert.Contains("unknown format", LoadFails(zip).Message);

        Assert.Contains("unknown format", LoadFails("this is not a model\n"u8.ToArray()).Message);
        Assert.Contains("empty", LoadFails([]).Message);
    }

    [Fact]
    public void APthWhosePickleCallsAForbiddenGlobalNamesIt()
    {
        byte[] pickle = new PickleWriter().Protocol2().Global("posix", "system").Mark().String("rm -rf /").TupleFromMark().Reduce().Stop().ToArray();
        Assert.Contains("'posix.system' is not on the allow-list", LoadFails(ZipWithPickle(pickle)).Message);
        byte[] module = new PickleWriter().Protocol2().Global("torchvision.models.resnet", "ResNet").Stop().ToArray();
        Assert.Contains("'torchvision.models.resnet.ResNet'", LoadFails(ZipWithPickle(module)).Message);
    }

    [Fact]
    public void SizeFieldsLargerThanTheFileAreRefusedBeforeAllocating()
    {
        // A persistent id claiming 2^40 floats.
        Assert.Contains("more than the file can hold", LoadFails(ZipWithPickle(OneTensorPickle(1L << 40))).Message);

        // A tensor that reaches past its storage.
        byte[] tooLong = new PickleWriter().Protocol2().Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark()
            .String("w").Global("torch._utils", "_rebuild_tensor_v2").Mark()
            .Mark().String("storage").Global("torch", "FloatStorage").String("0").String("cpu").Int(4).TupleFromMark().BinaryPersistentId()
            .Int(2).IntTuple([3]).IntTuple([1]).False().Global("collections", "OrderedDict").EmptyTuple().Reduce().TupleFromMark().Reduce()
            .SetItemsFromMark().Stop().ToArray();
        Assert.Contains("reaches element 4 of a storage of 4", LoadFails(ZipWithPickle(tooLong, ("archive/data/0", new byte[16]))).Message);

        // A legacy storage whose element count field is huge.
        byte[] legacy = File.ReadAllBytes(TestFiles.Fixture("dtypes_legacy.pth"));
        int lastCount = FindLastStorageCountOffset(legacy);
        BinaryPrimitives.WriteInt64LittleEndian(legacy.AsSpan(lastCount), long.MaxValue / 2);
        Assert.Contains("elements, but its tensors declared", LoadFails(legacy).Message);

        // A pickle string length beyond the file.
        byte[] longString = [0x80, 2, (byte)'X', 0xFF, 0xFF, 0xFF, 0x7F, (byte)'.'];
        Assert.Contains("larger than the", LoadFails(ZipWithPickle(longString)).Message);
    }

    [Fact]
    public void AStateDictOfNonTensorsIsNotAStateDict()
    {
        byte[] pickle = new PickleWriter().Protocol2().Global("collections", "OrderedDict").EmptyTuple().Reduce()
            .Mark().String("epoch").Int(3).SetItemsFromMark().Stop().ToArray();
        Assert.Contains("no state dict found", LoadFails(ZipWithPickle(pickle)).Message);
    }

    [Fact]
    public void AMissingFileIsOneClearError()
    {
        var error = Assert.Throws<WeightsFormatException>(() => WeightsFile.Load("/nonexistent/model.pth"));
        Assert.Equal("/nonexistent/model.pth: cannot open the file: no such file", error.Message);
    }

    /// <summary>The offset of the last storage's int64 element count in the dtypes legacy fixture (a 2-element float32 Parameter).</summary>
    private static int FindLastStorageCountOffset(byte[] legacy) => legacy.Length - 8 - 2 * 4;

    private static int IndexOf(byte[] haystack, byte[] needle, int from)
    {
        int index = haystack.AsSpan(from).IndexOf(needle);
        Assert.True(index >= 0);
        return from + index;
    }
}
