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

    public static IOps Open(DeviceSpec device, bool isDefault)
    {
        var ops = Devices.Open(device);
        Console.Error.WriteLine($"device: {device}: {ops.Name}{(isDefault ? " (default; choose with --device)" : "")}");
        return ops;
    }
}
