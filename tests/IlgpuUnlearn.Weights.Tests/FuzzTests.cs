using IlgpuUnlearn.Weights.Pickle;

namespace IlgpuUnlearn.Weights.Tests;

/// <summary>
/// Seeded mutation fuzzing over valid files: every mutated input must either load or fail with
/// <see cref="WeightsFormatException"/>; any other exception fails the test with the case that caused it. A weights file
/// that loads must hold tensors that are whole: each one written to safetensors and read back gives the same names, dtypes,
/// shapes and bytes. The work is bounded by the case count (no clock); it is the slowest of this project's tests.
/// </summary>
[Trait("Category", "Slow")]
public class FuzzTests
{
    private const int CasesPerFile = 1000;

    /// <summary>Every reader path: zip, legacy at pickle protocols 2-5 (3: BINBYTES, 4-5: FRAME and short opcodes),
    /// safetensors, a training checkpoint (placeholders for refused globals), numpy arrays of every dtype at protocols 0 and 5.</summary>
    public static TheoryData<string> Inputs => new()
    {
        "dtypes.pth", "dtypes_legacy.pth", "dtypes.safetensors", "plain_p2.pkl",
        "checkpoints/w2_legacy_p3.pth", "checkpoints/w2_legacy_p5.pth", "checkpoints/w2_checkpoint_legacy_p4.pth",
        "checkpoints/numpy_p0.pkl", "checkpoints/numpy_p5.pkl",
    };

    [Theory]
    [MemberData(nameof(Inputs))]
    public void MutatedFilesLoadOrFailWithTheDocumentedException(string input)
    {
        byte[] original = input == "dtypes.safetensors"
            ? SafetensorsTests.WriteToBytes(WeightsFile.Load(TestFiles.Fixture("dtypes.pth")).Tensors)
            : File.ReadAllBytes(TestFiles.Fixture(input));
        Func<byte[], object?> load = input.EndsWith(".pkl", StringComparison.Ordinal)
            ? bytes => new PickleReader(PickleGlobals.PlainData(), "fuzz.pkl").Load(bytes)
            : bytes => WeightsFile.Load(bytes, "fuzz");

        load(original);   // the unmutated file loads, so what follows is about the mutations
        var random = new Random(20240601 + input.Length);
        int succeeded = 0, refused = 0;
        for (int i = 0; i < CasesPerFile; i++)
        {
            byte[] mutated = Mutate(original, random);
            object? loaded;
            try
            {
                loaded = load(mutated);
            }
            catch (WeightsFormatException)
            {
                refused++;
                continue;
            }
            catch (Exception e)
            {
                Assert.Fail($"case {i} of {input}: {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
                throw;
            }
            succeeded++;
            if (loaded is LoadedWeights weights) AssertWhole(weights.Tensors, $"case {i} of {input}");
        }
        // Both outcomes happen: a flipped bit inside tensor data still loads, a cut header does not. A reader that
        // refused everything (or accepted everything) would fail here.
        Assert.True(refused > 0, $"{input}: none of {CasesPerFile} mutations was refused");
        Assert.True(succeeded > 0, $"{input}: none of {CasesPerFile} mutations loaded");
    }

    /// <summary>Every tensor of a loaded file survives a safetensors round trip unchanged.</summary>
    static void AssertWhole(StateDict tensors, string where)
    {
        var back = WeightsFile.Load(SafetensorsTests.WriteToBytes(tensors), "fuzz.safetensors").Tensors;
        Assert.True(tensors.Keys.SequenceEqual(back.Keys), $"{where}: names changed in a round trip");
        foreach (var (name, tensor) in tensors)
        {
            var other = back[name];
            Assert.True(tensor.DType == other.DType && tensor.Shape.SequenceEqual(other.Shape) && tensor.Bytes.SequenceEqual(other.Bytes),
                $"{where}: {name} changed in a round trip");
        }
    }

    private static byte[] Mutate(byte[] original, Random random)
    {
        var bytes = new List<byte>(original);
        int mutations = random.Next(1, 5);
        for (int m = 0; m < mutations && bytes.Count > 0; m++)
        {
            int at = random.Next(bytes.Count);
            switch (random.Next(6))
            {
                case 0: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                case 1: bytes[at] = (byte)random.Next(256); break;
                case 2: bytes[at] = new byte[] { 0, 0x7F, 0x80, 0xFF }[random.Next(4)]; break;
                case 3: bytes.RemoveRange(at, Math.Min(bytes.Count - at, random.Next(1, 16))); break;
                case 4: bytes.InsertRange(at, Enumerable.Range(0, random.Next(1, 8)).Select(_ => (byte)random.Next(256))); break;
                default: bytes.RemoveRange(at, bytes.Count - at); break; // truncate
            }
        }
        return [.. bytes];
    }
}
