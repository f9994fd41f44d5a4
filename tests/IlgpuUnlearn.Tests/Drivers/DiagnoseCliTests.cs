using IlgpuUnlearn.Tests.Cli;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Drivers;

/// <summary>
/// `devices` and `devices --diagnose` in a child process whose loader path holds only a stand-in driver named libcuda.so.1 (built
/// with gcc from standin_libcuda.c): the name container runtimes provide, which .NET alone never tries for ILGPU's "cuda".
/// </summary>
public sealed class DiagnoseCliTests(ITestOutputHelper output) : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("ilgpu-unlearn-diagnose-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private CliResult Diagnose(string libraryFolder)
    {
        var result = CliProcess.Run(folder, new Dictionary<string, string> { ["LD_LIBRARY_PATH"] = libraryFolder }, "devices", "--diagnose");
        output.WriteLine(result.ToString());
        return result;
    }

    [Fact]
    public void FindsAlibcudaSo1AndReportsEachStepWithTheCudaErrorName()
    {
        string driver = StandInDriver.Build(Path.Combine(folder, "lib"), "libcuda.so.1");
        var result = Diagnose(Path.GetDirectoryName(driver)!);
        // ILGPU itself lists the device (the resolver gave it libcuda.so.1) ...
        Assert.Contains("cuda:0: Stand-in GPU (81920 MiB, SM_90)", result.Stdout);
        Assert.Contains("default: cuda", result.Stdout);
        // ... and the diagnosis says what each step gave: the library's path, cuInit, the version, the device, the PTX.
        Assert.Matches($@"ok +driver library +{System.Text.RegularExpressions.Regex.Escape(driver)} ", result.Stdout);
        Assert.Matches(@"ok +cuInit +CUDA_SUCCESS", result.Stdout);
        Assert.Matches(@"ok +driver version +CUDA 13\.0 \(13000\)", result.Stdout);
        Assert.Matches(@"ok +device 0 +Stand-in GPU, compute capability 9\.0, 81,920 MiB; ILGPU emits PTX \.version 8\.8, \.target sm_80", result.Stdout);
        Assert.Matches(@"ok +ILGPU devices +cuda:0 Stand-in GPU", result.Stdout);
        // The stand-in has no GPU behind it: creating the context fails, and the failure carries the CUDA error's name.
        Assert.Matches(@"FAIL +cuda:0 pinned copy +CUDA_ERROR_NOT_SUPPORTED", result.Stdout);
        Assert.Contains("usable CUDA GPUs: 0 (first failure: cuda:0 pinned copy)", result.Stdout);
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Stderr.Trim());
    }

    [Fact]
    public void RefusesTheToolkitStubAndSaysSo()
    {
        string stub = StandInDriver.Build(Path.Combine(folder, "stub"), "libcuda.so.1", cuInitResult: DriverLibraries.CudaErrorStubLibrary);
        var result = Diagnose(Path.GetDirectoryName(stub)!);
        Assert.Contains("default: cpu", result.Stdout);   // ILGPU was not handed the stub
        Assert.DoesNotContain("Stand-in GPU", result.Stdout);
        Assert.Matches(@"FAIL +driver library +no CUDA driver library: libcuda\.so\.1 \(.*\): refused, its cuInit returned CUDA_ERROR_STUB_LIBRARY \(34\)", result.Stdout);
        Assert.Contains("usable CUDA GPUs: 0 (first failure: driver library)", result.Stdout);
        Assert.Equal(1, result.ExitCode);
    }

    [Fact]
    public void WithoutDiagnoseTheListIsAllAndTheExitIsZero()
    {
        string driver = StandInDriver.Build(Path.Combine(folder, "lib"), "libcuda.so.1");
        var result = CliProcess.Run(folder, new Dictionary<string, string> { ["LD_LIBRARY_PATH"] = Path.GetDirectoryName(driver)! }, "devices");
        output.WriteLine(result.ToString());
        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("cuda:0: Stand-in GPU", result.Stdout);
        Assert.DoesNotContain("diagnosis", result.Stdout);
    }
}
