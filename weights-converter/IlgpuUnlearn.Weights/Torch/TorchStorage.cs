namespace IlgpuUnlearn.Weights.Torch;

/// <summary>
/// One storage of a .pth file: its key, dtype and element count, and once read, its bytes. A storage of a dtype this
/// library does not hold (complex, quantized) has <see cref="UnreadClass"/> set and is read as bytes only, so that
/// the rest of the file can be read; its tensors become <see cref="Pickle.OpaqueObject"/>s.
/// </summary>
public sealed class TorchStorage(string key, TensorDType dtype, long elementCount, string? unreadClass = null, int unreadElementSize = 0)
{
    public string Key { get; } = key;

    /// <summary>The dtype; meaningless (UInt8) when <see cref="UnreadClass"/> is set.</summary>
    public TensorDType DType { get; } = dtype;

    public long ElementCount { get; } = elementCount;

    /// <summary>The storage class of a dtype this library does not read (e.g. ComplexFloatStorage), or null.</summary>
    public string? UnreadClass { get; } = unreadClass;

    public int ElementSize => UnreadClass is null ? DType.ElementSize() : unreadElementSize;

    public long ByteLength => ElementCount * ElementSize;

    /// <summary>The storage's bytes (little-endian, possibly a slice of the whole file read once); null until the loader has read them.</summary>
    public ReadOnlyMemory<byte>? Data { get; internal set; }
}

/// <summary>What a persistent id resolves to: a storage, or (legacy files) a view of part of one.</summary>
internal sealed record TorchStorageReference(TorchStorage Storage, long ElementOffset, long ElementCount);
