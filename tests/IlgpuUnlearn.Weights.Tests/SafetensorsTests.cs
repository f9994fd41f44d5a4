using System.Buffers.Binary;
using System.Text;
using IlgpuUnlearn.Weights.Safetensors;

namespace IlgpuUnlearn.Weights.Tests;

public class SafetensorsTests
{
    internal static byte[] WriteToBytes(StateDict tensors)
    {
        using var stream = new MemoryStream();
        SafetensorsWriter.Write(stream, tensors);
        return stream.ToArray();
    }

    /// <summary>A safetensors file with the given JSON header and data bytes.</summary>
    internal static byte[] Build(string header, int dataLength, ulong? headerLengthField = null)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + json.Length + dataLength];
        BinaryPrimitives.WriteUInt64LittleEndian(file, headerLengthField ?? (ulong)json.Length);
        json.CopyTo(file, 8);
        return file;
    }

    [Fact]
    public void EveryDTypeRoundTripsWithNamesOrderAndBytes()
    {
        StateDict original = WeightsFile.Load(TestFiles.Fixture("dtypes.pth")).Tensors;
        byte[] file = WriteToBytes(original);
        Assert.Equal(0, (BinaryPrimitives.ReadInt64LittleEndian(file) % 8));
        LoadedWeights loaded = WeightsFile.Load(file, "mem.safetensors");
        Assert.Equal(WeightsFileFormat.Safetensors, loaded.Format);
        Assert.Equal(original.Keys, loaded.Tensors.Keys);
        foreach ((string name, StoredTensor tensor) in original)
        {
            Assert.Equal(tensor.DType, loaded.Tensors[name].DType);
            Assert.Equal(tensor.Shape, loaded.Tensors[name].Shape);
            Assert.Equal(tensor.Data, loaded.Tensors[name].Data);
        }
    }

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12, "overlaps")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 8, "overlaps")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 4, "run past the end")]
    [InlineData("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, "needs 12 bytes")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "belong to no tensor")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 8, "cover 4")]
    [InlineData("""{"a":{"dtype":"Q9","shape":[1],"data_offsets":[0,4]}}""", 4, "unsupported dtype")]
    [InlineData("""{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", 4, "non-negative")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}""", 8, "begin <= end")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1]}}""", 4, "data_offsets")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "twice")]
    [InlineData("""{"__metadata__":{"x":1}}""", 0, "__metadata__")]
    [InlineData("""{"a":{"dtype":"F32",""", 0, "not valid JSON")]
    [InlineData("""{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}""", 8, "non-negative integers below 2^31")]
    public void BadHeadersAreRefused(string header, int dataLength, string problem)
    {
        var error = Assert.Throws<WeightsFormatException>(() => WeightsFile.Load(Build(header, dataLength), "bad.safetensors"));
        Assert.Contains(problem, error.Message);
        Assert.StartsWith("bad.safetensors: ", error.Message);
    }

    [Fact]
    public void AHeaderLengthLargerThanTheFileIsRefusedWithoutAllocatingIt()
    {
        byte[] file = Build("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 4, headerLengthField: 90_000_000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<WeightsFormatException>(() => SafetensorsReader.Read(new MemoryStream(file), "big.safetensors"));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.Contains("header length 90000000 is larger than the file", error.Message);
    }
}
