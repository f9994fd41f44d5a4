using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tests.Data;
using IlgpuUnlearn.Tests.Support;
using IlgpuUnlearn.Weights;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// The files the command-line tests give the program, written once per test run: the tiny CIFAR-10 binary data set of
/// Fixtures/make_unlearn_fixtures.py (labels and pixel streams from its fixture, pixels from <see cref="HashedParameters"/>) and the
/// hashed full-width ResNet18 as .pth, once under torchvision names and once under pytorch-cifar names with one float64
/// tensor (to see that the output keeps the input's keys and dtypes).
/// </summary>
public sealed class TinyCifarFiles : IDisposable
{
    public const string FixtureName = "unlearn_w64_tiny.safetensors";
    public const int ForgetClass = 3;

    readonly TempFolder folder = new();

    public TinyCifarFiles()
    {
        Fixture = FixtureFile.Open(FixtureName);
        TrainLabels = Fixture.Longs("data.train_labels").Select(l => (byte)l).ToArray();
        TrainStreams = Fixture.Longs("data.train_streams").Select(s => (int)s).ToArray();
        TrainFileRecords = Fixture.Longs("data.train_file_records").Select(n => (int)n).ToArray();
        TestLabels = Fixture.Longs("data.test_labels").Select(l => (byte)l).ToArray();
        TestStreams = Fixture.Longs("data.test_streams").Select(s => (int)s).ToArray();

        DataFolder = Path.Combine(folder.Path, Cifar10BinaryReader.FolderName);
        WriteData(DataFolder);
        Initial = HashedParameters.State(new ResNet18Layout(ResNet18Config.Cifar10));
        Weights = folder.File("hashed_torchvision.pth");
        WeightsFile.Save(Weights, StateDictOf(Initial));
        CifarNamedWeights = folder.File("hashed_pytorch_cifar.pth");
        WeightsFile.Save(CifarNamedWeights, StateDictOf(Initial, pytorchCifarNames: true));
        var narrow = new ResNet18Layout(new ResNet18Config(NarrowWidth));
        NarrowWeights = folder.File("hashed_width16.pth");
        WeightsFile.Save(NarrowWeights, StateDictOf(HashedParameters.State(narrow), layout: narrow));
    }

    public const int NarrowWidth = 16;

    /// <summary>
    /// A hashed ResNet18 of width 16 (torchvision names): 1/16 of the full network's work, for tests of the program's
    /// behaviour that run many classes rather than of its numbers.
    /// </summary>
    public string NarrowWeights { get; }

    public PyTorchFixture Fixture { get; }
    public byte[] TrainLabels { get; }
    public int[] TrainStreams { get; }
    public int[] TrainFileRecords { get; }
    public byte[] TestLabels { get; }
    public int[] TestStreams { get; }

    /// <summary>cifar-10-batches-bin/ with data_batch_1..5.bin and test_batch.bin.</summary>
    public string DataFolder { get; }

    /// <summary>The hashed parameters (init_hashed), torchvision names, num_batches_tracked as one float.</summary>
    public Dictionary<string, float[]> Initial { get; }

    /// <summary>The hashed model: torchvision names, float32, int64 counters.</summary>
    public string Weights { get; }

    /// <summary>The same model under pytorch-cifar names (shortcut, linear), with linear.bias stored as float64.</summary>
    public string CifarNamedWeights { get; }

    public const string Float64Key = "linear.bias";

    /// <summary>The image of train record i (3,072 bytes, planes R, G, B).</summary>
    public byte[] TrainImage(int i) => HashedParameters.Bytes(Cifar10.ImageSize, TrainStreams[i]);

    public byte[] TestImage(int i) => HashedParameters.Bytes(Cifar10.ImageSize, TestStreams[i]);

    /// <summary>Writes the six batch files into <paramref name="target"/>, train records spread over the five train files as the script says.</summary>
    public void WriteData(string target)
    {
        Directory.CreateDirectory(target);
        int next = 0;
        for (int f = 0; f < Cifar10BinaryReader.TrainFileNames.Count; f++)
        {
            var records = Enumerable.Range(next, TrainFileRecords[f]).Select(i => (TrainLabels[i], TrainImage(i)));
            File.WriteAllBytes(Path.Combine(target, Cifar10BinaryReader.TrainFileNames[f]), Records(records));
            next += TrainFileRecords[f];
        }
        Assert.Equal(TrainLabels.Length, next);
        File.WriteAllBytes(Path.Combine(target, Cifar10BinaryReader.TestFileName),
            Records(Enumerable.Range(0, TestLabels.Length).Select(i => (TestLabels[i], TestImage(i)))));
    }

    /// <summary>CIFAR-10 binary records: a label byte, then 3,072 pixel bytes.</summary>
    public static byte[] Records(IEnumerable<(byte Label, byte[] Pixels)> records)
    {
        using var bytes = new MemoryStream();
        foreach (var (label, pixels) in records)
        {
            Assert.Equal(Cifar10.ImageSize, pixels.Length);
            bytes.WriteByte(label);
            bytes.Write(pixels);
        }
        return bytes.ToArray();
    }

    /// <summary>A state dict of the given values in layout order (default: the full-width network); pytorch-cifar names and a float64 linear.bias when asked.</summary>
    public static StateDict StateDictOf(IReadOnlyDictionary<string, float[]> state, bool pytorchCifarNames = false, ResNet18Layout? layout = null)
    {
        layout ??= new ResNet18Layout(ResNet18Config.Cifar10);
        var dict = new StateDict();
        foreach (var spec in layout.Tensors)
        {
            string key = pytorchCifarNames ? PytorchCifarName(spec.Name) : spec.Name;
            var values = state[spec.Name];
            dict.Set(key, spec.Role == TensorRole.BatchesTracked
                ? StoredTensor.FromInt64(TensorDType.Int64, [], [(long)values[0]])
                : StoredTensor.FromFloat32(pytorchCifarNames && key == Float64Key ? TensorDType.Float64 : TensorDType.Float32, spec.Shape, values));
        }
        return dict;
    }

    /// <summary>torchvision name -> kuangliu/pytorch-cifar name (downsample -> shortcut, fc -> linear).</summary>
    public static string PytorchCifarName(string name)
    {
        name = name.Replace(".downsample.", ".shortcut.", StringComparison.Ordinal);
        return name.StartsWith("fc.", StringComparison.Ordinal) ? "linear." + name["fc.".Length..] : name;
    }

    /// <summary>A new, empty folder inside this fixture's temporary folder.</summary>
    public string NewFolder(string name)
    {
        string path = folder.File(name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Runs <paramref name="run"/> the first time <paramref name="key"/> is asked for and keeps what it gave (runs shared by tests).</summary>
    public T Once<T>(string key, Func<T> run) where T : notnull
    {
        lock (runs)
        {
            if (!runs.TryGetValue(key, out var value)) runs[key] = value = run();
            return (T)value;
        }
    }

    readonly Dictionary<string, object> runs = [];

    public void Dispose() => folder.Dispose();
}

[CollectionDefinition(Name)]
public sealed class CliCollection : ICollectionFixture<TinyCifarFiles>
{
    /// <summary>The command-line tests run one after the other: each child process uses every core.</summary>
    public const string Name = "Command line";
}
