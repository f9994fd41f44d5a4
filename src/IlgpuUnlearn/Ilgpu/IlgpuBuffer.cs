using ILGPU;
using ILGPU.Runtime;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Ilgpu;

/// <summary>One ILGPU allocation (GPU memory on CUDA, host memory on the CPU accelerator).</summary>
public sealed class IlgpuBuffer<T> : DeviceBuffer<T> where T : unmanaged
{
    private readonly IlgpuOps owner;
    private MemoryBuffer1D<T, Stride1D.Dense>? memory;

    internal IlgpuBuffer(IlgpuOps owner, MemoryBuffer1D<T, Stride1D.Dense> memory) : base(memory.Length)
    {
        this.owner = owner;
        this.memory = memory;
    }

    public MemoryBuffer1D<T, Stride1D.Dense> Memory => memory ?? throw new ObjectDisposedException(nameof(IlgpuBuffer<T>));

    /// <summary>Elements [offset, offset + length) as a view a kernel takes.</summary>
    public ArrayView<T> View(long offset, long length) => Memory.View.SubView(offset, length).AsContiguous();

    public override void Dispose()
    {
        if (memory is null)
            return;
        long bytes = memory.LengthInBytes;
        memory.Dispose();
        memory = null;
        owner.Released(bytes);
    }
}
