namespace IlgpuUnlearn.Tensors;

/// <summary>
/// One allocation on a device (host memory for the CPU path, GPU memory for ILGPU).
/// Each <see cref="IOps"/> implementation makes and reads its own kind; the model only passes them around.
/// </summary>
public abstract class DeviceBuffer<T> : IDisposable where T : unmanaged
{
    protected DeviceBuffer(long length) => Length = length;

    /// <summary>Number of elements.</summary>
    public long Length { get; }

    /// <summary>The whole buffer as a slice.</summary>
    public Slice<T> All => new(this, 0, Length);

    /// <summary>Elements [offset, offset + length) of this buffer.</summary>
    public Slice<T> At(long offset, long length) => new(this, offset, length);

    public abstract void Dispose();
}

/// <summary>
/// A contiguous run of elements inside one <see cref="DeviceBuffer{T}"/>: a layer's weight inside the flat
/// parameter buffer, an activation inside the arena. Shapes are carried by the op that reads it.
/// </summary>
public readonly record struct Slice<T>(DeviceBuffer<T> Buffer, long Offset, long Length) where T : unmanaged
{
    /// <summary>Elements [offset, offset + length) of this slice.</summary>
    public Slice<T> At(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"[{offset}, {offset + length}) is outside a slice of {Length}");
        return new(Buffer, Offset + offset, length);
    }

    public override string ToString() => $"[{Offset}, {Offset + Length})";
}
