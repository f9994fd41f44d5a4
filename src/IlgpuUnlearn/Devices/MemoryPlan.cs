using IlgpuUnlearn.Model;

namespace IlgpuUnlearn;

/// <summary>
/// What a batch size needs on a device and what the device has, worked out before anything is allocated
/// (<see cref="MemoryPlan.For"/>).
/// </summary>
/// <param name="Batch">The batch the model is sized for.</param>
/// <param name="ArenaBytes">The model's activation arena (<see cref="ResNet18.PlannedArenaBytes"/>).</param>
/// <param name="FlatBytes">Parameters and running statistics; when training, also the two gradient buffers, the momentum buffer and
/// the batch's pixels, labels and augmentation on the device and its gathered copies on the host.</param>
/// <param name="ScratchBytes">The ops' working buffers (im2col columns, packed weights, split reductions): an allowance, see
/// <see cref="MemoryPlan.ScratchAllowance"/>.</param>
/// <param name="AvailableBytes">What the device has: the CPU's available RAM, or the CUDA GPU's memory less its context.</param>
/// <param name="LargestBatch">The largest batch whose need fits <paramref name="AvailableBytes"/> (0 when not even one image fits).</param>
public readonly record struct MemoryNeed(int Batch, long ArenaBytes, long FlatBytes, long ScratchBytes, long AvailableBytes, int LargestBatch)
{
    public long TotalBytes => ArenaBytes + FlatBytes + ScratchBytes;
    public bool Fits => TotalBytes <= AvailableBytes;

    /// <summary>"8.6 GB (activations 8.2 GB) of the 21.3 GB available": bytes in GB of 10^9.</summary>
    public override string ToString() =>
        $"{Gb(TotalBytes)} (activations {Gb(ArenaBytes)}) of the {Gb(AvailableBytes)} available";

    public static string Gb(long bytes) => $"{bytes / 1e9:F1} GB";
}

/// <summary>The up-front memory check of every verb that sizes a model for a batch.</summary>
public static class MemoryPlan
{
    /// <summary>
    /// Working buffers of the ops beyond the arena, per device kind. CPU: the per-thread im2col/col2im columns and packed GEMM
    /// panels (a few MB per thread), the packed weights (under 10 MB) and the runtime's own heap; measured peak RSS at batch
    /// 2500 is the arena and flat buffers plus about 0.3 GB. CUDA: the split weight-gradient partial sums and batch-norm
    /// chunk partials (at most tens of MB for ResNet18) and ILGPU's kernel cache.
    /// </summary>
    public static long ScratchAllowance(DeviceKind kind) => kind == DeviceKind.Cuda ? 256L << 20 : (384L << 20) + Environment.ProcessorCount * (32L << 20);

    /// <summary>Device memory a CUDA context and its module keep for themselves, not available to buffers.</summary>
    public const long CudaContextBytes = 512L << 20;

    /// <summary>
    /// What a model of <paramref name="config"/> sized for <paramref name="batch"/> images needs on <paramref name="device"/>
    /// (with the gradient, momentum and batch buffers of a training run when <paramref name="training"/>), what the device
    /// has now, and the largest batch that fits. <paramref name="availableBytes"/> overrides what the device reports (tests).
    /// </summary>
    public static MemoryNeed For(ResNet18Config config, int batch, bool training, DeviceSpec device, long? availableBytes = null)
    {
        var kind = device.Kind;
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), "the batch size must be at least 1");
        var layout = new ResNet18Layout(config);
        long available = availableBytes ?? AvailableBytes(device);
        // The need grows with the batch: bisect for the largest that fits (and that the arena's regions can index).
        int low = 0, high = ResNet18.LargestBatch(config);
        while (low < high)
        {
            int mid = low + (high - low + 1) / 2;
            if (Total(layout, mid, training, kind) <= available) low = mid; else high = mid - 1;
        }
        int largest = low;
        return new MemoryNeed(batch, ResNet18.PlannedArenaBytes(config, batch), FlatBytes(layout, batch, training), ScratchAllowance(kind), available, largest);
    }

    static long Total(ResNet18Layout layout, int batch, bool training, DeviceKind kind) =>
        ResNet18.PlannedArenaBytes(layout.Config, batch) + FlatBytes(layout, batch, training) + ScratchAllowance(kind);

    static long FlatBytes(ResNet18Layout layout, int batch, bool training)
    {
        long model = 4 * (layout.ParameterCount + layout.RunningStatCount);
        if (!training) return model;
        long imageBytes = (long)layout.Config.InputChannels * layout.Config.ImageSize * layout.Config.ImageSize;
        // gradients (retain, forget) and momentum; pixels, labels and augmentation on the device; forget and retain copies on the host
        return model + 3 * 4 * layout.ParameterCount + batch * (imageBytes + 4 + 12) + 2 * batch * (imageBytes + 4);
    }

    /// <summary>
    /// Bytes the device can give buffers now: on the CPU (and ILGPU's CPU accelerator) the available RAM (MemAvailable, within
    /// the runtime's own limit, e.g. a container's); on CUDA the GPU's memory less <see cref="CudaContextBytes"/>.
    /// </summary>
    public static long AvailableBytes(DeviceSpec device)
    {
        if (device.Kind == DeviceKind.Cuda)
            return Math.Max(0, Devices.CudaMemoryBytes(device.Index) - CudaContextBytes);
        var gc = GC.GetGCMemoryInfo();
        long limit = gc.TotalAvailableMemoryBytes - GC.GetTotalMemory(false);
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                    return Math.Min(limit, long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024);
        }
        catch (IOException) { }
        return limit;
    }
}
