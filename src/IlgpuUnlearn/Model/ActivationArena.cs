using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Model;

/// <summary>
/// Every activation, saved statistic and gradient scratch of the model, allocated once for the largest batch and reused
/// by every step (a smaller batch uses the front of each region). One device buffer per region keeps each one under
/// the 2^31-element limit of .NET arrays and ILGPU index types even at batch 2500. Made without ops, it only plans:
/// <see cref="Take"/> counts the bytes and returns an empty slice.
/// </summary>
public sealed class ActivationArena : IDisposable
{
    readonly IOps? ops;
    readonly List<DeviceBuffer<float>> buffers = [];

    /// <param name="ops">The device to allocate on; null to plan only.</param>
    public ActivationArena(IOps? ops) => this.ops = ops;

    /// <summary>Bytes held by the arena.</summary>
    public long Bytes { get; private set; }

    /// <summary>A new region of <paramref name="length"/> floats.</summary>
    public Slice<float> Take(long length)
    {
        Bytes += length * sizeof(float);
        if (ops is null) return default;
        var buffer = ops.Allocate<float>(length);
        buffers.Add(buffer);
        return buffer.All;
    }

    public void Dispose()
    {
        foreach (var b in buffers) b.Dispose();
        buffers.Clear();
    }
}
