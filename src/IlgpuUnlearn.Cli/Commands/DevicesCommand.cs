using CommandLine;

namespace IlgpuUnlearn.Cli.Commands;

[Verb("devices", HelpText = "List the devices this machine offers (CUDA GPUs, the CPU path, ILGPU's CPU accelerator) and the default; --diagnose checks the CUDA path step by step.")]
public sealed class DevicesOptions
{
    [Option("diagnose", HelpText = "After the list, check the CUDA path step by step: driver library, cuInit, driver version, each device with the PTX ILGPU emits for it, ILGPU's devices, a pinned-memory round trip. Exit status 1 when no GPU passes.")]
    public bool Diagnose { get; set; }
}

internal static class DevicesCommand
{
    public static int Run(DevicesOptions options)
    {
        foreach (var line in Devices.ListAvailable()) Console.WriteLine(line);
        Console.WriteLine($"default: {Devices.NameOf(Devices.DefaultKind())}");
        if (!options.Diagnose) return 0;

        Console.WriteLine();
        Console.WriteLine("CUDA diagnosis:");
        var steps = CudaDiagnosis.Run(out int usable);
        foreach (var step in steps) Console.WriteLine("  " + step);
        Console.WriteLine(usable > 0
            ? $"usable CUDA GPUs: {usable}"
            : $"usable CUDA GPUs: 0 (first failure: {steps.FirstOrDefault(s => !s.Passed)?.Name ?? "none"})");
        return usable > 0 ? 0 : 1;
    }
}
