using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using IlgpuUnlearn.Ilgpu;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn;

/// <summary>
/// Finding and opening the devices the ops run on. Names on the command line: "cuda", "cpu", "ilgpu-cpu".
/// (In namespace IlgpuUnlearn, not IlgpuUnlearn.Devices, so that the class name does not collide with a namespace.)
/// </summary>
public static class Devices
{
    private static readonly (string Name, DeviceKind Kind)[] Names =
    [
        ("cuda", DeviceKind.Cuda),
        ("cpu", DeviceKind.Cpu),
        ("ilgpu-cpu", DeviceKind.IlgpuCpu),
    ];

    /// <summary>The command-line name of a kind.</summary>
    public static string NameOf(DeviceKind kind) => Names.First(n => n.Kind == kind).Name;

    /// <summary>The kind named "cuda", "cpu" or "ilgpu-cpu" (case-insensitive).</summary>
    public static DeviceKind Parse(string name)
        => TryParse(name, out var kind)
            ? kind
            : throw new ArgumentException($"Unknown device '{name}'. Use one of: {string.Join(", ", Names.Select(n => n.Name))}.", nameof(name));

    public static bool TryParse(string? name, out DeviceKind kind)
    {
        foreach (var (n, k) in Names)
        {
            if (string.Equals(n, name?.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                kind = k;
                return true;
            }
        }
        kind = default;
        return false;
    }

    /// <summary>
    /// A device as the command line names it: "cpu", "ilgpu-cpu", "cuda" (the first GPU) or "cuda:N" (GPU N, counted from 0
    /// as nvidia-smi lists them); case-insensitive. Only CUDA takes an index.
    /// </summary>
    public static bool TryParseSpec(string? text, out DeviceSpec spec)
    {
        spec = default;
        string name = text?.Trim() ?? "";
        int colon = name.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            if (!TryParse(name, out var plain)) return false;
            spec = new DeviceSpec(plain);
            return true;
        }
        if (!string.Equals(name[..colon], "cuda", StringComparison.OrdinalIgnoreCase)
            || !int.TryParse(name[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index))
            return false;
        spec = new DeviceSpec(DeviceKind.Cuda, index);
        return true;
    }

    /// <summary>How many CUDA GPUs ILGPU can open here (0 without a driver).</summary>
    public static int CudaDeviceCount() => CudaDevices().Count;

    /// <summary>Opens the ops of <paramref name="spec"/>: GPU <see cref="DeviceSpec.Index"/> for CUDA.</summary>
    public static IOps Open(DeviceSpec spec, IlgpuOpsOptions? options = null) =>
        spec.Kind == DeviceKind.Cuda ? OpenCuda(options, spec.Index) : Open(spec.Kind, options);

    /// <summary>Every CUDA GPU found, then the CPU path, then the ILGPU CPU accelerator.</summary>
    public static IReadOnlyList<DeviceDescription> ListAvailable()
    {
        var list = new List<DeviceDescription>();
        foreach (var gpu in CudaDevices())
            list.Add(gpu);
        list.Add(new DeviceDescription(DeviceKind.Cpu, "plain C# (System.Numerics.Tensors)",
            $"{Environment.ProcessorCount} threads"));
        list.Add(new DeviceDescription(DeviceKind.IlgpuCpu, "ILGPU CPU accelerator (emulates an NVIDIA GPU; tests only, very slow)",
            $"warp 32, {Environment.ProcessorCount} threads"));
        return list;
    }

    /// <summary>Cuda when a CUDA GPU is present, else Cpu.</summary>
    public static DeviceKind DefaultKind() => CudaDevices().Count > 0 ? DeviceKind.Cuda : DeviceKind.Cpu;

    /// <summary>Opens the ops of a kind (the first GPU for Cuda). Throws with a clear message when there is no CUDA GPU.</summary>
    public static IOps Open(DeviceKind kind, IlgpuOpsOptions? options = null) => kind switch
    {
        DeviceKind.Cpu => new Cpu.CpuOps(),
        DeviceKind.Cuda => OpenCuda(options),
        DeviceKind.IlgpuCpu => OpenIlgpuCpu(options),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>
    /// An ILGPU context with what the kernels need: the Algorithms library (precise exp/log on the GPU) and O2. Every context of
    /// the program is made here, so the driver resolver (<see cref="DriverLibraries.Install"/>: libcuda.so.1, never the
    /// toolkit's stub) is in place before ILGPU first looks for a driver.
    /// </summary>
    public static Context CreateContext(bool cuda, bool cpu)
    {
        DriverLibraries.Install();
        return Context.Create(builder =>
        {
            if (cuda)
                builder.Cuda();
            if (cpu)
                builder.CPU(CPUDevice.Nvidia);
            builder.EnableAlgorithms().Optimize(OptimizationLevel.O2);
        });
    }

    /// <summary>The ILGPU ops on the CPU accelerator (warp 32, up to 1024 threads a group, as on a GPU).</summary>
    public static IlgpuOps OpenIlgpuCpu(IlgpuOpsOptions? options = null)
    {
        var context = CreateContext(cuda: false, cpu: true);
        try
        {
            var accelerator = context.CreateCPUAccelerator(0);
            return new IlgpuOps(accelerator, options, new Owned(accelerator, context));
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>The ILGPU ops on CUDA GPU <paramref name="deviceIndex"/> (0: the first).</summary>
    public static IlgpuOps OpenCuda(IlgpuOpsOptions? options = null, int deviceIndex = 0)
    {
        Context context;
        try
        {
            context = CreateContext(cuda: true, cpu: false);
        }
        catch (Exception e)
        {
            throw new DeviceUnavailableException($"No CUDA GPU could be opened ({e.Message}). Use --device cpu.", e);
        }
        try
        {
            var gpus = context.GetCudaDevices();
            if (gpus.Count == 0)
                throw new DeviceUnavailableException("No CUDA GPU found (no NVIDIA driver, or no device visible; ilgpu-unlearn devices --diagnose says which). Use --device cpu.");
            if (deviceIndex < 0 || deviceIndex >= gpus.Count)
                throw new DeviceUnavailableException($"There {(gpus.Count == 1 ? "is 1 CUDA GPU (cuda:0)" : $"are {gpus.Count} CUDA GPUs (cuda:0 to cuda:{gpus.Count - 1})")}; cuda:{deviceIndex} does not exist.");
            var accelerator = gpus[deviceIndex].CreateCudaAccelerator(context);
            return new IlgpuOps(accelerator, options, new Owned(accelerator, context));
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>Memory of CUDA GPU <paramref name="deviceIndex"/> (cuda:N) in bytes; 0 when there is none.</summary>
    public static long CudaMemoryBytes(int deviceIndex = 0)
    {
        try
        {
            using var context = CreateContext(cuda: true, cpu: false);
            var gpus = context.GetCudaDevices();
            return deviceIndex >= 0 && deviceIndex < gpus.Count ? gpus[deviceIndex].MemorySize : 0;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return 0;
        }
    }

    private static List<DeviceDescription> CudaDevices()
    {
        var found = new List<DeviceDescription>();
        try
        {
            using var context = CreateContext(cuda: true, cpu: false);
            foreach (var gpu in context.GetCudaDevices())
                found.Add(new DeviceDescription(DeviceKind.Cuda, gpu.Name,
                    $"{gpu.MemorySize / (1024 * 1024)} MiB, {gpu.Architecture?.ToString() ?? "unknown architecture"}", found.Count));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // No driver, or a driver ILGPU cannot use: no CUDA devices.
        }
        return found;
    }

    /// <summary>Disposes the accelerator, then its context.</summary>
    private sealed class Owned(Accelerator accelerator, Context context) : IDisposable
    {
        public void Dispose()
        {
            accelerator.Dispose();
            context.Dispose();
        }
    }
}
