using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using IlgpuUnlearn.Kernels;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Ilgpu;

/// <summary>
/// The ops on an ILGPU accelerator (CUDA, or ILGPU's CPU accelerator for tests), every op one or two kernel
/// launches on the accelerator's default stream. Kernels are compiled once, when this object is made.
/// All index arithmetic in the kernels is 32-bit: every buffer an op touches must hold fewer than 2^31 elements
/// (a batch of 2500 x 64 x 32 x 32 is 164M), which each op checks.
/// </summary>
public sealed class IlgpuOps : IOps
{
    private readonly Accelerator accelerator;
    private readonly IDisposable? owned;
    private readonly IlgpuOpsOptions options;
    private readonly int reductionGroupSize;
    private readonly int targetGroups;
    private readonly int targetReductionGroups;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> noAugment;
    private MemoryBuffer1D<float, Stride1D.Dense>? scratch;
    private long allocatedBytes, peakAllocatedBytes;

    // elementwise, implicitly grouped
    private readonly Action<Index1D, ArrayView<float>, float> fill;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>> add;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, float, float, ArrayView<float>> combineGradients;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>> reluForward;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>> reluBackward;
    private readonly Action<Index1D, ArrayView<float>, int, ArrayView<float>> poolForward;
    private readonly Action<Index1D, ArrayView<float>, int, ArrayView<float>> poolBackward;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, ArrayView<float>> linearForward;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, int, ArrayView<float>> linearBackwardInput;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, ArrayView<float>> linearBackwardWeight;
    private readonly Action<Index1D, ArrayView<float>, int, int, ArrayView<float>> linearBackwardBias;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<int>, int, float, ArrayView<float>, ArrayView<float>> softmaxNll;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SgdStep> sgdStep;
    private readonly Action<Index1D, ArrayView<byte>, ArrayView<int>, int, int, int, int, ChannelNormalisation, ArrayView<float>> loadImages;
    private readonly Action<Index1D, ArrayView<float>, BatchNormGeometry, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> bnNormalize;
    private readonly Action<Index1D, ArrayView<float>, BatchNormGeometry, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, ArrayView<float>> bnEval;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, BatchNormGeometry, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> bnBackwardInput;
    private readonly Action<Index1D, ConvGeometry, ArrayView<float>, ArrayView<float>, ArrayView<float>> convForwardNaive;
    private readonly Action<Index1D, ConvGeometry, ArrayView<float>, ArrayView<float>, ArrayView<float>> convBackwardInputNaive;
    private readonly Action<Index1D, ConvGeometry, ArrayView<float>, ArrayView<float>, ArrayView<float>> convBackwardWeightNaive;
    private readonly Action<Index1D, ArrayView<float>, int, int, ArrayView<float>> sumSplits;

    // explicitly grouped
    private readonly Action<KernelConfig, ArrayView<float>, int, int, ArrayView<float>> partialSums;
    private readonly Action<KernelConfig, ArrayView<float>, int, float, ArrayView<float>> finalSum;
    private readonly Action<KernelConfig, ArrayView<float>, BatchNormGeometry, ArrayView<float>, ArrayView<float>, float, float, ArrayView<float>, ArrayView<float>> bnStatistics;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, BatchNormGeometry, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> bnBackwardReduce;
    private readonly Action<KernelConfig, ArrayView<float>, BatchNormGeometry, int, ArrayView<float>> bnChunkStatistics;
    private readonly Action<Index1D, ArrayView<float>, int, int, BatchNormGeometry, ArrayView<float>, ArrayView<float>, float, float, ArrayView<float>, ArrayView<float>> bnMergeStatistics;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, BatchNormGeometry, ArrayView<float>, ArrayView<float>, int, ArrayView<float>> bnChunkBackwardReduce;
    private readonly Action<Index1D, ArrayView<float>, int, ArrayView<float>, ArrayView<float>> bnMergeBackwardReduce;

    // the convolution GEMMs: one kernel per (algorithm, operands), loaded for the algorithms the options name
    private readonly Dictionary<(ConvAlgorithm, Type), Delegate> gemmKernels = [];

    /// <param name="accelerator">The accelerator to run on; its context must have been built with EnableAlgorithms().</param>
    /// <param name="options">Kernel choices; null for the defaults.</param>
    /// <param name="owned">Disposed with this object (the accelerator and context when this object made them).</param>
    public IlgpuOps(Accelerator accelerator, IlgpuOpsOptions? options = null, IDisposable? owned = null)
    {
        this.accelerator = accelerator;
        this.owned = owned;
        this.options = options ?? new IlgpuOpsOptions();
        bool cuda = accelerator.AcceleratorType == AcceleratorType.Cuda;
        reductionGroupSize = this.options.ReductionGroupSize > 0 ? this.options.ReductionGroupSize : cuda ? 1024 : 128;
        if (reductionGroupSize % 32 != 0 || reductionGroupSize > Math.Min(1024, accelerator.MaxNumThreadsPerGroup))
            throw new ArgumentException($"Reduction group size {reductionGroupSize} must be a multiple of 32 and at most {Math.Min(1024, accelerator.MaxNumThreadsPerGroup)}.");
        if (accelerator.WarpSize != 32)
            throw new NotSupportedException($"{accelerator.Name} has warps of {accelerator.WarpSize}; the kernels need 32 (use CPUDevice.Nvidia for the CPU accelerator).");
        // Enough groups of 256 threads to fill every multiprocessor twice over.
        targetGroups = cuda ? 2 * accelerator.NumMultiprocessors * Math.Max(1, accelerator.MaxNumThreadsPerMultiprocessor / 256) : 4;
        // Reduction groups that fill every multiprocessor twice over (the CPU accelerator: one, so chunking stays opt-in there).
        targetReductionGroups = cuda ? 2 * accelerator.NumMultiprocessors * Math.Max(1, accelerator.MaxNumThreadsPerMultiprocessor / reductionGroupSize) : 1;
        var algorithms = new[] { this.options.ForwardAlgorithm, this.options.BackwardInputAlgorithm, this.options.BackwardWeightAlgorithm };
        if (!cuda && algorithms.Contains(ConvAlgorithm.TensorCoreTf32))
            throw new NotSupportedException($"The TF32 tensor-core convolution is inline PTX and runs on CUDA only, not on {accelerator.Name}.");
        if (this.options.BatchNormChunks < 0)
            throw new ArgumentException("BatchNormChunks must be 0 (automatic) or at least 1.");
        Name = cuda ? $"cuda: {accelerator.Name}" : $"ilgpu-cpu: {accelerator.Name}";

        var a = accelerator;
        fill = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, float>(ElementwiseKernels.Fill);
        add = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(ElementwiseKernels.Add);
        combineGradients = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, float, float, ArrayView<float>>(ElementwiseKernels.CombineGradients);
        reluForward = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>>(ReluKernels.Forward);
        reluBackward = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(ReluKernels.Backward);
        poolForward = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, int, ArrayView<float>>(PoolKernels.GlobalAvgForward);
        poolBackward = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, int, ArrayView<float>>(PoolKernels.GlobalAvgBackward);
        linearForward = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, ArrayView<float>>(LinearKernels.Forward);
        linearBackwardInput = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, ArrayView<float>>(LinearKernels.BackwardInput);
        linearBackwardWeight = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, ArrayView<float>>(LinearKernels.BackwardWeight);
        linearBackwardBias = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, int, int, ArrayView<float>>(LinearKernels.BackwardBias);
        softmaxNll = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<int>, int, float, ArrayView<float>, ArrayView<float>>(LossKernels.SoftmaxNllPerSample);
        sgdStep = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SgdStep>(OptimizerKernels.ClipAndSgdStep);
        loadImages = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<byte>, ArrayView<int>, int, int, int, int, ChannelNormalisation, ArrayView<float>>(InputKernels.LoadImages);
        bnNormalize = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, BatchNormGeometry, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(BatchNormKernels.TrainNormalize);
        bnEval = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, BatchNormGeometry, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, ArrayView<float>>(BatchNormKernels.EvalForward);
        bnBackwardInput = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, BatchNormGeometry, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(BatchNormKernels.BackwardInput);
        sumSplits = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, int, int, ArrayView<float>>(Conv2dKernels.SumSplits);
        partialSums = a.LoadStreamKernel<ArrayView<float>, int, int, ArrayView<float>>(ReductionKernels.PartialSums);
        finalSum = a.LoadStreamKernel<ArrayView<float>, int, float, ArrayView<float>>(ReductionKernels.FinalSum);
        bnStatistics = a.LoadStreamKernel<ArrayView<float>, BatchNormGeometry, ArrayView<float>, ArrayView<float>, float, float, ArrayView<float>, ArrayView<float>>(BatchNormKernels.TrainStatistics);
        bnBackwardReduce = a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, BatchNormGeometry, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(BatchNormKernels.BackwardReduce);

        bnChunkStatistics = a.LoadStreamKernel<ArrayView<float>, BatchNormGeometry, int, ArrayView<float>>(BatchNormKernels.ChunkStatistics);
        bnMergeStatistics = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, int, int, BatchNormGeometry, ArrayView<float>, ArrayView<float>, float, float, ArrayView<float>, ArrayView<float>>(BatchNormKernels.MergeStatistics);
        bnChunkBackwardReduce = a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, BatchNormGeometry, ArrayView<float>, ArrayView<float>, int, ArrayView<float>>(BatchNormKernels.ChunkBackwardReduce);
        bnMergeBackwardReduce = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, int, ArrayView<float>, ArrayView<float>>(BatchNormKernels.MergeBackwardReduce);

        convForwardNaive = a.LoadAutoGroupedStreamKernel<Index1D, ConvGeometry, ArrayView<float>, ArrayView<float>, ArrayView<float>>(Conv2dKernels.ForwardNaive);
        convBackwardInputNaive = a.LoadAutoGroupedStreamKernel<Index1D, ConvGeometry, ArrayView<float>, ArrayView<float>, ArrayView<float>>(Conv2dKernels.BackwardInputNaive);
        convBackwardWeightNaive = a.LoadAutoGroupedStreamKernel<Index1D, ConvGeometry, ArrayView<float>, ArrayView<float>, ArrayView<float>>(Conv2dKernels.BackwardWeightNaive);
        // Compile the GEMMs the options name now, not at the first call.
        if (this.options.ForwardAlgorithm != ConvAlgorithm.Naive)
            Gemm<Conv2dKernels.ForwardGemm, OutputPixel>(this.options.ForwardAlgorithm);
        if (this.options.BackwardInputAlgorithm != ConvAlgorithm.Naive)
        {
            Gemm<Conv2dKernels.BackwardInputGemm, InputPixel>(this.options.BackwardInputAlgorithm);
            if (this.options.BackwardInputByPhase)
                Gemm<Conv2dKernels.BackwardInputPhaseGemm, InputPixel>(this.options.BackwardInputAlgorithm);
        }
        if (this.options.BackwardWeightAlgorithm != ConvAlgorithm.Naive)
            Gemm<Conv2dKernels.BackwardWeightGemm, KernelTap>(this.options.BackwardWeightAlgorithm);

        noAugment = AllocateRaw<int>(3);
    }

    public string Name { get; }
    public Accelerator Accelerator => accelerator;
    public IlgpuOpsOptions Options => options;

    /// <summary>For tests: forces the number of weight-gradient splits (0: the options' choice).</summary>
    internal int WeightGradientSplitsOverride { get; set; }
    public long AllocatedBytes => Interlocked.Read(ref allocatedBytes);
    public long PeakAllocatedBytes => Interlocked.Read(ref peakAllocatedBytes);

    // ---- memory -------------------------------------------------------------------------------

    public DeviceBuffer<T> Allocate<T>(long length) where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return new IlgpuBuffer<T>(this, AllocateRaw<T>(length));
    }

    private MemoryBuffer1D<T, Stride1D.Dense> AllocateRaw<T>(long length) where T : unmanaged
    {
        long bytes = length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        MemoryBuffer1D<T, Stride1D.Dense> memory;
        try
        {
            memory = accelerator.Allocate1D<T>(length);
        }
        catch (Exception e) when (IsOutOfMemory(e))
        {
            throw new DeviceOutOfMemoryException(Name, bytes, AllocatedBytes, e);
        }
        if (length > 0)
            memory.View.MemSetToZero(accelerator.DefaultStream);
        long now = Interlocked.Add(ref allocatedBytes, memory.LengthInBytes);
        long peak;
        while (now > (peak = Interlocked.Read(ref peakAllocatedBytes)) &&
               Interlocked.CompareExchange(ref peakAllocatedBytes, now, peak) != peak)
        {
        }
        return memory;
    }

    private static bool IsOutOfMemory(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is OutOfMemoryException)
                return true;
            if (x is CudaException cuda && cuda.Error.ToString().Contains("OUT_OF_MEMORY", StringComparison.Ordinal))
                return true;
            if (x.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase))
                return true;
        }
        return false;
    }

    internal void Released(long bytes) => Interlocked.Add(ref allocatedBytes, -bytes);

    public void Upload<T>(ReadOnlySpan<T> source, Slice<T> destination) where T : unmanaged
    {
        if (source.Length != destination.Length)
            throw new ArgumentException($"Upload of {source.Length} elements into a slice of {destination.Length}.");
        if (source.Length == 0)
            return;
        Buffer(destination).Memory.View.SubView(destination.Offset, destination.Length).CopyFromCPU(accelerator.DefaultStream, source);
        // The source is host memory the caller may reuse as soon as this returns.
        accelerator.DefaultStream.Synchronize();
    }

    public void Download<T>(Slice<T> source, Span<T> destination) where T : unmanaged
    {
        if (source.Length != destination.Length)
            throw new ArgumentException($"Download of a slice of {source.Length} elements into {destination.Length}.");
        accelerator.DefaultStream.Synchronize();
        if (source.Length == 0)
            return;
        Buffer(source).Memory.View.SubView(source.Offset, source.Length).CopyToCPU(accelerator.DefaultStream, destination);
        accelerator.DefaultStream.Synchronize();
    }

    public void Fill(Slice<float> destination, float value)
    {
        if (destination.Length > 0)
            fill(Extent(destination), View(destination), value);
    }

    public void Synchronize() => accelerator.DefaultStream.Synchronize();

    // ---- input --------------------------------------------------------------------------------

    public void LoadImages(int n, int h, int w, Slice<byte> pixels, Slice<int>? augment, int pad,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> std, Slice<float> x)
    {
        int channels = mean.Length;
        Require(channels is 1 or 3 && std.Length == channels, "LoadImages: mean and std need one value per channel, 1 or 3 channels");
        long length = (long)channels * n * h * w;
        Require(pixels.Length == length && x.Length == length, "LoadImages: pixels and x must hold N * C * H * W elements");
        Require(augment is null || augment.Value.Length == 3L * n, "LoadImages: augment must be (N, 3)");
        if (length == 0)
            return;
        var norm = channels == 3 ? new ChannelNormalisation(3, mean[0], mean[1], mean[2], std[0], std[1], std[2])
            : new ChannelNormalisation(1, mean[0], mean[0], mean[0], std[0], std[0], std[0]);
        var augmentView = augment is { } aug ? View(aug) : noAugment.View.AsContiguous();
        loadImages(Extent(x), View(pixels), augmentView, augment is null ? 0 : 1, h, w, pad, norm, View(x));
    }

    // ---- convolution --------------------------------------------------------------------------

    public void Conv2dForward(ConvShape s, Slice<float> x, Slice<float> w, Slice<float> y)
    {
        CheckConv(s, x, w, y);
        if (s.OutputLength == 0)
            return;
        var g = Geometry(s);
        var algorithm = options.ForwardAlgorithm;
        if (algorithm == ConvAlgorithm.Naive)
        {
            convForwardNaive(Extent(y), g, View(x), View(w), View(y));
            return;
        }
        var op = new Conv2dKernels.ForwardGemm(g, View(x), View(w), View(y));
        LaunchGemm(algorithm, Gemm<Conv2dKernels.ForwardGemm, OutputPixel>(algorithm), op, op.M, op.N, op.K, 1);
    }

    public void Conv2dBackwardInput(ConvShape s, Slice<float> dy, Slice<float> w, Slice<float> dx)
    {
        CheckConv(s, dx, w, dy);
        if (s.InputLength == 0)
            return;
        var g = Geometry(s);
        var algorithm = options.BackwardInputAlgorithm;
        if (algorithm == ConvAlgorithm.Naive)
        {
            convBackwardInputNaive(Extent(dx), g, View(dy), View(w), View(dx));
            return;
        }
        if (s.Stride > 1 && options.BackwardInputByPhase)
        {
            // One product per stride phase; together they write every element of dx once.
            var kernel = Gemm<Conv2dKernels.BackwardInputPhaseGemm, InputPixel>(algorithm);
            for (int qh = 0; qh < s.Stride; qh++)
                for (int qw = 0; qw < s.Stride; qw++)
                {
                    var phase = new Conv2dKernels.BackwardInputPhaseGemm(g, qh, qw, View(dy), View(w), View(dx));
                    LaunchGemm(algorithm, kernel, phase, phase.M, phase.N, phase.K, 1);
                }
            return;
        }
        var op = new Conv2dKernels.BackwardInputGemm(g, View(dy), View(w), View(dx));
        LaunchGemm(algorithm, Gemm<Conv2dKernels.BackwardInputGemm, InputPixel>(algorithm), op, op.M, op.N, op.K, 1);
    }

    public void Conv2dBackwardWeight(ConvShape s, Slice<float> x, Slice<float> dy, Slice<float> dw)
    {
        CheckConv(s, x, dw, dy);
        if (s.WeightLength == 0)
            return;
        var g = Geometry(s);
        var algorithm = options.BackwardWeightAlgorithm;
        if (algorithm == ConvAlgorithm.Naive)
        {
            convBackwardWeightNaive(Extent(dw), g, View(x), View(dy), View(dw));
            return;
        }

        var kernel = Gemm<Conv2dKernels.BackwardWeightGemm, KernelTap>(algorithm);
        int m = s.Cout, n = s.Cin * s.K * s.K;
        long k = (long)s.N * s.OutH * s.OutW;
        int splits = WeightGradientSplits(algorithm, m, n, k);
        if (splits == 1)
        {
            var direct = new Conv2dKernels.BackwardWeightGemm(g, View(x), View(dy), View(dw));
            LaunchGemm(algorithm, kernel, direct, m, n, (int)k, 1);
            return;
        }
        long weights = (long)m * n;
        var partials = Scratch(splits * weights);
        var op = new Conv2dKernels.BackwardWeightGemm(g, View(x), View(dy), partials);
        LaunchGemm(algorithm, kernel, op, m, n, (int)k, splits);
        sumSplits((int)weights, partials, splits, (int)weights, View(dw));
    }

    /// <summary>Splits of the weight-gradient reduction: enough groups to fill the device, each at least 16 k-tiles long.</summary>
    private int WeightGradientSplits(ConvAlgorithm algorithm, int m, int n, long k)
    {
        var tile = GemmTile.Of(algorithm);
        long kTiles = (k + tile.K - 1) / tile.K;
        var (gx, gy) = tile.Counts(m, n);
        int forced = WeightGradientSplitsOverride > 0 ? WeightGradientSplitsOverride : options.WeightGradientSplits;
        long wanted = forced > 0
            ? forced
            : Math.Min(Math.Max(1, kTiles / 16), (targetGroups + (long)gx * gy - 1) / ((long)gx * gy));
        long splits = Math.Clamp(wanted, 1, Math.Max(1, Math.Min(kTiles, 65535)));
        long tilesPerSplit = Math.Max(1, (kTiles + splits - 1) / splits);
        return (int)Math.Max(1, (kTiles + tilesPerSplit - 1) / tilesPerSplit);
    }

    private void LaunchGemm<TOperands>(ConvAlgorithm algorithm, Action<KernelConfig, TOperands, int> kernel, TOperands op, int m, int n, int k, int splits)
        where TOperands : struct
    {
        if (m == 0 || n == 0)
            return;
        var tile = GemmTile.Of(algorithm);
        long kTiles = (k + tile.K - 1) / tile.K;
        int kPerSplit = (int)((kTiles + splits - 1) / splits) * tile.K;
        var (gx, gy) = tile.Counts(m, n);
        Require(gy <= 65535, "convolution: too many output channels for the grid");
        kernel(new KernelConfig(new Index3D(gx, gy, splits), new Index3D(tile.Threads, 1, 1)), op, kPerSplit);
    }

    /// <summary>The GEMM kernel of <paramref name="algorithm"/> for these operands, compiled at its first use.</summary>
    private Action<KernelConfig, TOperands, int> Gemm<TOperands, TColumn>(ConvAlgorithm algorithm)
        where TOperands : struct, IGemmOperands<TColumn>
        where TColumn : struct
    {
        var key = (algorithm, typeof(TOperands));
        if (!gemmKernels.TryGetValue(key, out var kernel))
        {
            kernel = algorithm switch
            {
                ConvAlgorithm.Tiled => accelerator.LoadStreamKernel<TOperands, int>(ImplicitGemm.Tiled<TOperands, TColumn>),
                ConvAlgorithm.Wide => accelerator.LoadStreamKernel<TOperands, int>(ImplicitGemmWide.Tiled128<TOperands, TColumn>),
                ConvAlgorithm.TensorCoreTf32 => accelerator.LoadStreamKernel<TOperands, int>(ImplicitGemmTensorCore.Tf32<TOperands, TColumn>),
                _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "not a GEMM algorithm"),
            };
            gemmKernels[key] = kernel;
        }
        return (Action<KernelConfig, TOperands, int>)kernel;
    }

    /// <summary>The tile and group size of a GEMM kernel.</summary>
    private readonly record struct GemmTile(int M, int N, int K, int Threads)
    {
        public static GemmTile Of(ConvAlgorithm algorithm) => algorithm switch
        {
            ConvAlgorithm.Wide => new(ImplicitGemmWide.TileM, ImplicitGemmWide.TileN, ImplicitGemmWide.TileK, ImplicitGemmWide.Threads),
            ConvAlgorithm.TensorCoreTf32 => new(ImplicitGemmTensorCore.TileM, ImplicitGemmTensorCore.TileN, ImplicitGemmTensorCore.TileK, ImplicitGemmTensorCore.Threads),
            _ => new(ImplicitGemm.TileM, ImplicitGemm.TileN, ImplicitGemm.TileK, ImplicitGemm.Threads),
        };

        /// <summary>Groups along (N, M) for a product of m x n.</summary>
        public (int X, int Y) Counts(int m, int n) => ((n + N - 1) / N, (m + M - 1) / M);
    }

    private static ConvGeometry Geometry(ConvShape s) => new(s.N, s.Cin, s.H, s.W, s.Cout, s.K, s.Stride, s.Pad);

    private static void CheckConv(ConvShape s, Slice<float> x, Slice<float> w, Slice<float> y)
    {
        Require(s.K > 0 && s.Stride > 0 && s.Pad >= 0 && s.OutH > 0 && s.OutW > 0, $"convolution: invalid shape {s}");
        Require(x.Length == s.InputLength, $"convolution: input slice has {x.Length} elements, {s} needs {s.InputLength}");
        Require(w.Length == s.WeightLength, $"convolution: weight slice has {w.Length} elements, {s} needs {s.WeightLength}");
        Require(y.Length == s.OutputLength, $"convolution: output slice has {y.Length} elements, {s} needs {s.OutputLength}");
        Require((long)s.N * s.OutH * s.OutW * Math.Max(s.Cout, s.Cin * s.K * s.K) < int.MaxValue &&
                (long)s.N * s.H * s.W * Math.Max(s.Cin, s.Cout * s.K * s.K) < int.MaxValue,
            $"convolution {s}: sizes beyond 32-bit indexing; lower --batch-size");
    }

    // ---- batch normalisation ------------------------------------------------------------------

    public void BatchNormTrainForward(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta,
        Slice<float> runningMean, Slice<float> runningVar, float momentum, float eps,
        Slice<float> y, Slice<float> saveMean, Slice<float> saveInvStd)
    {
        CheckBatchNorm(s, x, y, gamma, beta, runningMean, runningVar, saveMean, saveInvStd);
        if (s.Length == 0)
            return;
        var g = new BatchNormGeometry(s.N, s.C, s.HW);
        var (chunks, chunkLength) = BatchNormChunking(s);
        if (chunks == 1)
            bnStatistics(PerChannel(s), View(x), g, View(runningMean), View(runningVar), momentum, eps, View(saveMean), View(saveInvStd));
        else
        {
            var partials = Scratch(2L * s.C * chunks);
            bnChunkStatistics(PerChunk(s, chunks), View(x), g, chunkLength, partials);
            bnMergeStatistics(s.C, partials, chunks, chunkLength, g, View(runningMean), View(runningVar), momentum, eps, View(saveMean), View(saveInvStd));
        }
        bnNormalize(Extent(x), View(x), g, View(gamma), View(beta), View(saveMean), View(saveInvStd), View(y));
    }

    public void BatchNormEvalForward(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta,
        Slice<float> runningMean, Slice<float> runningVar, float eps, Slice<float> y)
    {
        CheckBatchNorm(s, x, y, gamma, beta, runningMean, runningVar);
        if (s.Length == 0)
            return;
        var g = new BatchNormGeometry(s.N, s.C, s.HW);
        bnEval(Extent(x), View(x), g, View(gamma), View(beta), View(runningMean), View(runningVar), eps, View(y));
    }

    public void BatchNormApply(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta,
        Slice<float> saveMean, Slice<float> saveInvStd, Slice<float> y)
    {
        CheckBatchNorm(s, x, y, gamma, beta, saveMean, saveInvStd);
        if (s.Length == 0)
            return;
        // The training forward's own normalisation kernel, so the recomputed values are the forward's exactly.
        bnNormalize(Extent(x), View(x), new BatchNormGeometry(s.N, s.C, s.HW), View(gamma), View(beta), View(saveMean), View(saveInvStd), View(y));
    }

    public void BatchNormBackward(BatchNormShape s, Slice<float> x, Slice<float> dy, Slice<float> gamma,
        Slice<float> saveMean, Slice<float> saveInvStd, Slice<float> dx, Slice<float> dgamma, Slice<float> dbeta)
    {
        CheckBatchNorm(s, x, dy, gamma, saveMean, saveInvStd, dgamma, dbeta);
        Require(dx.Length == s.Length, "BatchNormBackward: dx has the wrong length");
        if (s.Length == 0)
            return;
        var g = new BatchNormGeometry(s.N, s.C, s.HW);
        var (chunks, chunkLength) = BatchNormChunking(s);
        if (chunks == 1)
            bnBackwardReduce(PerChannel(s), View(x), View(dy), g, View(saveMean), View(saveInvStd), View(dgamma), View(dbeta));
        else
        {
            var partials = Scratch(2L * s.C * chunks);
            bnChunkBackwardReduce(PerChunk(s, chunks), View(x), View(dy), g, View(saveMean), View(saveInvStd), chunkLength, partials);
            bnMergeBackwardReduce(s.C, partials, chunks, View(dgamma), View(dbeta));
        }
        bnBackwardInput(Extent(x), View(x), View(dy), g, View(gamma), View(saveMean), View(saveInvStd), View(dgamma), View(dbeta), View(dx));
    }

    private KernelConfig PerChannel(BatchNormShape s) => new(new Index1D(s.C), new Index1D(reductionGroupSize));

    private KernelConfig PerChunk(BatchNormShape s, int chunks) => new(new Index2D(chunks, s.C), new Index2D(reductionGroupSize, 1));

    /// <summary>
    /// Chunks per channel of the batch-norm reductions and the values per chunk (the last chunk may be shorter; none is empty).
    /// Automatic: enough groups to fill the device twice over, each thread of a chunk at least 4 values; 1 when the channels fill it.
    /// </summary>
    internal (int Chunks, int ChunkLength) BatchNormChunking(BatchNormShape s)
    {
        long count = (long)s.N * s.HW;
        long wanted = options.BatchNormChunks > 0
            ? Math.Min(options.BatchNormChunks, count)
            : Math.Min((targetReductionGroups + s.C - 1) / s.C, count / (4L * reductionGroupSize));
        long chunks = Math.Clamp(wanted, 1, 65535);
        long length = (count + chunks - 1) / chunks;
        return ((int)((count + length - 1) / length), (int)length);
    }

    private static void CheckBatchNorm(BatchNormShape s, Slice<float> x, Slice<float> y, params ReadOnlySpan<Slice<float>> perChannel)
    {
        Require(x.Length == s.Length && y.Length == s.Length, $"batch norm: x and y must hold {s.Length} elements ({s})");
        foreach (var c in perChannel)
            Require(c.Length == s.C, $"batch norm: a per-channel slice has {c.Length} elements, not {s.C}");
    }

    // ---- elementwise --------------------------------------------------------------------------

    public void ReluForward(Slice<float> x, Slice<float> y)
    {
        Require(x.Length == y.Length, "ReluForward: x and y differ in length");
        if (x.Length > 0)
            reluForward(Extent(x), View(x), View(y));
    }

    public void ReluBackward(Slice<float> y, Slice<float> dy, Slice<float> dx)
    {
        Require(y.Length == dy.Length && dy.Length == dx.Length, "ReluBackward: y, dy and dx differ in length");
        if (y.Length > 0)
            reluBackward(Extent(y), View(y), View(dy), View(dx));
    }

    public void Add(Slice<float> a, Slice<float> b, Slice<float> y)
    {
        Require(a.Length == b.Length && b.Length == y.Length, "Add: a, b and y differ in length");
        if (a.Length > 0)
            add(Extent(a), View(a), View(b), View(y));
    }

    // ---- head ---------------------------------------------------------------------------------

    public void GlobalAvgPoolForward(int n, int c, int hw, Slice<float> x, Slice<float> y)
    {
        Require(x.Length == (long)n * c * hw && y.Length == (long)n * c && hw > 0, "GlobalAvgPoolForward: wrong lengths");
        if (y.Length > 0)
            poolForward(Extent(y), View(x), hw, View(y));
    }

    public void GlobalAvgPoolBackward(int n, int c, int hw, Slice<float> dy, Slice<float> dx)
    {
        Require(dx.Length == (long)n * c * hw && dy.Length == (long)n * c && hw > 0, "GlobalAvgPoolBackward: wrong lengths");
        if (dx.Length > 0)
            poolBackward(Extent(dx), View(dy), hw, View(dx));
    }

    public void LinearForward(LinearShape s, Slice<float> x, Slice<float> w, Slice<float> b, Slice<float> y)
    {
        CheckLinear(s, x, w, b, y);
        if (y.Length > 0)
            linearForward(Extent(y), View(x), View(w), View(b), s.In, s.Out, View(y));
    }

    public void LinearBackward(LinearShape s, Slice<float> x, Slice<float> w, Slice<float> dy,
        Slice<float> dx, Slice<float> dw, Slice<float> db)
    {
        CheckLinear(s, x, w, db, dy);
        Require(dx.Length == x.Length && dw.Length == w.Length, "LinearBackward: dx or dw has the wrong length");
        if (dx.Length > 0)
            linearBackwardInput(Extent(dx), View(dy), View(w), s.In, s.Out, View(dx));
        if (dw.Length > 0)
            linearBackwardWeight(Extent(dw), View(x), View(dy), s.N, s.In, s.Out, View(dw));
        if (db.Length > 0)
            linearBackwardBias(Extent(db), View(dy), s.N, s.Out, View(db));
    }

    private static void CheckLinear(LinearShape s, Slice<float> x, Slice<float> w, Slice<float> b, Slice<float> y)
    {
        Require(x.Length == (long)s.N * s.In, $"linear: x must hold {(long)s.N * s.In} elements");
        Require(w.Length == (long)s.Out * s.In, $"linear: w must hold {(long)s.Out * s.In} elements");
        Require(b.Length == s.Out, $"linear: b must hold {s.Out} elements");
        Require(y.Length == (long)s.N * s.Out, $"linear: y must hold {(long)s.N * s.Out} elements");
    }

    public void SoftmaxNllLoss(int n, int classes, Slice<float> logits, Slice<int> labels, float scale,
        Slice<float> loss, Slice<float> dlogits)
    {
        Require(n > 0 && classes > 0, "SoftmaxNllLoss: empty batch");
        Require(logits.Length == (long)n * classes && dlogits.Length == logits.Length, "SoftmaxNllLoss: logits and dlogits must be (N, classes)");
        Require(labels.Length == n && loss.Length >= 1, "SoftmaxNllLoss: labels must be (N) and loss at least one element");
        var perSample = Scratch(n);
        softmaxNll(n, View(logits), View(labels), classes, scale / n, perSample, View(dlogits));
        finalSum(new KernelConfig(1, reductionGroupSize), perSample, n, 1f / n, View(loss.At(0, 1)));
    }

    // ---- optimiser ----------------------------------------------------------------------------

    public void CombineGradients(Slice<float> gRetain, Slice<float> gForget, float retainScale, float forgetScale, Slice<float> g)
    {
        Require(gRetain.Length == gForget.Length && gForget.Length == g.Length, "CombineGradients: lengths differ");
        if (g.Length > 0)
            combineGradients(Extent(g), View(gRetain), View(gForget), retainScale, forgetScale, View(g));
    }

    public void SumOfSquares(Slice<float> g, Slice<float> result)
    {
        Require(result.Length >= 1, "SumOfSquares: result needs one element");
        int length = Extent(g);
        long perGroup = (long)reductionGroupSize * 8;
        int groups = (int)Math.Clamp((length + perGroup - 1) / perGroup, 1, Math.Min(1024, Math.Max(1, targetGroups)));
        var partials = Scratch(groups);
        if (length > 0)
            partialSums(new KernelConfig(groups, reductionGroupSize), View(g), length, 1, partials);
        else
            fill(groups, partials, 0f);
        finalSum(new KernelConfig(1, reductionGroupSize), partials, groups, 1f, View(result.At(0, 1)));
    }

    public void ClipAndSgdStep(Slice<float> p, Slice<float> g, Slice<float> m, Slice<float> sumOfSquares, SgdSettings settings)
    {
        Require(p.Length == g.Length && g.Length == m.Length, "ClipAndSgdStep: p, g and m differ in length");
        Require(sumOfSquares.Length >= 1, "ClipAndSgdStep: sumOfSquares needs one element");
        if (p.Length == 0)
            return;
        var step = new SgdStep(settings.Clip, settings.LearningRate, settings.Momentum, settings.WeightDecay, settings.Nesterov, settings.FirstStep);
        sgdStep(Extent(p), View(p), View(g), View(m), View(sumOfSquares.At(0, 1)), step);
    }

    // ---- helpers ------------------------------------------------------------------------------

    private IlgpuBuffer<T> Buffer<T>(Slice<T> slice) where T : unmanaged
        => slice.Buffer as IlgpuBuffer<T> ?? throw new ArgumentException($"A {slice.Buffer.GetType().Name} was passed to {Name}; allocate it with this IlgpuOps.");

    private ArrayView<T> View<T>(Slice<T> slice) where T : unmanaged
    {
        var buffer = Buffer(slice);
        Require(slice.Offset >= 0 && slice.Offset + slice.Length <= buffer.Length, $"slice {slice} is outside its buffer of {buffer.Length}");
        return buffer.View(slice.Offset, slice.Length);
    }

    /// <summary>The launch extent for one thread per element; the kernels index with 32-bit ints.</summary>
    private static int Extent<T>(Slice<T> slice) where T : unmanaged
    {
        Require(slice.Length < int.MaxValue, $"a slice of {slice.Length} elements is beyond 32-bit indexing; lower --batch-size");
        return (int)slice.Length;
    }

    /// <summary>Device scratch of at least <paramref name="length"/> floats, reused by consecutive ops on the one stream.</summary>
    private ArrayView<float> Scratch(long length)
    {
        Require(length < int.MaxValue, "scratch beyond 32-bit indexing; lower --batch-size");
        if (scratch is null || scratch.Length < length)
        {
            if (scratch is not null)
            {
                accelerator.DefaultStream.Synchronize();
                Released(scratch.LengthInBytes);
                scratch.Dispose();
                scratch = null;
            }
            scratch = AllocateRaw<float>(Math.Max(length, 1024));
        }
        return scratch.View.SubView(0, length).AsContiguous();
    }

    private static void Require(bool condition, string message)
    {
        if (!condition)
            throw new ArgumentException(message);
    }

    public void Dispose()
    {
        try
        {
            accelerator.DefaultStream.Synchronize();
        }
        finally
        {
            scratch?.Dispose();
            noAugment.Dispose();
            owned?.Dispose();
        }
    }
}
