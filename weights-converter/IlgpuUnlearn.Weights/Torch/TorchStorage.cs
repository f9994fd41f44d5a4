namespace IlgpuUnlearn.Weights.Torch;

/// <summary>One storage of a .pth file: its key, dtype and element count, and once read, its bytes.</summary>
public sealed class TorchStorage(string key, TensorDType dtype, long elementCount)
{
    public string Key { get; } = key;

    public TensorDType DType { get; } = dtype;

    public long ElementCount { get; } = elementCount;

    public long ByteLength => ElementCount * DType.ElementSize();

    /// <summary>The storage's bytes (little-endian, possibly a slice of the whole file read once); null until the loader has read them.</summary>
    public ReadOnlyMemory<byte>? Data { get; internal set; }
}

/// <summary>What a persistent id resolves to: a storage, or (legacy files) a view of part of one.</summary>
internal sealed record TorchStorageReference(TorchStorage Storage, long ElementOffset, long ElementCount);
