namespace IlgpuUnlearn.Weights.ResNet18;

/// <summary>
/// One tensor of a loaded ResNet18 under its canonical name, as float32, with the key and dtype it had in
/// the file so that it can be written back the same way. num_batches_tracked is held as a float here
/// (exact up to 2^24) and written back as int64.
/// </summary>
public sealed class MappedTensor(string canonicalName, int[] shape, float[] values, string sourceName, TensorDType sourceDType)
{
    public string CanonicalName { get; } = canonicalName;

    public int[] Shape { get; } = shape;

    /// <summary>The values, row-major; the model may update them in place or replace them with <see cref="ResNet18Weights.SetValues"/>.</summary>
    public float[] Values { get; internal set; } = values;

    /// <summary>The key in the file (after removing a 'module.' prefix), e.g. "layer2.0.shortcut.0.weight".</summary>
    public string SourceName { get; } = sourceName;

    /// <summary>The dtype in the file.</summary>
    public TensorDType SourceDType { get; } = sourceDType;
}

/// <summary>A CIFAR ResNet18's tensors in canonical (torchvision) order, width and classes.</summary>
public sealed class ResNet18Weights
{
    private readonly Dictionary<string, MappedTensor> _byCanonicalName;

    internal ResNet18Weights(int width, int numClasses, IReadOnlyList<MappedTensor> tensors)
    {
        Width = width;
        NumClasses = numClasses;
        Tensors = tensors;
        _byCanonicalName = tensors.ToDictionary(t => t.CanonicalName, StringComparer.Ordinal);
    }

    public int Width { get; }

    /// <summary>What loading it skipped or filled in (entries beside the state dict, counters set to 0), one line each.</summary>
    public IReadOnlyList<string> Notes { get; private set; } = [];

    /// <summary>Adds notes (see <see cref="Notes"/>); returns this.</summary>
    public ResNet18Weights WithNotes(IEnumerable<string> notes)
    {
        Notes = [.. notes, .. Notes];
        return this;
    }

    public int NumClasses { get; }

    /// <summary>The image channels the network reads: conv1.weight's second dimension (3 for RGB, 1 for grey).</summary>
    public int InputChannels => this["conv1.weight"].Shape[1];

    /// <summary>All tensors, in the order of <see cref="ResNet18StateDictLayout.Cifar"/>.</summary>
    public IReadOnlyList<MappedTensor> Tensors { get; }

    public MappedTensor this[string canonicalName] => _byCanonicalName[canonicalName];

    /// <summary>Replaces a tensor's values (same element count).</summary>
    public void SetValues(string canonicalName, float[] values)
    {
        MappedTensor tensor = this[canonicalName];
        if (values.Length != tensor.Values.Length)
        {
            throw new ArgumentException($"{canonicalName} needs {tensor.Values.Length} values, got {values.Length}", nameof(values));
        }
        tensor.Values = values;
    }

    /// <summary>
    /// A copy with new values (canonical name to values, as the model holds them) rounded to the file's dtypes, as
    /// <see cref="ToStateDict"/> writes them and a reader of the written file gets them back: float16 and bfloat16 round
    /// to nearest even, num_batches_tracked to its int64. Keys, dtypes, width, classes and notes are kept.
    /// </summary>
    public ResNet18Weights WithValuesAsWritten(IReadOnlyDictionary<string, float[]> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var tensors = Tensors.Select(tensor =>
        {
            float[] given = values.TryGetValue(tensor.CanonicalName, out float[]? found) && found.Length == tensor.Values.Length
                ? found
                : throw new ArgumentException($"{tensor.CanonicalName} needs {tensor.Values.Length} values", nameof(values));
            float[] written = StoredTensor.FromFloat32(tensor.SourceDType, tensor.Shape, given).ToFloat32();
            return new MappedTensor(tensor.CanonicalName, tensor.Shape, written, tensor.SourceName, tensor.SourceDType);
        }).ToList();
        return new ResNet18Weights(Width, NumClasses, tensors).WithNotes(Notes);
    }

    /// <summary>The state dict to write back: the file's keys and dtypes, in canonical order.</summary>
    public StateDict ToStateDict()
    {
        var stateDict = new StateDict();
        foreach (MappedTensor tensor in Tensors)
        {
            stateDict.Set(tensor.SourceName, StoredTensor.FromFloat32(tensor.SourceDType, tensor.Shape, tensor.Values));
        }
        return stateDict;
    }

    /// <summary>The state dict under canonical (torchvision) names, float32 and int64 counters.</summary>
    public StateDict ToCanonicalStateDict()
    {
        var stateDict = new StateDict();
        foreach (MappedTensor tensor in Tensors)
        {
            TensorDType dtype = tensor.CanonicalName.EndsWith(".num_batches_tracked", StringComparison.Ordinal) ? TensorDType.Int64 : TensorDType.Float32;
            stateDict.Set(tensor.CanonicalName, StoredTensor.FromFloat32(dtype, tensor.Shape, tensor.Values));
        }
        return stateDict;
    }

    /// <summary>Writes the weights back with the file's keys and dtypes (a bare state dict), atomically.</summary>
    public void Save(string path, WeightsFileFormat? format = null) => WeightsFile.Save(path, ToStateDict(), format);
}
