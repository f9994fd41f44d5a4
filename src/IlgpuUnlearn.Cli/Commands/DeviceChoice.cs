using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Cli.Commands;

/// <summary>Opens the device a verb runs on: --device, or cuda when a CUDA GPU is present, else cpu; and says which.</summary>
internal static class DeviceChoice
{
    public const string Help = "cuda (ILGPU on a CUDA GPU), cpu (plain C#, Vector512, multithreaded) or ilgpu-cpu (ILGPU's CPU accelerator, slow: for checking kernels); default: cuda when a CUDA GPU is present, else cpu";

    public static IOps Open(string? name)
    {
        var kind = string.IsNullOrWhiteSpace(name) ? Devices.DefaultKind() : Devices.Parse(name);
        var ops = Devices.Open(kind);
        Console.Error.WriteLine($"device: {ops.Name}{(string.IsNullOrWhiteSpace(name) ? " (default; choose with --device)" : "")}");
        return ops;
    }
}
