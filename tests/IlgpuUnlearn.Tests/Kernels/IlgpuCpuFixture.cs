using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Ilgpu;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Kernels;

/// <summary>
/// One ILGPU context and CPU accelerator (CPUDevice.Nvidia: warp 32, groups up to 1024, as on a GPU) for all kernel tests,
/// with the ops over it in each kernel version (tiled convolutions, the product's choice; the naive reference kernels; the wide
/// tiles; the dense input gradient; chunked batch-norm reductions), and the CPU path
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
        Wide = new IlgpuOps(Accelerator, new IlgpuOpsOptions { Convolution = ConvAlgorithm.Wide, ReductionGroupSize = 64 });
        TiledDense = new IlgpuOps(Accelerator, new IlgpuOpsOptions { BackwardInputByPhase = false, ReductionGroupSize = 64 });
        ChunkedBatchNorm = new IlgpuOps(Accelerator, new IlgpuOpsOptions { BatchNormChunks = 3, ReductionGroupSize = 64 });
        Tf32 = new IlgpuOps(Accelerator, new IlgpuOpsOptions { Convolution = ConvAlgorithm.TensorCoreTf32, ReductionGroupSize = 64 });
        Cpu = new CpuOps();
    }

    public Context Context { get; }
    public Accelerator Accelerator { get; }
    public IlgpuOps Tiled { get; }
    public IlgpuOps Naive { get; }
    /// <summary>128 x 128 tiles, 8x8 register blocks, double-buffered (ConvAlgorithm.Wide).</summary>
    public IlgpuOps Wide { get; }
    /// <summary>The tiled GEMM with the input gradient over every tap (BackwardInputByPhase off).</summary>
    public IlgpuOps TiledDense { get; }
    /// <summary>Batch-norm reductions in 3 chunks per channel.</summary>
    public IlgpuOps ChunkedBatchNorm { get; }
    /// <summary>The TF32 tensor-core GEMM, here its emulated form (ImplicitGemmTensorCore.Tf32Emulated).</summary>
    public IlgpuOps Tf32 { get; }
    public CpuOps Cpu { get; }

    public void Dispose()
    {
        Tiled.Dispose();
        Naive.Dispose();
        Wide.Dispose();
        TiledDense.Dispose();
        ChunkedBatchNorm.Dispose();
        Tf32.Dispose();
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
