using System.Numerics;
using IlgpuUnlearn.Weights.Pickle;

namespace IlgpuUnlearn.Weights.Tests;

public class PickleReaderTests
{
    private static object? Read(byte[] pickle, PickleGlobals? globals = null) =>
        new PickleReader(globals ?? PickleGlobals.PlainData(), "test.pkl").Load(pickle);

    [Fact]
    public void ReadsAPython2CifarBatch()
    {
        const int Rows = 20;
        byte[] pixels = Enumerable.Range(0, Rows * 3072).Select(i => (byte)(i * 31)).ToArray();
        int[] labels = Enumerable.Range(0, Rows).Select(i => i % 10).ToArray();
        var batch = (PickleDict)Read(PickleBytesBuilder.Python2CifarBatch(Rows, pixels, labels))!;

        var data = (NumpyArray)batch["data"]!;
        Assert.Equal([Rows, 3072L], data.Shape);
        Assert.Equal('u', data.DType.Kind);
        Assert.Equal(1, data.DType.ItemSize);
        Assert.Equal(pixels, data.AsBytes());
        Assert.Equal(labels.Select(l => (object?)(long)l), (List<object?>)batch["labels"]!);
        Assert.Equal("training batch 1 of 5", batch["batch_label"]);
    }

    [Fact]
    public void ReadsPlainDataPickledByPython3AtProtocol2()
    {
        var batch = (PickleDict)PickleReader.LoadFile(TestFiles.Fixture("plain_p2.pkl"))!;
        var data = (NumpyArray)batch["data"]!;
        Assert.Equal([3L, 12L], data.Shape);
        Assert.Equal(Enumerable.Range(0, 36).Select(i => (byte)i), data.AsBytes());
        Assert.Equal(new List<object?> { 6L, 9L, 9L }, batch["labels"]);
        Assert.Equal(new List<object?> { "a.png", "b.png", "c.png" }, batch["filenames"]);
    }

    [Fact]
    public void ReadsEveryPlainValueAtProtocol4()
    {
        var values = (PickleDict)PickleReader.LoadFile(TestFiles.Fixture("plain_p4.pkl"))!;
        Assert.Equal(1L, values["small"]);
        Assert.Equal(-5L, values["negative"]);
        Assert.Equal(70000L, values["medium"]);
        Assert.Equal(BigInteger.Pow(2, 70), values["big"]);
        Assert.Equal(BigInteger.Parse("-9223372036854775809", System.Globalization.CultureInfo.InvariantCulture), values["negative_big"]);
        Assert.Equal(1.5, values["float"]);
        Assert.Equal("h\u00e9llo", values["text"]);
        Assert.Equal(new byte[] { 0, 255 }, values["bytes"]);
        Assert.Equal(new List<object?> { 1L, 2L, 3L }, values["list"]);
        Assert.Equal(new object?[] { 1L, "a", null, true, false }, (object?[])values["tuple"]!);
        var nested = (PickleDict)values["nested"]!;
        Assert.Equal("tuple key", nested[new object?[] { 1L, 2L }]);
        Assert.IsType<PickleDict>(Assert.Single((List<object?>)nested["x"]!));
        var array = (NumpyArray)values["array"]!;
        Assert.Equal([1L, 2L], array.Shape);
        Assert.Equal([1.5f, -2.0f], System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(array.Data).ToArray());
        var shared = (object?[])values["shared"]!;
        Assert.Same(shared[0], shared[1]);
    }

    [Theory]
    [InlineData("os", "system")]
    [InlineData("builtins", "eval")]
    [InlineData("__builtin__", "getattr")]
    [InlineData("torch.nn.modules.conv", "Conv2d")]
    public void AForbiddenGlobalStopsWithItsName(string module, string name)
    {
        byte[] pickle = new PickleBytesBuilder().Proto(2).Global(module, name).Unicode("echo hi").Op(0x85).Op('R').Op('.').ToArray();
        var error = Assert.Throws<WeightsFormatException>(() => Read(pickle));
        Assert.Contains($"'{module}.{name}' is not on the allow-list", error.Message);
        Assert.StartsWith("test.pkl: ", error.Message);
    }

    [Fact]
    public void AForbiddenStackGlobalStopsWithItsName()
    {
        byte[] pickle = new PickleBytesBuilder().Proto(4).Unicode("subprocess").Unicode("Popen").Op(0x93).Op('.').ToArray();
        var error = Assert.Throws<WeightsFormatException>(() => Read(pickle));
        Assert.Contains("'subprocess.Popen'", error.Message);
    }

    [Fact]
    public void AnAllowedTypeCannotBeCalled()
    {
        byte[] pickle = new PickleBytesBuilder().Proto(2).Global("numpy", "ndarray").Op(')').Op('R').Op('.').ToArray();
        var error = Assert.Throws<WeightsFormatException>(() => Read(pickle));
        Assert.Contains("calling 'numpy.ndarray' is not allowed", error.Message);
    }

    [Fact]
    public void ObjectBuildingOpcodesBuildOnlyFromAllowedGlobals()
    {
        // NEWOBJ and OBJ of something that is not a global, INST of a global that is not allowed, and the extension registry.
        byte[] newObject = new PickleBytesBuilder().Proto(2).Op(')').Op(')').Op(0x81).Op('.').ToArray();
        Assert.Contains("NEWOBJ calls a tuple, not an allowed global", Assert.Throws<WeightsFormatException>(() => Read(newObject)).Message);
        byte[] obj = new PickleBytesBuilder().Proto(1).Op('(').Op(')').Op('o').Op('.').ToArray();
        Assert.Contains("OBJ calls a tuple, not an allowed global", Assert.Throws<WeightsFormatException>(() => Read(obj)).Message);
        byte[] instance = [(byte)'(', (byte)'i', .. "os\nsystem\n"u8, (byte)'.'];
        Assert.Contains("global 'os.system' is not on the allow-list", Assert.Throws<WeightsFormatException>(() => Read(instance)).Message);
        byte[] extension = new PickleBytesBuilder().Proto(2).Op(0x82).Op('.').ToArray();
        Assert.Contains("EXT1/2/4", Assert.Throws<WeightsFormatException>(() => Read(extension)).Message);
    }

    [Fact]
    public void PersistentIdsAreRefusedWithoutAResolver()
    {
        byte[] pickle = new PickleBytesBuilder().Proto(2).Op(')').Op('Q').Op('.').ToArray();
        Assert.Contains("persistent ids are not allowed", Assert.Throws<WeightsFormatException>(() => Read(pickle)).Message);
    }

    [Fact]
    public void ALengthLargerThanTheDataIsRefusedBeforeAllocating()
    {
        byte[] pickle = new PickleBytesBuilder().Proto(4).Op(0x8e).Raw(0, 0, 0, 0, 0, 0, 0, 0x10).Op('.').ToArray(); // BINBYTES8 of 2^60
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<WeightsFormatException>(() => Read(pickle));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.Contains("larger than the", error.Message);
    }

    [Fact]
    public void TruncatedPicklesAreReported()
    {
        byte[] full = File.ReadAllBytes(TestFiles.Fixture("plain_p4.pkl"));
        for (int length = 0; length < full.Length; length++)
        {
            Assert.Throws<WeightsFormatException>(() => new PickleReader(PickleGlobals.PlainData(), "t.pkl").Load(full, 0, length, out _));
        }
    }

    [Fact]
    public void DeeplyNestedTupleKeysAreRefusedNotOverflowingTheStack()
    {
        var p = new PickleBytesBuilder().Proto(2).Op('}').Op('K').Raw(1);
        for (int i = 0; i < 100_000; i++)
        {
            p.Op(0x85); // TUPLE1 around the previous value
        }
        byte[] pickle = p.Op('N').Op('s').Op('.').ToArray();
        Assert.Contains("too deeply", Assert.Throws<WeightsFormatException>(() => Read(pickle)).Message);
    }
}
