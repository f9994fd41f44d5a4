using IlgpuUnlearn.Weights.Pickle;

namespace IlgpuUnlearn.Weights.Torch;

/// <summary>
/// Resolves the persistent ids of a .pth pickle, ('storage', torch.XStorage, key, location, numel[, view]),
/// to <see cref="TorchStorage"/> objects, one per key, so that views of one storage share it.
/// </summary>
internal sealed class TorchPersistentIds
{
    private readonly Dictionary<string, TorchStorage> _storagesByKey = new(StringComparer.Ordinal);

    /// <summary>The largest storage the file could hold; a storage said to be larger is refused at once.</summary>
    public TorchPersistentIds(long maximumStorageBytes)
    {
        MaximumStorageBytes = maximumStorageBytes;
    }

    public long MaximumStorageBytes { get; }

    /// <summary>PyTorch's storage classes of dtypes this library does not hold, with their element sizes in bytes.</summary>
    internal static readonly Dictionary<string, int> UnreadStorageElementSizes = new(StringComparer.Ordinal)
    {
        ["ComplexFloatStorage"] = 8, ["ComplexDoubleStorage"] = 16, ["ComplexHalfStorage"] = 4,
        ["QInt8Storage"] = 1, ["QUInt8Storage"] = 1, ["QInt32Storage"] = 4, ["QUInt4x2Storage"] = 1, ["QUInt2x4Storage"] = 1,
    };

    public IReadOnlyDictionary<string, TorchStorage> StoragesByKey => _storagesByKey;

    public object? Load(object? id)
    {
        if (id is not object?[] tuple || tuple.Length is not (5 or 6) || TextOf(tuple[0]) != "storage")
        {
            throw new FormatException("a persistent id must be ('storage', type, key, location, numel)");
        }
        if (tuple[1] is not PickleGlobal { Module: "torch" } storageType)
        {
            throw new FormatException($"unsupported storage type {PickleText.Describe(tuple[1])}");
        }
        string? unreadClass = null;
        int elementSize;
        if (TensorDTypes.TryFromTorchStorageClass(storageType.Name, out TensorDType dtype))
        {
            elementSize = dtype.ElementSize();
        }
        else if (UnreadStorageElementSizes.TryGetValue(storageType.Name, out elementSize))
        {
            (dtype, unreadClass) = (TensorDType.UInt8, storageType.FullName);
        }
        else
        {
            throw new FormatException($"unsupported storage type {PickleText.Describe(tuple[1])}");
        }
        string key = TextOf(tuple[2]) ?? throw new FormatException("a storage key must be a string");
        if (tuple[4] is not long elementCount || elementCount < 0)
        {
            throw new FormatException($"storage {key} has a bad element count");
        }
        if (elementCount > MaximumStorageBytes / elementSize)
        {
            throw new FormatException($"storage {key} claims {elementCount} elements, more than the file can hold");
        }
        if (_storagesByKey.TryGetValue(key, out TorchStorage? storage))
        {
            if (storage.DType != dtype || storage.UnreadClass != unreadClass || storage.ElementCount != elementCount)
            {
                throw new FormatException($"storage {key} is declared twice with different types or sizes");
            }
        }
        else
        {
            storage = new TorchStorage(key, dtype, elementCount, unreadClass, elementSize);
            _storagesByKey.Add(key, storage);
        }
        object? view = tuple.Length == 6 ? tuple[5] : null;
        if (view is null)
        {
            return new TorchStorageReference(storage, 0, elementCount);
        }
        // Legacy views: (view_key, offset, view_size) inside the root storage.
        if (view is not object?[] { Length: 3 } viewTuple || viewTuple[1] is not long viewOffset || viewTuple[2] is not long viewSize
            || viewOffset < 0 || viewSize < 0 || viewOffset > elementCount - viewSize)
        {
            throw new FormatException($"storage {key} has a bad view");
        }
        return new TorchStorageReference(storage, viewOffset, viewSize);
    }

    private static string? TextOf(object? value) => value switch
    {
        string text => text,
        byte[] bytes => System.Text.Encoding.ASCII.GetString(bytes),
        _ => null,
    };
}
