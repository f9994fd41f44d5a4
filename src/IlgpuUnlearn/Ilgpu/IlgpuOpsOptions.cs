namespace IlgpuUnlearn.Ilgpu;

/// <summary>Which convolution kernels <see cref="IlgpuOps"/> launches (for one pass, or for all three).</summary>
public enum ConvAlgorithm
{
    /// <summary>The tiled implicit GEMM (64 x 64 tiles, 4x4 register blocks, <c>ImplicitGemm.Tiled</c>): the product's choice.</summary>
    Tiled,
    /// <summary>One thread per output element: the readable reference, for tests and comparisons.</summary>
    Naive,
    /// <summary>The implicit GEMM with 128 x 128 tiles, 8x8 register blocks and double-buffered slices (<c>ImplicitGemmWide.Tiled128</c>).</summary>
    Wide,
    /// <summary>
    /// The implicit GEMM on the tensor cores in TF32 (<c>ImplicitGemmTensorCore.Tf32</c>, inline PTX), about 1e-3 relative error;
    /// off CUDA the same kernel with the mma emulated (<c>Tf32Emulated</c>), for testing the kernel's bookkeeping.
    /// </summary>
    TensorCoreTf32,
}

/// <summary>Choices of <see cref="IlgpuOps"/> that tests and benchmarks may override.</summary>
public sealed record IlgpuOpsOptions
{
    /// <summary>The convolution kernels of all three passes, unless a pass names its own below.</summary>
    public ConvAlgorithm Convolution { get; init; } = ConvAlgorithm.Tiled;

    /// <summary>The forward convolution's kernel; null: <see cref="Convolution"/>.</summary>
    public ConvAlgorithm? ConvForward { get; init; }

    /// <summary>The input gradient's kernel; null: <see cref="Convolution"/>.</summary>
    public ConvAlgorithm? ConvBackwardInput { get; init; }

    /// <summary>The weight gradient's kernel; null: <see cref="Convolution"/>.</summary>
    public ConvAlgorithm? ConvBackwardWeight { get; init; }

    /// <summary>
    /// The input gradient of a strided convolution as S^2 products, one per stride phase, with only the taps that reach each
    /// phase (<c>Conv2dKernels.BackwardInputPhaseGemm</c>); false: one product over every tap, three quarters of it multiplying
    /// zeros at stride 2. Default on: the same GEMM kernel doing a quarter of the multiply-adds (9 instead of 36 per input pixel
    /// and output channel for 3x3, 1 instead of 4 for the 1x1 downsample, whose other three phases are a plain zero fill) reading
    /// the same dy and w. Stride 1 is unaffected. Ignored by the naive kernels.
    /// </summary>
    public bool BackwardInputByPhase { get; init; } = true;

    /// <summary>
    /// Groups per channel of the batch-norm reductions: 1 is one group per channel (the first version); n &gt; 1 cuts each channel
    /// into n chunks reduced by n groups and merged by a second kernel; 0 picks: one group per channel when the channels alone
    /// fill the device, else enough chunks (each at least 4 values per thread) to fill it twice over.
    /// </summary>
    public int BatchNormChunks { get; init; }

    /// <summary>Threads per group of the reductions (a multiple of 32, at most 1024); 0 picks 1024 on CUDA and 128 elsewhere.</summary>
    public int ReductionGroupSize { get; init; }

    /// <summary>How many pieces the weight-gradient GEMM splits its long reduction into; 0 picks it from the device size.</summary>
    public int WeightGradientSplits { get; init; }

    /// <summary>The forward pass's kernel after the fallback to <see cref="Convolution"/>.</summary>
    public ConvAlgorithm ForwardAlgorithm => ConvForward ?? Convolution;

    /// <summary>The input gradient's kernel after the fallback to <see cref="Convolution"/>.</summary>
    public ConvAlgorithm BackwardInputAlgorithm => ConvBackwardInput ?? Convolution;

    /// <summary>The weight gradient's kernel after the fallback to <see cref="Convolution"/>.</summary>
    public ConvAlgorithm BackwardWeightAlgorithm => ConvBackwardWeight ?? Convolution;
}
