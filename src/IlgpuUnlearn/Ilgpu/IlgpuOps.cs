using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using IlgpuUnlearn.Kernels;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Ilgpu;

/// <summary>
/// The ops on an ILGPU accelerator (CUDA, or ILGPU's CPU accelerator for tests), every op a few kernel launches on the
/// accelerator's default stream. Kernels are compiled once, when this object is made. Each op first asks its
/// <see cref="LaunchPlanner"/> for a plan (the argument checks, grids, group sizes, K-splits, chunks, scratch) and launches
/// exactly that; the planner also bounds the 32-bit index arithmetic of the kernels (every tensor and index below 2^31: a batch
/// of 2500 x 64 x 32 x 32 is 164M).
/// </summary>
public sealed class IlgpuOps : IOps
{
    private readonly Accelerator accelerator;
    private readonly IDisposable? owned;
    private readonly IlgpuOpsOptions options;
    private readonly LaunchPlanner planner;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> noAugment;
    private MemoryBuffer1D<float, Stride1D.Dense>? scratch;
    private long allocatedBytes, peakAllocatedBytes;

    // elementwise, implicitly grouped
    private readonly Action<Index1D, ArrayView<float>, float> fill;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>> add;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>> multiply;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, float> addScaledSign;
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
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, float, float, int, ArrayView<float>, ArrayView<float>> klDivergence;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SgdStep> sgdStep;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SgdStep> maskedSgdStep;
    private readonly Action<Index1D, ArrayView<byte>, ArrayView<int>, int, int, int, int, ChannelNormalisation, ArrayView<float>> loadImages;
    private readonly Action<Index1D, ArrayView<float>, BatchNormGeometry, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> bnNormalize;
    private readonly Action<Index1D, ArrayView<float>, BatchNormGeometry, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, ArrayView<float>> bnEval;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, BatchNormGeometry, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> bnBackwardInput;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, float, ArrayView<float>, ArrayView<float>> bnEvalStatistics;
    private readonly Action<Index1D, ArrayView<float>, BatchNormGeometry, ArrayView<float>, ArrayView<float>, ArrayView<float>> bnEvalBackwardInput;
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
        if (accelerator.WarpSize != 32)
            throw new NotSupportedException($"{accelerator.Name} has warps of {accelerator.WarpSize}; the kernels need 32 (use CPUDevice.Nvidia for the CPU accelerator).");
        planner = new LaunchPlanner(DeviceLimits.Of(accelerator), this.options);
        Name = cuda ? $"cuda: {accelerator.Name}" : $"ilgpu-cpu: {accelerator.Name}";

        var a = accelerator;
        fill = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, float>(ElementwiseKernels.Fill);
        add = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(ElementwiseKernels.Add);
        multiply = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(ElementwiseKernels.Multiply);
        addScaledSign = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, float>(ElementwiseKernels.AddScaledSign);
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
        klDivergence = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, float, float, int, ArrayView<float>, ArrayView<float>>(LossKernels.KlDivergencePerSample);
        sgdStep = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SgdStep>(OptimizerKernels.ClipAndSgdStep);
        maskedSgdStep = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SgdStep>(OptimizerKernels.MaskedClipAndSgdStep);
        loadImages = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<byte>, ArrayView<int>, int, int, int, int, ChannelNormalisation, ArrayView<float>>(InputKernels.LoadImages);
        bnNormalize = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, BatchNormGeometry, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(BatchNormKernels.TrainNormalize);
        bnEval = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, BatchNormGeometry, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, ArrayView<float>>(BatchNormKernels.EvalForward);
        bnBackwardInput = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, BatchNormGeometry, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(BatchNormKernels.BackwardInput);
        bnEvalStatistics = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, float, ArrayView<float>, ArrayView<float>>(BatchNormKernels.EvalStatistics);
        bnEvalBackwardInput = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, BatchNormGeometry, ArrayView<float>, ArrayView<float>, ArrayView<float>>(BatchNormKernels.EvalBackwardInput);
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

    /// <summary>The host-side decisions of every op: what each one launches for given shapes.</summary>
    public LaunchPlanner Planner => planner;

    /// <summary>For tests: forces the number of weight-gradient splits (0: the options' choice).</summary>
    internal int WeightGradientSplitsOverride
    {
        get => planner.WeightGradientSplitsOverride;
        set => planner.WeightGradientSplitsOverride = value;
    }
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
        foreach (var l in planner.Fill(destination).Launches)
            fill(l.Grid.X, View(destination), value);
    }

    public void Synchronize() => accelerator.DefaultStream.Synchronize();

    // ---- input --------------------------------------------------------------------------------

    public void LoadImages(int n, int h, int w, Slice<byte> pixels, Slice<int>? augment, int pad,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> std, Slice<float> x)
    {
        var plan = planner.LoadImages(n, h, w, pixels, augment, mean, std, x);
        if (plan.Launches.Count == 0)
            return;
        var norm = mean.Length == 3 ? new ChannelNormalisation(3, mean[0], mean[1], mean[2], std[0], std[1], std[2])
            : new ChannelNormalisation(1, mean[0], mean[0], mean[0], std[0], std[0], std[0]);
        var augmentView = augment is { } aug ? View(aug) : noAugment.View.AsContiguous();
        loadImages(plan.Launches[0].Grid.X, View(pixels), augmentView, augment is null ? 0 : 1, h, w, pad, norm, View(x));
    }

    // ---- convolution --------------------------------------------------------------------------

    public void Conv2dForward(ConvShape s, Slice<float> x, Slice<float> w, Slice<float> y)
    {
        var plan = planner.Conv2dForward(s, x, w, y);
        if (plan.Launches.Count == 0)
            return;
        var g = Geometry(s);
        var launch = plan.Launches[0];
        var algorithm = options.ForwardAlgorithm;
        if (algorithm == ConvAlgorithm.Naive)
            convForwardNaive(launch.Grid.X, g, View(x), View(w), View(y));
        else
            Gemm<Conv2dKernels.ForwardGemm, OutputPixel>(algorithm)(Config(launch), new(g, View(x), View(w), View(y)), launch.Argument);
    }

    public void Conv2dBackwardInput(ConvShape s, Slice<float> dy, Slice<float> w, Slice<float> dx)
    {
        var plan = planner.Conv2dBackwardInput(s, dy, w, dx);
        if (plan.Launches.Count == 0)
            return;
        var g = Geometry(s);
        var algorithm = options.BackwardInputAlgorithm;
        if (algorithm == ConvAlgorithm.Naive)
        {
            convBackwardInputNaive(plan.Launches[0].Grid.X, g, View(dy), View(w), View(dx));
            return;
        }
        if (s.Stride > 1 && options.BackwardInputByPhase)
        {
            // One product per stride phase (qh, qw); together they write every element of dx once.
            var kernel = Gemm<Conv2dKernels.BackwardInputPhaseGemm, InputPixel>(algorithm);
            foreach (var launch in plan.Launches)
            {
                var phase = new Conv2dKernels.BackwardInputPhaseGemm(g, launch.Phase / s.Stride, launch.Phase % s.Stride, View(dy), View(w), View(dx));
                kernel(Config(launch), phase, launch.Argument);
            }
            return;
        }
        var single = plan.Launches[0];
        Gemm<Conv2dKernels.BackwardInputGemm, InputPixel>(algorithm)(Config(single), new(g, View(dy), View(w), View(dx)), single.Argument);
    }

    public void Conv2dBackwardWeight(ConvShape s, Slice<float> x, Slice<float> dy, Slice<float> dw)
    {
        var plan = planner.Conv2dBackwardWeight(s, x, dy, dw);
        if (plan.Launches.Count == 0)
            return;
        var g = Geometry(s);
        var algorithm = options.BackwardWeightAlgorithm;
        var launch = plan.Launches[0];
        if (algorithm == ConvAlgorithm.Naive)
        {
            convBackwardWeightNaive(launch.Grid.X, g, View(x), View(dy), View(dw));
            return;
        }
        var kernel = Gemm<Conv2dKernels.BackwardWeightGemm, KernelTap>(algorithm);
        if (plan.ScratchFloats == 0)
        {
            kernel(Config(launch), new(g, View(x), View(dy), View(dw)), launch.Argument);
            return;
        }
        // Partial sums per split into scratch (split, Cout, Cin, K, K), then added up into dw.
        var partials = Scratch(plan.ScratchFloats);
        kernel(Config(launch), new(g, View(x), View(dy), partials), launch.Argument);
        sumSplits(plan.Launches[1].Grid.X, partials, launch.Grid.Z, (int)s.WeightLength, View(dw));
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
                // The tensor cores on CUDA; elsewhere the same kernel with the mma emulated.
                ConvAlgorithm.TensorCoreTf32 when accelerator.AcceleratorType == AcceleratorType.Cuda
                    => accelerator.LoadStreamKernel<TOperands, int>(ImplicitGemmTensorCore.Tf32<TOperands, TColumn>),
                ConvAlgorithm.TensorCoreTf32 => accelerator.LoadStreamKernel<TOperands, int>(ImplicitGemmTensorCore.Tf32Emulated<TOperands, TColumn>),
                _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "not a GEMM algorithm"),
            };
            gemmKernels[key] = kernel;
        }
        return (Action<KernelConfig, TOperands, int>)kernel;
    }

    private static ConvGeometry Geometry(ConvShape s) => new(s.N, s.Cin, s.H, s.W, s.Cout, s.K, s.Stride, s.Pad);

    // ---- batch normalisation ------------------------------------------------------------------

    public void BatchNormTrainForward(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta,
        Slice<float> runningMean, Slice<float> runningVar, float momentum, float eps,
        Slice<float> y, Slice<float> saveMean, Slice<float> saveInvStd)
    {
        var plan = planner.BatchNormTrainForward(s, x, y, gamma, beta, runningMean, runningVar, saveMean, saveInvStd);
        if (plan.Launches.Count == 0)
            return;
        var g = new BatchNormGeometry(s.N, s.C, s.HW);
        var l = plan.Launches;
        if (plan.ScratchFloats == 0)
            bnStatistics(Config(l[0]), View(x), g, View(runningMean), View(runningVar), momentum, eps, View(saveMean), View(saveInvStd));
        else
        {
            var partials = Scratch(plan.ScratchFloats);
            int chunks = l[0].Grid.X, chunkLength = l[0].Argument;
            bnChunkStatistics(Config(l[0]), View(x), g, chunkLength, partials);
            bnMergeStatistics(l[1].Grid.X, partials, chunks, chunkLength, g, View(runningMean), View(runningVar), momentum, eps, View(saveMean), View(saveInvStd));
        }
        bnNormalize(l[^1].Grid.X, View(x), g, View(gamma), View(beta), View(saveMean), View(saveInvStd), View(y));
    }

    public void BatchNormEvalForward(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta,
        Slice<float> runningMean, Slice<float> runningVar, float eps, Slice<float> y)
    {
        var plan = planner.BatchNormEvalForward(s, x, y, gamma, beta, runningMean, runningVar);
        if (plan.Launches.Count == 0)
            return;
        var g = new BatchNormGeometry(s.N, s.C, s.HW);
        bnEval(plan.Launches[0].Grid.X, View(x), g, View(gamma), View(beta), View(runningMean), View(runningVar), eps, View(y));
    }

    public void BatchNormApply(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta,
        Slice<float> saveMean, Slice<float> saveInvStd, Slice<float> y)
    {
        var plan = planner.BatchNormApply(s, x, y, gamma, beta, saveMean, saveInvStd);
        if (plan.Launches.Count == 0)
            return;
        // The training forward's own normalisation kernel, so the recomputed values are the forward's exactly.
        bnNormalize(plan.Launches[0].Grid.X, View(x), new BatchNormGeometry(s.N, s.C, s.HW), View(gamma), View(beta), View(saveMean), View(saveInvStd), View(y));
    }

    public void BatchNormBackward(BatchNormShape s, Slice<float> x, Slice<float> dy, Slice<float> gamma,
        Slice<float> saveMean, Slice<float> saveInvStd, Slice<float> dx, Slice<float> dgamma, Slice<float> dbeta)
    {
        var plan = planner.BatchNormBackward(s, x, dy, dx, gamma, saveMean, saveInvStd, dgamma, dbeta);
        if (plan.Launches.Count == 0)
            return;
        var g = new BatchNormGeometry(s.N, s.C, s.HW);
        var l = plan.Launches;
        if (plan.ScratchFloats == 0)
            bnBackwardReduce(Config(l[0]), View(x), View(dy), g, View(saveMean), View(saveInvStd), View(dgamma), View(dbeta));
        else
        {
            var partials = Scratch(plan.ScratchFloats);
            bnChunkBackwardReduce(Config(l[0]), View(x), View(dy), g, View(saveMean), View(saveInvStd), l[0].Argument, partials);
            bnMergeBackwardReduce(l[1].Grid.X, partials, l[0].Grid.X, View(dgamma), View(dbeta));
        }
        bnBackwardInput(l[^1].Grid.X, View(x), View(dy), g, View(gamma), View(saveMean), View(saveInvStd), View(dgamma), View(dbeta), View(dx));
    }

    public void BatchNormEvalStatistics(int channels, Slice<float> runningMean, Slice<float> runningVar, float eps,
        Slice<float> saveMean, Slice<float> saveInvStd)
    {
        foreach (var l in planner.BatchNormEvalStatistics(channels, runningMean, runningVar, saveMean, saveInvStd).Launches)
            bnEvalStatistics(l.Grid.X, View(runningMean), View(runningVar), eps, View(saveMean), View(saveInvStd));
    }

    public void BatchNormEvalBackward(BatchNormShape s, Slice<float> x, Slice<float> dy, Slice<float> gamma,
        Slice<float> saveMean, Slice<float> saveInvStd, Slice<float> dx, Slice<float> dgamma, Slice<float> dbeta)
    {
        var plan = planner.BatchNormEvalBackward(s, x, dy, dx, gamma, saveMean, saveInvStd, dgamma, dbeta);
        if (plan.Launches.Count == 0)
            return;
        var g = new BatchNormGeometry(s.N, s.C, s.HW);
        var l = plan.Launches;
        // The same dgamma/dbeta reductions as the training backward (they read only x, dy and the saved statistics).
        if (plan.ScratchFloats == 0)
            bnBackwardReduce(Config(l[0]), View(x), View(dy), g, View(saveMean), View(saveInvStd), View(dgamma), View(dbeta));
        else
        {
            var partials = Scratch(plan.ScratchFloats);
            bnChunkBackwardReduce(Config(l[0]), View(x), View(dy), g, View(saveMean), View(saveInvStd), l[0].Argument, partials);
            bnMergeBackwardReduce(l[1].Grid.X, partials, l[0].Grid.X, View(dgamma), View(dbeta));
        }
        bnEvalBackwardInput(l[^1].Grid.X, View(dy), g, View(gamma), View(saveInvStd), View(dx));
    }

    /// <summary>Chunks per channel of the batch-norm reductions and the values per chunk (see <see cref="LaunchPlanner"/>).</summary>
    internal (int Chunks, int ChunkLength) BatchNormChunking(BatchNormShape s) => planner.BatchNormChunking(s);

    // ---- elementwise --------------------------------------------------------------------------

    public void ReluForward(Slice<float> x, Slice<float> y)
    {
        foreach (var l in planner.ReluForward(x, y).Launches)
            reluForward(l.Grid.X, View(x), View(y));
    }

    public void ReluBackward(Slice<float> y, Slice<float> dy, Slice<float> dx)
    {
        foreach (var l in planner.ReluBackward(y, dy, dx).Launches)
            reluBackward(l.Grid.X, View(y), View(dy), View(dx));
    }

    public void Add(Slice<float> a, Slice<float> b, Slice<float> y)
    {
        foreach (var l in planner.Add(a, b, y).Launches)
            add(l.Grid.X, View(a), View(b), View(y));
    }

    public void Multiply(Slice<float> a, Slice<float> b, Slice<float> y)
    {
        foreach (var l in planner.Multiply(a, b, y).Launches)
            multiply(l.Grid.X, View(a), View(b), View(y));
    }

    public void AddScaledSign(Slice<float> g, Slice<float> p, float scale)
    {
        foreach (var l in planner.AddScaledSign(g, p).Launches)
            addScaledSign(l.Grid.X, View(g), View(p), scale);
    }

    // ---- head ---------------------------------------------------------------------------------

    public void GlobalAvgPoolForward(int n, int c, int hw, Slice<float> x, Slice<float> y)
    {
        foreach (var l in planner.GlobalAvgPoolForward(n, c, hw, x, y).Launches)
            poolForward(l.Grid.X, View(x), hw, View(y));
    }

    public void GlobalAvgPoolBackward(int n, int c, int hw, Slice<float> dy, Slice<float> dx)
    {
        foreach (var l in planner.GlobalAvgPoolBackward(n, c, hw, dy, dx).Launches)
            poolBackward(l.Grid.X, View(dy), hw, View(dx));
    }

    public void LinearForward(LinearShape s, Slice<float> x, Slice<float> w, Slice<float> b, Slice<float> y)
    {
        foreach (var l in planner.LinearForward(s, x, w, b, y).Launches)
            linearForward(l.Grid.X, View(x), View(w), View(b), s.In, s.Out, View(y));
    }

    public void LinearBackward(LinearShape s, Slice<float> x, Slice<float> w, Slice<float> dy,
        Slice<float> dx, Slice<float> dw, Slice<float> db)
    {
        foreach (var l in planner.LinearBackward(s, x, w, dy, dx, dw, db).Launches)
        {
            if (l.Kernel.EndsWith(nameof(LinearKernels.BackwardInput), StringComparison.Ordinal))
                linearBackwardInput(l.Grid.X, View(dy), View(w), s.In, s.Out, View(dx));
            else if (l.Kernel.EndsWith(nameof(LinearKernels.BackwardWeight), StringComparison.Ordinal))
                linearBackwardWeight(l.Grid.X, View(x), View(dy), s.N, s.In, s.Out, View(dw));
            else
                linearBackwardBias(l.Grid.X, View(dy), s.N, s.Out, View(db));
        }
    }

    public void SoftmaxNllLoss(int n, int classes, Slice<float> logits, Slice<int> labels, float scale,
        Slice<float> loss, Slice<float> dlogits)
    {
        var plan = planner.SoftmaxNllLoss(n, classes, logits, labels, loss, dlogits);
        var perSample = Scratch(plan.ScratchFloats);
        softmaxNll(plan.Launches[0].Grid.X, View(logits), View(labels), classes, scale / n, perSample, View(dlogits));
        finalSum(Config(plan.Launches[1]), perSample, n, 1f / n, View(loss.At(0, 1)));
    }

    public void KlDivergence(int n, int classes, Slice<float> studentLogits, Slice<float> teacherLogits, float temperature,
        float scale, Slice<float> loss, Slice<float> dStudentLogits, bool accumulate)
    {
        var plan = planner.KlDivergence(n, classes, studentLogits, teacherLogits, temperature, loss, dStudentLogits);
        var perSample = Scratch(plan.ScratchFloats);
        klDivergence(plan.Launches[0].Grid.X, View(studentLogits), View(teacherLogits), classes, temperature, scale * temperature / n,
            accumulate ? 1 : 0, perSample, View(dStudentLogits));
        finalSum(Config(plan.Launches[1]), perSample, n, temperature * temperature / n, View(loss.At(0, 1)));
    }

    // ---- optimiser ----------------------------------------------------------------------------

    public void CombineGradients(Slice<float> gRetain, Slice<float> gForget, float retainScale, float forgetScale, Slice<float> g)
    {
        foreach (var l in planner.CombineGradients(gRetain, gForget, g).Launches)
            combineGradients(l.Grid.X, View(gRetain), View(gForget), retainScale, forgetScale, View(g));
    }

    public void SumOfSquares(Slice<float> g, Slice<float> result)
    {
        var plan = planner.SumOfSquares(g, result);
        var partials = Scratch(plan.ScratchFloats);
        var first = plan.Launches[0];
        if (first.ImplicitlyGrouped)
            fill(first.Grid.X, partials, 0f);
        else
            partialSums(Config(first), View(g), (int)g.Length, 1, partials);
        finalSum(Config(plan.Launches[1]), partials, (int)plan.ScratchFloats, 1f, View(result.At(0, 1)));
    }

    public void ClipAndSgdStep(Slice<float> p, Slice<float> g, Slice<float> m, Slice<float> sumOfSquares, SgdUpdate update, bool firstStep,
        Slice<float>? updateMask = null)
    {
        var plan = planner.ClipAndSgdStep(p, g, m, sumOfSquares, updateMask);
        if (plan.Launches.Count == 0)
            return;
        var step = new SgdStep(update.Clip, update.LearningRate, update.Momentum, update.WeightDecay, update.Nesterov, firstStep);
        if (updateMask is { } mask)
            maskedSgdStep(plan.Launches[0].Grid.X, View(p), View(g), View(m), View(sumOfSquares.At(0, 1)), View(mask), step);
        else
            sgdStep(plan.Launches[0].Grid.X, View(p), View(g), View(m), View(sumOfSquares.At(0, 1)), step);
    }

    // ---- helpers ------------------------------------------------------------------------------

    /// <summary>The grid and group of an explicitly grouped launch.</summary>
    private static KernelConfig Config(KernelLaunch launch)
    {
        var (grid, group) = (launch.Grid, launch.Group ?? throw new ArgumentException($"{launch.Kernel} is implicitly grouped"));
        return new KernelConfig(new Index3D(grid.X, grid.Y, grid.Z), new Index3D(group.X, group.Y, group.Z));
    }

    private IlgpuBuffer<T> Buffer<T>(Slice<T> slice) where T : unmanaged
        => slice.Buffer as IlgpuBuffer<T> ?? throw new ArgumentException($"A {slice.Buffer.GetType().Name} was passed to {Name}; allocate it with this IlgpuOps.");

    private ArrayView<T> View<T>(Slice<T> slice) where T : unmanaged
    {
        var buffer = Buffer(slice);
        Require(slice.Offset >= 0 && slice.Offset + slice.Length <= buffer.Length, $"slice {slice} is outside its buffer of {buffer.Length}");
        return buffer.View(slice.Offset, slice.Length);
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
