using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Ilgpu;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Kernels;

/// <summary>Device names, listing and opening, on a machine without a GPU.</summary>
public sealed class DevicesTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("cuda", DeviceKind.Cuda)]
    [InlineData("cpu", DeviceKind.Cpu)]
    [InlineData("ilgpu-cpu", DeviceKind.IlgpuCpu)]
    [InlineData("CUDA", DeviceKind.Cuda)]
    public void ParsesNames(string name, DeviceKind kind)
    {
        Assert.Equal(kind, Devices.Parse(name));
        Assert.Equal(name.ToLowerInvariant(), Devices.NameOf(kind));
    }

    [Fact]
    public void UnknownNamesAreAClearError()
    {
        var e = Assert.Throws<ArgumentException>(() => Devices.Parse("gpu"));
        output.WriteLine(e.Message);
        Assert.Contains("cuda, cpu, ilgpu-cpu", e.Message);
        Assert.False(Devices.TryParse("opencl", out _));
    }

    [Fact]
    public void ListsTheCpuPathsAndDefaultsToCudaOnlyWithAGpu()
    {
        var list = Devices.ListAvailable();
        foreach (var d in list)
            output.WriteLine(d.ToString());
        Assert.Contains(list, d => d.Kind == DeviceKind.Cpu);
        Assert.Contains(list, d => d.Kind == DeviceKind.IlgpuCpu);
        bool gpu = list.Any(d => d.Kind == DeviceKind.Cuda);
        Assert.Equal(gpu ? DeviceKind.Cuda : DeviceKind.Cpu, Devices.DefaultKind());
    }

    [Fact]
    public void OpensTheCpuPaths()
    {
        using (var cpu = Devices.Open(DeviceKind.Cpu))
            Assert.IsType<CpuOps>(cpu);
        using var ilgpu = Devices.Open(DeviceKind.IlgpuCpu);
        output.WriteLine(ilgpu.Name);
        Assert.IsType<IlgpuOps>(ilgpu);
        Assert.StartsWith("ilgpu-cpu", ilgpu.Name);
    }

    [Fact]
    public void OpeningCudaWithoutAGpuIsAClearError()
    {
        if (Devices.ListAvailable().Any(d => d.Kind == DeviceKind.Cuda))
            return;
        var e = Assert.Throws<DeviceUnavailableException>(() => Devices.Open(DeviceKind.Cuda));
        output.WriteLine(e.Message);
        Assert.Contains("--device cpu", e.Message);
    }
}
