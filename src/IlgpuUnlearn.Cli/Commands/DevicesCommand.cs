using CommandLine;
using IlgpuUnlearn.Devices;

namespace IlgpuUnlearn.Cli.Commands;

[Verb("devices", HelpText = "List the devices this machine offers (CUDA GPUs, the CPU path, ILGPU's CPU accelerator) and the default.")]
public sealed class DevicesOptions;

internal static class DevicesCommand
{
    public static int Run(DevicesOptions _)
    {
        foreach (var line in DeviceCatalog.ListAvailable()) Console.WriteLine(line);
        Console.WriteLine($"default: {DeviceCatalog.Name(DeviceCatalog.DefaultKind())}");
        return 0;
    }
}
