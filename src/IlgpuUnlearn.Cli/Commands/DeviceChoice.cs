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

    public static IOps Open(string? name)
    {
        Check(name);
        var kind = string.IsNullOrWhiteSpace(name) ? Devices.DefaultKind() : Devices.Parse(name);
        var ops = Devices.Open(kind);
        Console.Error.WriteLine($"device: {ops.Name}{(string.IsNullOrWhiteSpace(name) ? " (default; choose with --device)" : "")}");
        return ops;
    }
}
