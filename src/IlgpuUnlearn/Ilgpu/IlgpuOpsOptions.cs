namespace IlgpuUnlearn.Ilgpu;

/// <summary>Which convolution kernels <see cref="IlgpuOps"/> launches.</summary>
public enum ConvAlgorithm
{
    /// <summary>The tiled implicit GEMM (shared-memory tiles, 4x4 register blocks): the product's choice.</summary>
    Tiled,
    /// <summary>One thread per output element: the readable reference, for tests and comparisons.</summary>
    Naive,
}

/// <summary>Choices of <see cref="IlgpuOps"/> that tests and benchmarks may override.</summary>
public sealed record IlgpuOpsOptions
{
    public ConvAlgorithm Convolution { get; init; } = ConvAlgorithm.Tiled;

    /// <summary>Threads per group of the reductions (a multiple of 32, at most 1024); 0 picks 1024 on CUDA and 128 elsewhere.</summary>
    public int ReductionGroupSize { get; init; }

    /// <summary>How many pieces the weight-gradient GEMM splits its long reduction into; 0 picks it from the device size.</summary>
    public int WeightGradientSplits { get; init; }
}
