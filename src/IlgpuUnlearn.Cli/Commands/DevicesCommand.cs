using CommandLine;

namespace IlgpuUnlearn.Cli.Commands;

[Verb("devices", HelpText = "List the devices this machine offers (CUDA GPUs, the CPU path, ILGPU's CPU accelerator) and the default.")]
public sealed class DevicesOptions;

internal static class DevicesCommand
{
    public static int Run(DevicesOptions _)
    {
        foreach (var line in Devices.ListAvailable()) Console.WriteLine(line);
        Console.WriteLine($"default: {Devices.NameOf(Devices.DefaultKind())}");
        return 0;
    }
}
