using System.Diagnostics;
using System.Globalization;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace IlgpuUnlearn;

/// <summary>One step of <see cref="CudaDiagnosis"/>: what was tried, whether it worked, what it gave or the CUDA error's name.</summary>
public sealed record DiagnosisStep(string Name, bool Passed, string Detail)
{
    public override string ToString() => $"{(Passed ? "ok  " : "FAIL")}  {Name,-22} {Detail}";
}

/// <summary>
/// <c>devices --diagnose</c>: the CUDA path from the driver library to a pinned-memory round trip, one step at a time, so a
/// machine where ILGPU finds no GPU says why. The driver steps call the library directly (<see cref="CudaDriverCalls"/>); the
/// rest go through ILGPU as the program does. Steps: the driver library (path, or each name tried and why it failed), cuInit,
/// the driver's CUDA version, each device (name, compute capability, memory, and the PTX ISA version and .target ILGPU will emit
/// for it under this driver), the devices ILGPU lists, and per ILGPU device an accelerator plus a 16 MiB upload and download
/// through page-locked host memory, compared value for value. A failing driver step ends the diagnosis (the later ones need it).
/// </summary>
public static class CudaDiagnosis
{
    /// <summary>Bytes of the pinned round trip: 4 Mi floats, large enough for a transfer rate, small for any GPU.</summary>
    public const int RoundTripFloats = 4 << 20;

    /// <summary>Runs every step; <paramref name="usableGpus"/> is the number of devices whose round trip matched.</summary>
    public static IReadOnlyList<DiagnosisStep> Run(out int usableGpus)
    {
        usableGpus = 0;
        var steps = new List<DiagnosisStep>();
        DriverLibraries.Install();
        string resolver = DriverLibraries.Installed ? "libcuda.so.1 first, stubs refused" : "left to .NET (Windows or WSL)";
        var load = DriverLibraries.Load("cuda");
        if (load is null || !load.Loaded)
        {
            steps.Add(new("driver library", false,
                $"no CUDA driver library: {(load is null ? "no candidates on this system" : string.Join("; ", load.Attempts))}"));
            return steps;
        }
        steps.Add(new("driver library", true, $"{load.Path} (resolver: {resolver}; {string.Join("; ", load.Attempts)})"));

        var driver = new CudaDriverCalls(load.Handle);
        if (!Call(steps, driver, "cuInit", () => driver.Init(), _ => "CUDA_SUCCESS")) return steps;
        int version = 0;
        if (!Call(steps, driver, "driver version", () => driver.DriverGetVersion(out version),
                _ => $"CUDA {CudaDriverCalls.VersionText(version)} ({version})")) return steps;
        int count = 0;
        if (!Call(steps, driver, "cuDeviceGetCount", () => driver.DeviceGetCount(out count), _ => $"{count} device(s)")) return steps;
        if (count == 0)
        {
            steps[^1] = steps[^1] with { Passed = false, Detail = "0 devices: the driver sees no GPU" };
            return steps;
        }
        for (int i = 0; i < count; i++)
            DescribeDevice(steps, driver, i, version);

        usableGpus = ThroughIlgpu(steps, count);
        return steps;
    }

    /// <summary>Runs one driver call as a step: passed with <paramref name="describe"/>'s text, or failed with the error name.</summary>
    private static bool Call(List<DiagnosisStep> steps, CudaDriverCalls driver, string name, Func<int> call, Func<int, string> describe)
    {
        int result;
        try
        {
            result = call();
        }
        catch (EntryPointNotFoundException e)
        {
            steps.Add(new(name, false, e.Message));
            return false;
        }
        if (result != 0)
        {
            string why = result == DriverLibraries.CudaErrorStubLibrary ? " (the CUDA toolkit's stub library, not the driver)" : "";
            steps.Add(new(name, false, $"{driver.ErrorName(result)} ({result}){why}"));
            return false;
        }
        steps.Add(new(name, true, describe(result)));
        return true;
    }

    private static void DescribeDevice(List<DiagnosisStep> steps, CudaDriverCalls driver, int ordinal, int driverVersion)
    {
        string step = $"device {ordinal}";
        int device = 0, major = 0, minor = 0;
        string name = "";
        long bytes = 0;
        string? failed = null;
        try
        {
            int r = driver.DeviceGet(ordinal, out device);
            if (r != 0) failed = $"cuDeviceGet: {driver.ErrorName(r)} ({r})";
            else if ((r = driver.DeviceGetName(device, out name)) != 0) failed = $"cuDeviceGetName: {driver.ErrorName(r)} ({r})";
            else if ((r = driver.DeviceComputeCapability(device, out major, out minor)) != 0) failed = $"cuDeviceGetAttribute: {driver.ErrorName(r)} ({r})";
            else if ((r = driver.DeviceTotalMemory(device, out bytes)) != 0) failed = $"cuDeviceTotalMem_v2: {driver.ErrorName(r)} ({r})";
        }
        catch (EntryPointNotFoundException e)
        {
            failed = e.Message;
        }
        if (failed is not null)
        {
            steps.Add(new(step, false, failed));
            return;
        }
        steps.Add(new(step, true, string.Create(CultureInfo.InvariantCulture,
            $"{name}, compute capability {major}.{minor}, {bytes / (1024 * 1024):N0} MiB; {PtxFor(major, minor, driverVersion)}")));
    }

    /// <summary>The PTX ILGPU emits for a device of compute capability major.minor under a driver of CUDA version driverVersion.</summary>
    public static string PtxFor(int major, int minor, int driverVersion)
    {
        var architecture = new CudaArchitecture(major, minor);
        var target = new CudaCapabilityContext(architecture).TargetArchitecture;
        return CudaAccelerator.TryGetInstructionSet(target, CudaDriverVersion.FromValue(driverVersion), out var minimum, out var isa)
            ? $"ILGPU emits PTX .version {isa.Major}.{isa.Minor}, .target sm_{target.Major}{target.Minor}"
            : $"ILGPU has no PTX ISA for sm_{target.Major}{target.Minor} under this driver (needs CUDA {minimum.Major}.{minimum.Minor} or newer)";
    }

    /// <summary>ILGPU's own view and, per device it lists, an accelerator and the pinned round trip; returns how many passed.</summary>
    private static int ThroughIlgpu(List<DiagnosisStep> steps, int driverCount)
    {
        Context context;
        try
        {
            context = Devices.CreateContext(cuda: true, cpu: false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            steps.Add(new("ILGPU context", false, Describe(e)));
            return 0;
        }
        using (context)
        {
            var gpus = context.GetCudaDevices();
            var listed = new List<string>();
            for (int i = 0; i < gpus.Count; i++)
                listed.Add($"cuda:{i} {gpus[i].Name}, {gpus[i].Architecture?.ToString() ?? "no architecture"}, {gpus[i].InstructionSet?.ToString() ?? "no PTX ISA"}");
            steps.Add(new("ILGPU devices", gpus.Count > 0,
                gpus.Count == 0
                    ? $"ILGPU lists none of the driver's {driverCount} device(s) (it drops a device when one of its many cuDeviceGetAttribute calls fails, or the PTX ISA is unknown)"
                    : string.Join("; ", listed)));
            int usable = 0;
            for (int i = 0; i < gpus.Count; i++)
                if (RoundTrip(steps, context, gpus[i], i)) usable++;
            return usable;
        }
    }

    private static bool RoundTrip(List<DiagnosisStep> steps, Context context, CudaDevice gpu, int index)
    {
        string step = $"cuda:{index} pinned copy";
        try
        {
            using var accelerator = gpu.CreateCudaAccelerator(context);
            using var up = accelerator.AllocatePageLocked1D<float>(RoundTripFloats);
            using var down = accelerator.AllocatePageLocked1D<float>(RoundTripFloats);
            using var buffer = accelerator.Allocate1D<float>(RoundTripFloats);
            var values = up.Span;
            for (int j = 0; j < values.Length; j++) values[j] = j * 0.5f - 7f;
            down.Span.Fill(float.NaN);
            var stream = accelerator.DefaultStream;
            var clock = Stopwatch.StartNew();
            buffer.View.CopyFrom(stream, up.ArrayView);
            stream.Synchronize();
            double upSeconds = clock.Elapsed.TotalSeconds;
            clock.Restart();
            buffer.View.CopyTo(stream, down.ArrayView);
            stream.Synchronize();
            double downSeconds = clock.Elapsed.TotalSeconds;
            int mismatch = up.Span.SequenceEqual(down.Span) ? -1 : FirstDifference(up.Span, down.Span);
            double gigabytes = RoundTripFloats * 4.0 / 1e9;
            string rates = string.Create(CultureInfo.InvariantCulture,
                $"{RoundTripFloats * 4 >> 20} MiB up {gigabytes / upSeconds:F1} GB/s, down {gigabytes / downSeconds:F1} GB/s");
            steps.Add(mismatch < 0
                ? new(step, true, $"{accelerator.Name}: {rates}, every value back")
                : new(step, false, $"{accelerator.Name}: {rates}, value {mismatch} differs"));
            return mismatch < 0;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            steps.Add(new(step, false, Describe(e)));
            return false;
        }
    }

    private static int FirstDifference(Span<float> a, Span<float> b)
    {
        for (int i = 0; i < a.Length; i++)
            if (a[i] != b[i] && !(float.IsNaN(a[i]) && float.IsNaN(b[i]))) return i;
        return -1;
    }

    /// <summary>A failure in a line: the CUDA error's name where ILGPU gives one, else the exception's type and message.</summary>
    private static string Describe(Exception e) => e switch
    {
        CudaException cuda => $"{cuda.Error} ({cuda.Message})",
        TypeInitializationException { InnerException: { } inner } => Describe(inner),
        _ => $"{e.GetType().Name}: {e.Message}",
    };
}
