using System.Runtime.InteropServices;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Drivers;

/// <summary>
/// The resolver that hands ILGPU the CUDA driver: the names it tries for ILGPU's imports, and that it refuses the toolkit's stub
/// library by folder and by behaviour. The libraries are the stand-in driver (standin_libcuda.c) built with gcc, loaded by path.
/// </summary>
public sealed class DriverLibrariesTests(ITestOutputHelper output) : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("ilgpu-unlearn-driver-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void IlgpusImportsMapToTheVersionedNamesFirst()
    {
        Assert.Equal(["libcuda.so.1", "libcuda.so"], DriverLibraries.Candidates("cuda"));
        Assert.Equal(["libOpenCL.so.1", "libOpenCL.so"], DriverLibraries.Candidates("OpenCL"));
        Assert.Empty(DriverLibraries.Candidates("nvcuda"));   // Windows' name: left to .NET
        Assert.Empty(DriverLibraries.Candidates("libc"));
        Assert.Null(DriverLibraries.Load("nvcuda"));
    }

    [Theory]
    [InlineData("/usr/local/cuda-12.4/targets/x86_64-linux/lib/stubs/libcuda.so", true)]
    [InlineData("/usr/lib/x86_64-linux-gnu/stubs/libcuda.so.1", true)]
    [InlineData("/usr/lib/x86_64-linux-gnu/libcuda.so.1", false)]
    [InlineData("/opt/stubsy/libcuda.so.1", false)]
    [InlineData("/opt/stubs.so", false)]
    [InlineData("libcuda.so.1", false)]
    public void AStubIsKnownByItsFolder(string path, bool stub) => Assert.Equal(stub, DriverLibraries.IsStubPath(path));

    [Fact]
    public void LoadsADriverAndSaysWhereItIs()
    {
        string driver = StandInDriver.Build(Path.Combine(folder, "driver"), "libcuda.so.1");
        var load = DriverLibraries.Load("cuda", [Path.Combine(folder, "none", "libcuda.so.1"), driver]);
        try
        {
            foreach (var line in load.Attempts) output.WriteLine(line);
            Assert.True(load.Loaded, load.Summary);
            Assert.Equal(driver, load.Path);
            Assert.Equal(0, load.CuInitResult);
            Assert.False(load.StubRefused);
            Assert.Contains("not loaded", load.Attempts[0]);   // the missing first candidate, with the loader's reason
            Assert.Contains("No such file", load.Attempts[0]);
        }
        finally
        {
            if (load.Loaded) NativeLibrary.Free(load.Handle);
        }
    }

    [Fact]
    public void RefusesTheToolkitStubByWhatItsCuInitReturns()
    {
        // Not in a stubs/ folder: only its behaviour gives it away, CUDA_ERROR_STUB_LIBRARY from cuInit.
        string stub = StandInDriver.Build(Path.Combine(folder, "lib"), "libcuda.so.1", cuInitResult: DriverLibraries.CudaErrorStubLibrary);
        var load = DriverLibraries.Load("cuda", [stub]);
        output.WriteLine(load.Summary);
        Assert.False(load.Loaded);
        Assert.True(load.StubRefused);
        Assert.Contains("CUDA_ERROR_STUB_LIBRARY (34)", load.Summary);
        Assert.Contains("stub library, not the driver", load.Summary);
    }

    [Fact]
    public void RefusesALibraryInAStubsFolderAndTakesTheNextCandidate()
    {
        // A working library in a stubs/ folder is still refused: the folder is the toolkit's link-time stub place.
        string inStubs = StandInDriver.Build(Path.Combine(folder, "cuda", "lib64", "stubs"), "libcuda.so");
        string driver = StandInDriver.Build(Path.Combine(folder, "driver"), "libcuda.so.1");
        var load = DriverLibraries.Load("cuda", [inStubs, driver]);
        try
        {
            foreach (var line in load.Attempts) output.WriteLine(line);
            Assert.True(load.Loaded, load.Summary);
            Assert.Equal(driver, load.Path);
            Assert.True(load.StubRefused);
            Assert.Contains("refused, a stub library (in a stubs/ folder", load.Attempts[0]);
        }
        finally
        {
            if (load.Loaded) NativeLibrary.Free(load.Handle);
        }
    }
}
