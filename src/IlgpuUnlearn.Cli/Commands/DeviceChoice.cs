using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Cli.Commands;

/// <summary>Opens the device a run works on (checked by <see cref="PlanChecks.Devices"/>), and says which.</summary>
internal static class DeviceChoice
{
    public const string Help = "cuda (ILGPU on the first CUDA GPU), cuda:N (GPU N, from 0), cpu (plain C#, Vector512, multithreaded) or " +
        "ilgpu-cpu (ILGPU's CPU accelerator, slow: for checking kernels); default: cuda when a CUDA GPU is present, else cpu";
    public const string SeveralHelp = Help + ". With --forget-class all, several separated by commas (cuda:0,cuda:1) run classes in parallel, one per device";

    /// <summary>One device by name (checked first), for the verbs that run on one.</summary>
    public static IOps Open(string? name)
    {
        var (devices, isDefault) = PlanChecks.Devices(name, allowSeveral: false);
        return Open(devices[0], isDefault);
    }

    /// <summary>
    /// Says how much memory a model sized for <paramref name="batch"/> images needs on each device of a run
    /// (<see cref="MemoryPlan.For"/>), and refuses, naming <paramref name="option"/> with the value the user typed and the
    /// largest batch that fits, when that is more than a device has. Devices that share the host's memory (cpu, ilgpu-cpu)
    /// share what it has.
    /// </summary>
    /// <param name="typed">The value of <paramref name="option"/> as given, when the run cut it to the set's size (default: <paramref name="batch"/>).</param>
    /// <param name="what">The batches in words for the memory line ("training batch 128 and evaluation batch 500"); default "batch N".</param>
    public static void CheckMemory(IReadOnlyList<DeviceSpec> devices, ResNet18Config config, int batch, bool training, string option,
        int? typed = null, string? what = null)
    {
        int onHost = devices.Count(d => d.Kind != DeviceKind.Cuda);
        foreach (var device in devices.Distinct())
        {
            long? available = device.Kind == DeviceKind.Cuda ? null : MemoryPlan.AvailableBytes(device) / onHost;
            var need = MemoryPlan.For(config, batch, training, device, available);
            string where = onHost > 1 && device.Kind != DeviceKind.Cuda ? $"each of the {onHost} {device} devices" : device.ToString();
            string asTyped = typed is { } t && t != batch ? $"{t} (a batch of {batch}, the whole set)" : $"{batch}";
            if (!need.Fits)
                throw new UserError($"{option} {asTyped} needs {MemoryNeed.Gb(need.TotalBytes)} of memory on {where}, which has " +
                    $"{MemoryNeed.Gb(need.AvailableBytes)} available; " +
                    (need.LargestBatch > 0 ? $"the largest batch that fits is {need.LargestBatch}" : "not even a batch of 1 fits"));
            Console.Error.WriteLine($"memory: {what ?? $"batch {batch}"} needs {need} on {where}");
        }
    }

    /// <summary><see cref="CheckMemory(IReadOnlyList{DeviceSpec}, ResNet18Config, int, bool, string)"/> for a --device of one device.</summary>
    public static void CheckMemory(string? name, ResNet18Config config, int batch, bool training, string option) =>
        CheckMemory(PlanChecks.Devices(name, allowSeveral: false).Devices, config, batch, training, option);

    public static IOps Open(DeviceSpec device, bool isDefault)
    {
        var ops = Devices.Open(device);
        Console.Error.WriteLine($"device: {Describe(device, ops)}{(isDefault ? " (default; choose with --device)" : "")}");
        return ops;
    }

    /// <summary>
    /// The device as the "device:" line and the run manifest name it: the device resolved ("cuda:0" for --device cuda, the
    /// first GPU) and what ILGPU or the CPU path reports ("cuda:0: cuda: &lt;the GPU's name&gt;", "cpu: cpu (2 threads, AVX-512)").
    /// </summary>
    public static string Describe(DeviceSpec device, IOps ops) => $"{device}: {ops.Name}";
}
