using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Cli.Commands;

/// <summary>Opens the device a verb runs on: --device, or cuda when a CUDA GPU is present, else cpu; and says which.</summary>
internal static class DeviceChoice
{
    public const string Help = "cuda (ILGPU on a CUDA GPU), cpu (plain C#, Vector512, multithreaded) or ilgpu-cpu (ILGPU's CPU accelerator, slow: for checking kernels); default: cuda when a CUDA GPU is present, else cpu";

    /// <summary>Refuses an unknown --device name before any data is read.</summary>
    public static void Check(string? name)
    {
        if (!string.IsNullOrWhiteSpace(name) && !Devices.TryParse(name, out _))
            throw new UserError($"--device '{name}' is not a device: use cuda, cpu or ilgpu-cpu");
    }

    /// <summary>The kind --device names, or the default one.</summary>
    public static DeviceKind KindOf(string? name)
    {
        Check(name);
        return string.IsNullOrWhiteSpace(name) ? Devices.DefaultKind() : Devices.Parse(name);
    }

    /// <summary>
    /// Says how much memory a model sized for <paramref name="batch"/> images needs on the chosen device (<see cref="MemoryPlan.For"/>),
    /// and refuses, naming <paramref name="option"/> and the largest batch that fits, when that is more than the device has.
    /// </summary>
    public static void CheckMemory(string? name, ResNet18Config config, int batch, bool training, string option)
    {
        var kind = KindOf(name);
        var need = MemoryPlan.For(config, batch, training, kind);
        if (!need.Fits)
            throw new UserError($"{option} {batch} needs {MemoryNeed.Gb(need.TotalBytes)} of memory on {Devices.NameOf(kind)}, which has " +
                $"{MemoryNeed.Gb(need.AvailableBytes)} available; " +
                (need.LargestBatch > 0 ? $"the largest batch that fits is {need.LargestBatch}" : "not even a batch of 1 fits"));
        Console.Error.WriteLine($"memory: batch {batch} needs {need} on {Devices.NameOf(kind)}");
    }

    public static IOps Open(string? name)
    {
        var kind = KindOf(name);
        var ops = Devices.Open(kind);
        Console.Error.WriteLine($"device: {ops.Name}{(string.IsNullOrWhiteSpace(name) ? " (default; choose with --device)" : "")}");
        return ops;
    }
}
