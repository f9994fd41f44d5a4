using System.IO.Compression;
using IlgpuUnlearn.Weights.ResNet18;
using IlgpuUnlearn.Weights.Torch;

namespace IlgpuUnlearn.Weights.Tests;

/// <summary>
/// The stored-entry fast path of the torch zip reader (entries found from the zip headers, storages as slices of
/// one buffer) against ZipArchive, its fallback for other archives, and the pooled buffer of ResNet18Mapping.Load.
/// </summary>
public class ZipFastPathTests
{
    [Theory]
    [InlineData("dtypes.pth")]
    [InlineData("resnet_w4_zip.pth")]
    [InlineData("resnet_w4_wrapped_module.pth")]
    public void TorchFilesTakeTheFastPathAndItFindsWhatZipArchiveFinds(string fixture)
    {
        byte[] file = File.ReadAllBytes(TestFiles.Fixture(fixture));
        Dictionary<string, (int Offset, int Length)>? entries = StoredZipDirectory.TryRead(file);
        Assert.NotNull(entries);
        using var archive = new ZipArchive(new MemoryStream(file), ZipArchiveMode.Read);
        Assert.Equal(archive.Entries.Select(e => e.FullName).Order(), entries.Keys.Order());
        foreach (ZipArchiveEntry entry in archive.Entries)
        {
            using var content = new MemoryStream();
            using (Stream stream = entry.Open())
            {
                stream.CopyTo(content);
            }
            (int offset, int length) = entries[entry.FullName];
            Assert.True(file.AsSpan(offset, length).SequenceEqual(content.ToArray()), entry.FullName);
        }
    }

    [Fact]
    public void CompressedArchivesAreReadThroughZipArchiveWithTheSameTensors()
    {
        byte[] original = File.ReadAllBytes(TestFiles.Fixture("resnet_w4_zip.pth"));
        byte[] deflated = Recompress(original, CompressionLevel.Optimal);
        Assert.Null(StoredZipDirectory.TryRead(deflated));

        StateDict expected = WeightsFile.Load(original, "stored.pth").Tensors;
        StateDict actual = WeightsFile.Load(deflated, "deflated.pth").Tensors;
        Assert.Equal(expected.Keys, actual.Keys);
        foreach ((string name, StoredTensor tensor) in expected)
        {
            Assert.Equal(tensor.Shape, actual[name].Shape);
            Assert.True(tensor.Bytes.SequenceEqual(actual[name].Bytes), name);
        }
    }

    [Fact]
    public void ADirectoryEntryPointingPastTheDataIsNotTakenOnTrust()
    {
        byte[] file = File.ReadAllBytes(TestFiles.Fixture("dtypes.pth"));
        int central = IndexOf(file, [(byte)'P', (byte)'K', 1, 2]);
        byte[] damaged = (byte[])file.Clone();
        BitConverter.TryWriteBytes(damaged.AsSpan(central + 42), (uint)(file.Length - 10)); // local header offset near the end
        Assert.Null(StoredZipDirectory.TryRead(damaged));
        Assert.Throws<WeightsFormatException>(() => WeightsFile.Load(damaged, "bad.pth"));
    }

    [Fact]
    public void TensorsOfALoadedFileStayValidAfterLaterLoadsAndOwnTheirArrays()
    {
        string path = TestFiles.Fixture("resnet_w4_zip.pth");
        ResNet18Weights first = ResNet18Mapping.Load(path, TestFiles.FixtureWidth);
        float[] copy = first["conv1.weight"].Values.ToArray();
        ResNet18Weights second = ResNet18Mapping.Load(TestFiles.Fixture("resnet_w4_kuangliu_net.pth"), TestFiles.FixtureWidth);
        first["conv1.weight"].Values[0] += 1;
        Assert.Equal(copy[1..], first["conv1.weight"].Values[1..]);
        Assert.NotSame(first["conv1.weight"].Values, second["conv1.weight"].Values);

        ResNet18Weights viaStateDict = ResNet18Mapping.Map(WeightsFile.Load(path).Tensors, path, TestFiles.FixtureWidth);
        ResNet18Weights again = ResNet18Mapping.Load(path, TestFiles.FixtureWidth);
        foreach (MappedTensor tensor in viaStateDict.Tensors)
        {
            Assert.Equal(tensor.Values, again[tensor.CanonicalName].Values);
        }
    }

    [Fact]
    public void AViewOfPartOfAFileIsCopiedOnlyWhenAnArrayIsAskedFor()
    {
        LoadedWeights loaded = WeightsFile.Load(TestFiles.Fixture("dtypes.pth"));
        StoredTensor tensor = loaded.Tensors.First(t => t.Value.Memory.Length > 0).Value;
        byte[] array = tensor.Data;
        Assert.Equal(tensor.Memory.Length, array.Length);
        Assert.True(tensor.Bytes.SequenceEqual(array));
        Assert.Same(array, tensor.Data);
    }

    private static byte[] Recompress(byte[] zip, CompressionLevel level)
    {
        using var input = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read);
        using var output = new MemoryStream();
        using (var archive = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (ZipArchiveEntry entry in input.Entries)
            {
                using Stream source = entry.Open();
                using Stream target = archive.CreateEntry(entry.FullName, level).Open();
                source.CopyTo(target);
            }
        }
        return output.ToArray();
    }

    private static int IndexOf(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle);
}
