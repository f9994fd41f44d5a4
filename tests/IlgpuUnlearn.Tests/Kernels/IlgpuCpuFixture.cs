using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Ilgpu;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Kernels;

/// <summary>
/// One ILGPU context and CPU accelerator (CPUDevice.Nvidia: warp 32, groups up to 1024, as on a GPU) for all kernel tests,
/// with the ops over it twice (tiled convolutions, the product's choice, and the naive reference kernels), and the CPU path
/// they are compared with.
/// </summary>
public sealed class IlgpuCpuFixture : IDisposable
{
    public IlgpuCpuFixture()
    {
        Context = Devices.CreateContext(cuda: false, cpu: true);
        Accelerator = Context.CreateCPUAccelerator(0);
        Tiled = new IlgpuOps(Accelerator, new IlgpuOpsOptions { ReductionGroupSize = 64 });
        Naive = new IlgpuOps(Accelerator, new IlgpuOpsOptions { Convolution = ConvAlgorithm.Naive, ReductionGroupSize = 64 });
        Cpu = new CpuOps();
    }

    public Context Context { get; }
    public Accelerator Accelerator { get; }
    public IlgpuOps Tiled { get; }
    public IlgpuOps Naive { get; }
    public CpuOps Cpu { get; }

    public void Dispose()
    {
        Tiled.Dispose();
        Naive.Dispose();
        Cpu.Dispose();
        Accelerator.Dispose();
        Context.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class IlgpuCpuCollection : ICollectionFixture<IlgpuCpuFixture>
{
    public const string Name = "ILGPU CPU accelerator";
}

/// <summary>Prints every comparison and asserts that all passed.</summary>
internal static class Expect
{
    public static void AllPass(ITestOutputHelper output, IEnumerable<OpComparison> comparisons)
    {
        var list = comparisons.ToList();
        foreach (var c in list)
            output.WriteLine(c.ToString());
        Assert.NotEmpty(list);
        Assert.All(list, c => Assert.True(c.Passed, c.ToString()));
    }
}
