using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Cpu;

/// <summary>
/// A buffer of the CPU path: one managed array, allocated on the pinned object heap so that kernels can take
/// its address without pinning it each call. Zero-filled when made.
/// </summary>
public sealed class CpuBuffer<T> : DeviceBuffer<T> where T : unmanaged
{
    private readonly CpuOps _owner;
    private T[]? _data;

    internal CpuBuffer(long length, CpuOps owner) : base(length)
    {
        if (length < 0 || length > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(length), $"a CPU buffer holds at most {Array.MaxLength} elements, not {length}");
        _owner = owner;
        _data = GC.AllocateArray<T>((int)length, pinned: true);
        _owner.OnAllocated(SizeInBytes);
    }

    /// <summary>The elements; throws once the buffer is disposed.</summary>
    public T[] Data => _data ?? throw new ObjectDisposedException(nameof(CpuBuffer<T>));

    private long SizeInBytes => Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();

    /// <summary>Elements [offset, offset + length) as a span.</summary>
    public Span<T> Span(long offset, long length) => Data.AsSpan(checked((int)offset), checked((int)length));

    public override void Dispose()
    {
        if (_data is null) return;
        _data = null;
        _owner.OnReleased(SizeInBytes);
    }
}
