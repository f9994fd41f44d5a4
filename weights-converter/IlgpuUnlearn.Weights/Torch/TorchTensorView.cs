namespace IlgpuUnlearn.Weights.Torch;

/// <summary>
/// A tensor as a .pth pickle describes it: a storage, an element offset, a shape and strides. Several views
/// may share one storage. <see cref="Materialize"/> gathers the elements into a contiguous <see cref="StoredTensor"/>.
/// </summary>
public sealed class TorchTensorView
{
    internal TorchTensorView(TorchStorage storage, long storageOffset, int[] shape, long[] strides)
    {
        Storage = storage;
        StorageOffset = storageOffset;
        Shape = shape;
        Strides = strides;
    }

    public TorchStorage Storage { get; }

    public long StorageOffset { get; }

    public int[] Shape { get; }

    public long[] Strides { get; }

    public TensorDType DType => Storage.DType;

    /// <summary>Checks that every element the view addresses lies inside its storage.</summary>
    internal static void CheckBounds(long storageElements, long storageOffset, int[] shape, long[] strides)
    {
        if (storageOffset < 0)
        {
            throw new FormatException($"negative storage offset {storageOffset}");
        }
        long count = 1;
        long lastElement = storageOffset;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] < 0 || strides[i] < 0)
            {
                throw new FormatException($"negative size or stride in shape {StoredTensor.ShapeText(shape)}");
            }
            count = checked(count * shape[i]);
            if (shape[i] > 0)
            {
                lastElement = checked(lastElement + (shape[i] - 1) * strides[i]);
            }
        }
        if (count > 0 && lastElement >= storageElements)
        {
            throw new FormatException(
                $"a tensor of shape {StoredTensor.ShapeText(shape)} at offset {storageOffset} reaches element {lastElement} of a storage of {storageElements}");
        }
    }

    /// <summary>The elements in row-major order, as a contiguous tensor.</summary>
    public StoredTensor Materialize()
    {
        ReadOnlyMemory<byte> source = Storage.Data ?? throw new InvalidOperationException($"storage {Storage.Key} has not been read");
        int size = DType.ElementSize();
        long count = StoredTensor.ElementCountOf(Shape);
        if (count == 0)
        {
            return new StoredTensor(DType, Shape, []);
        }
        if (IsContiguous())
        {
            // A view of the storage's bytes (which may be a view of the file's buffer): no copy.
            return new StoredTensor(DType, Shape, source.Slice(checked((int)(StorageOffset * size)), checked((int)(count * size))));
        }
        return new StoredTensor(DType, Shape, GatherStrided(source.Span, size, count));
    }

    private bool IsContiguous()
    {
        long expected = 1;
        for (int i = Shape.Length - 1; i >= 0; i--)
        {
            if (Shape[i] != 1 && Strides[i] != expected)
            {
                return false;
            }
            expected *= Shape[i];
        }
        return true;
    }

    private byte[] GatherStrided(ReadOnlySpan<byte> source, int size, long count)
    {
        var target = new byte[checked(count * size)];
        int rank = Shape.Length;
        var index = new int[rank];
        long sourceElement = StorageOffset;
        for (long written = 0; written < count; written++)
        {
            source.Slice(checked((int)(sourceElement * size)), size).CopyTo(target.AsSpan(checked((int)(written * size)), size));
            // Advance the multi-index like an odometer, last dimension fastest.
            for (int dimension = rank - 1; dimension >= 0; dimension--)
            {
                index[dimension]++;
                sourceElement += Strides[dimension];
                if (index[dimension] < Shape[dimension])
                {
                    break;
                }
                sourceElement -= Strides[dimension] * index[dimension];
                index[dimension] = 0;
            }
        }
        return target;
    }
}
