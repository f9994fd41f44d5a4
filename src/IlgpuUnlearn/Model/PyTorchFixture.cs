using IlgpuUnlearn.Weights;

namespace IlgpuUnlearn.Model;

/// <summary>
/// A safetensors file of PyTorch reference values written by tests/IlgpuUnlearn.Tests/Fixtures/make_model_fixtures.py:
/// F32, I64 and U8 tensors under free-form names ("init.conv1.weight", "train.grad.fc.bias", "step1.forget_pixels"),
/// read with the converter's safetensors reader.
/// </summary>
public sealed class PyTorchFixture
{
    readonly StateDict tensors;

    PyTorchFixture(string path, StateDict tensors)
    {
        Path = path;
        this.tensors = tensors;
    }

    /// <summary>Reads the whole file; a missing or malformed file throws (FileNotFoundException, WeightsFormatException).</summary>
    public static PyTorchFixture Load(string path) => new(path, WeightsFile.Load(path).Tensors);

    public string Path { get; }
    public IEnumerable<string> Names => tensors.Keys;
    public bool Contains(string name) => tensors.ContainsKey(name);
    public int[] Shape(string name) => Get(name, null).Shape;

    public float[] Floats(string name) => Get(name, TensorDType.Float32).ToFloat32();
    public long[] Longs(string name) => Get(name, TensorDType.Int64).ToInt64();
    /// <summary>An F64 tensor's values (references computed in double).</summary>
    public double[] Doubles(string name) =>
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(Get(name, TensorDType.Float64).Data.AsSpan()).ToArray();
    public byte[] Bytes(string name) => Get(name, TensorDType.UInt8).Data;

    StoredTensor Get(string name, TensorDType? dtype)
    {
        if (!tensors.TryGetValue(name, out var t)) throw new KeyNotFoundException($"{Path}: fixture has no tensor '{name}'");
        if (dtype is { } wanted && t.DType != wanted)
            throw new InvalidDataException($"{Path}: fixture tensor '{name}' is {t.DType.SafetensorsName()}, not {wanted.SafetensorsName()}");
        return t;
    }
}
