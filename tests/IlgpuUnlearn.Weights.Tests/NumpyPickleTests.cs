using System.Text;
using System.Text.Json;
using IlgpuUnlearn.Weights.Pickle;

namespace IlgpuUnlearn.Weights.Tests;

/// <summary>
/// numpy arrays of every plain dtype pickled by Python 3 / numpy 1.24 at protocols 0-5 (fixtures/make_checkpoint_fixtures.py):
/// _reconstruct with latin-1 text (0-2) or bytes (3-4), _frombuffer with an in-band BYTEARRAY8 (5), numpy scalars, Fortran
/// order, big-endian dtypes, UCS-4 unicode and byte strings. Every element is compared exactly with numpy's tolist().
/// </summary>
public class NumpyPickleTests
{
    private static string Checkpoint(string name) => TestFiles.Fixture(Path.Combine("checkpoints", name));

    public static TheoryData<int> Protocols => new() { 0, 1, 2, 3, 4, 5 };

    [Theory]
    [MemberData(nameof(Protocols))]
    public void EveryDTypeAtEveryProtocolHasNumpysValues(int protocol)
    {
        var arrays = (PickleDict)PickleReader.LoadFile(Checkpoint($"numpy_p{protocol}.pkl"))!;
        using JsonDocument expected = JsonDocument.Parse(File.ReadAllBytes(Checkpoint("numpy_expected.json")));
        Assert.Equal(expected.RootElement.EnumerateObject().Select(p => (object?)p.Name), arrays.Keys);
        foreach (JsonProperty property in expected.RootElement.EnumerateObject())
        {
            var array = Assert.IsType<NumpyArray>(arrays[property.Name]);
            Assert.Equal(property.Value.GetProperty("dtype").GetString(), array.DType.ToString());
            Assert.Equal(property.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()), array.Shape);
            JsonElement[] values = [.. property.Value.GetProperty("values").EnumerateArray()];
            Assert.Equal(values.Length, array.ElementCount);
            for (int i = 0; i < values.Length; i++)
            {
                object actual = array.Element(i);
                object want = actual switch
                {
                    string => values[i].GetString()!,
                    byte[] => Encoding.Latin1.GetBytes(values[i].GetString()!),
                    bool => values[i].GetBoolean(),
                    long => values[i].GetInt64(),
                    ulong => values[i].GetUInt64(),
                    _ => values[i].GetDouble(),
                };
                Assert.Equal(want, actual);
            }
        }
        Assert.Equal(["cat", "hé", ""], ((NumpyArray)arrays["unicode"]!).ToStrings());
    }

    [Fact]
    public void Numpy2ModuleNamesAreReadLikeNumpy1s()
    {
        // numpy 2.x pickles under numpy._core; the protocol-2 pickle names its globals in text, so renaming them is exact.
        byte[] numpy1 = File.ReadAllBytes(Checkpoint("numpy_p2.pkl"));
        byte[] numpy2 = Encoding.Latin1.GetBytes(Encoding.Latin1.GetString(numpy1).Replace("numpy.core.multiarray\n", "numpy._core.multiarray\n", StringComparison.Ordinal));
        Assert.NotEqual(numpy1.Length, numpy2.Length);
        var arrays = (PickleDict)new PickleReader(PickleGlobals.PlainData(), "numpy2.pkl").Load(numpy2)!;
        Assert.Equal(((NumpyArray)arrays["f32"]!).Data, ((NumpyArray)((PickleDict)PickleReader.LoadFile(Checkpoint("numpy_p2.pkl"))!)["f32"]!).Data);

        byte[] frombuffer = File.ReadAllBytes(Checkpoint("numpy_p5.pkl"));
        Assert.Contains("numpy.core.numeric", Encoding.Latin1.GetString(frombuffer), StringComparison.Ordinal);
    }

    [Fact]
    public void AnObjectArrayIsKeptByShapeAndRefusedByNameWhenItsElementsAreAsked()
    {
        var dict = (PickleDict)PickleReader.LoadFile(Checkpoint("numpy_object.pkl"))!;
        var labels = (NumpyArray)dict["labels"]!;
        Assert.True(labels.DType.IsObject);
        Assert.Equal([2L], labels.Shape);
        Assert.Equal("elements of dtype object are not read", Assert.Throws<InvalidOperationException>(() => labels.Element(0)).Message);
    }

    [Fact]
    public void OutOfBandBuffersAreRefusedByName()
    {
        // PROTO 5, NEXT_BUFFER: a buffer the pickler handed to a callback instead of writing it.
        var error = Assert.Throws<WeightsFormatException>(() => new PickleReader(PickleGlobals.PlainData(), "oob.pkl").Load([0x80, 5, 0x97, (byte)'.']));
        Assert.Contains("out-of-band buffers", error.Message);
    }

    [Fact]
    public void Protocol0TextStringsAreDecoded()
    {
        // Python 2's protocol 0: STRING 'S' with escapes; Python 3's: UNICODE 'V' in raw-unicode-escape.
        object? python2 = new PickleReader(PickleGlobals.PlainData(), "p0.pkl").Load("(S'a\\'b\\n\\xe9'\np0\nVc\\u005cd\\u00e9\\U0001f600\np1\nt."u8.ToArray());
        Assert.Equal(new object?[] { "a'b\n\u00e9", "c\\d\u00e9\U0001F600" }, (object?[])python2!);
    }
}
