namespace IlgpuUnlearn.Ilgpu;

/// <summary>
/// One selectable version of a kernel family: the <see cref="IlgpuOpsOptions"/> that pick it, what it does, whether it needs CUDA,
/// and the normwise tolerance the self-test holds it to.
/// </summary>
public sealed record KernelVersion(string Name, string Description, IlgpuOpsOptions Options, double Tolerance, bool CudaOnly = false);

/// <summary>
/// Every version of the convolution and batch-norm kernels, kept side by side (llm.c's dev/cuda way): the self-test proves each
/// against the CPU path and bench-kernels times each, and the default is the one the measurements chose.
/// </summary>
public static class KernelVersions
{
    /// <summary>TF32 keeps 10 mantissa bits: about 1e-3 normwise relative error on these shapes; allowed 1e-2.</summary>
    public const double Tf32Tolerance = 1e-2;

    public static IReadOnlyList<KernelVersion> Convolution { get; } =
    [
        new("naive", "one thread per output element (reference)", new IlgpuOpsOptions { Convolution = ConvAlgorithm.Naive }, IlgpuSelfTest.ConvTolerance),
        new("tiled-dense", "64x64 implicit GEMM, 4x4 per thread; input gradient over every tap (zeros included)",
            new IlgpuOpsOptions { BackwardInputByPhase = false }, IlgpuSelfTest.ConvTolerance),
        new("tiled", "64x64 implicit GEMM, 4x4 per thread; strided input gradient by stride phase (default)", new IlgpuOpsOptions(), IlgpuSelfTest.ConvTolerance),
        new("wide", "128x128 implicit GEMM, 8x8 per thread, double-buffered k-slices of 8; input gradient by phase",
            new IlgpuOpsOptions { Convolution = ConvAlgorithm.Wide }, IlgpuSelfTest.ConvTolerance),
        new("tf32", "64x64 implicit GEMM on the tensor cores (mma.sync m16n8k8 TF32, inline PTX); input gradient by phase",
            new IlgpuOpsOptions { Convolution = ConvAlgorithm.TensorCoreTf32 }, Tf32Tolerance, CudaOnly: true),
    ];

    public static IReadOnlyList<KernelVersion> BatchNorm { get; } =
    [
        new("per-channel", "one group per channel for the statistics and dgamma/dbeta", new IlgpuOpsOptions { BatchNormChunks = 1 }, IlgpuSelfTest.BatchNormTolerance),
        new("chunked", "automatic: several groups per channel (Chan merge of chunk means and M2) when the channels alone do not fill the device (default)",
            new IlgpuOpsOptions(), IlgpuSelfTest.BatchNormTolerance),
        new("chunked-7", "always 7 chunks per channel (proves the merge on every shape)", new IlgpuOpsOptions { BatchNormChunks = 7 }, IlgpuSelfTest.BatchNormTolerance),
    ];

    /// <summary>The versions that run on this kind of accelerator.</summary>
    public static IEnumerable<KernelVersion> Runnable(IEnumerable<KernelVersion> versions, bool cuda) => versions.Where(v => cuda || !v.CudaOnly);
}
