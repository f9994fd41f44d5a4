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

    [Theory]
    [InlineData("cuda", DeviceKind.Cuda, 0, "cuda:0")]
    [InlineData("cuda:0", DeviceKind.Cuda, 0, "cuda:0")]
    [InlineData(" CUDA:3 ", DeviceKind.Cuda, 3, "cuda:3")]
    [InlineData("cpu", DeviceKind.Cpu, 0, "cpu")]
    [InlineData("ilgpu-cpu", DeviceKind.IlgpuCpu, 0, "ilgpu-cpu")]
    public void ParsesDevicesWithAGpuIndex(string text, DeviceKind kind, int index, string written)
    {
        Assert.True(Devices.TryParseSpec(text, out var spec));
        Assert.Equal(new DeviceSpec(kind, index), spec);
        Assert.Equal(written, spec.ToString());
    }

    [Theory]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:x")]
    [InlineData("cpu:1")]
    [InlineData("gpu:0")]
    [InlineData("")]
    public void RefusesDevicesThatAreNotOne(string text) => Assert.False(Devices.TryParseSpec(text, out _));

    [Fact]
    public void OpeningAGpuIndexThatIsNotHereSaysWhichExist()
    {
        int count = Devices.CudaDeviceCount();
        var e = Assert.Throws<DeviceUnavailableException>(() => Devices.Open(new DeviceSpec(DeviceKind.Cuda, count)));
        output.WriteLine(e.Message);
        Assert.Contains(count == 0 ? "No CUDA GPU" : $"cuda:{count} does not exist", e.Message);
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
        // Each line starts with what --device takes: cuda:0, cuda:1, …, cpu, ilgpu-cpu.
        var gpus = list.Where(d => d.Kind == DeviceKind.Cuda).ToList();
        for (int i = 0; i < gpus.Count; i++) Assert.StartsWith($"cuda:{i}: ", gpus[i].ToString(), StringComparison.Ordinal);
        Assert.StartsWith("cpu: ", list.Single(d => d.Kind == DeviceKind.Cpu).ToString(), StringComparison.Ordinal);
        Assert.StartsWith("ilgpu-cpu: ", list.Single(d => d.Kind == DeviceKind.IlgpuCpu).ToString(), StringComparison.Ordinal);
        bool gpu = list.Any(d => d.Kind == DeviceKind.Cuda);
        Assert.Equal(gpu ? DeviceKind.Cuda : DeviceKind.Cpu, Devices.DefaultKind());
    }

    [Trait("Category", "Slow")]
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

    /// <summary>With a GPU, cuda opens it; without one, opening cuda is one clear error that names --device cpu.</summary>
    [Fact]
    public void OpeningCudaOpensAGpuOrIsAClearError()
    {
        if (Devices.ListAvailable().Any(d => d.Kind == DeviceKind.Cuda))
        {
            using var gpu = Devices.Open(DeviceKind.Cuda);
            output.WriteLine(gpu.Name);
            Assert.IsType<IlgpuOps>(gpu);
        }
        else
        {
            var e = Assert.Throws<DeviceUnavailableException>(() => Devices.Open(DeviceKind.Cuda));
            output.WriteLine(e.Message);
            Assert.Contains("--device cpu", e.Message);
        }
    }
}
