namespace IlgpuUnlearn.Tests.Drivers;

/// <summary>What `devices --diagnose` says without a driver call: the PTX ILGPU picks, versions and CUDA error names.</summary>
public sealed class CudaDiagnosisTests
{
    [Theory]
    // ILGPU 1.5.3: .target is the device's architecture capped at sm_80; the ISA the newest whose minimum driver is installed
    // (its CudaVersions.xml: 8.8 needs 12.9, 8.4 needs 12.4, 7.8 needs 11.8).
    [InlineData(9, 0, 13000, "ILGPU emits PTX .version 8.8, .target sm_80")]
    [InlineData(9, 0, 12090, "ILGPU emits PTX .version 8.8, .target sm_80")]
    [InlineData(8, 6, 12040, "ILGPU emits PTX .version 8.4, .target sm_80")]
    [InlineData(7, 5, 11080, "ILGPU emits PTX .version 7.8, .target sm_75")]
    public void NamesThePtxIlgpuEmitsForADeviceAndDriver(int major, int minor, int driver, string expected)
        => Assert.Equal(expected, CudaDiagnosis.PtxFor(major, minor, driver));

    [Fact]
    public void ADriverTooOldForTheDeviceIsSaid()
        => Assert.StartsWith("ILGPU has no PTX ISA for sm_80 under this driver", CudaDiagnosis.PtxFor(9, 0, 10020));

    [Theory]
    [InlineData(13000, "13.0")]
    [InlineData(12090, "12.9")]
    [InlineData(11080, "11.8")]
    public void DriverVersionsReadAsCudaDoes(int version, string text) => Assert.Equal(text, CudaDriverCalls.VersionText(version));

    [Theory]
    [InlineData(34, "CUDA_ERROR_STUB_LIBRARY")]
    [InlineData(100, "CUDA_ERROR_NO_DEVICE")]
    [InlineData(801, "CUDA_ERROR_NOT_SUPPORTED")]
    [InlineData(123456, "CUDA error 123456")]
    public void ErrorsHaveTheirCudaNames(int result, string name) => Assert.Equal(name, CudaDriverCalls.KnownName(result));
}
