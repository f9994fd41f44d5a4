using IlgpuUnlearn.Kernels;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Ilgpu;

/// <summary>
/// Every host-side decision of <see cref="IlgpuOps"/>, without a device: an op's argument checks, then the kernels it launches
/// with their grids, group sizes, K-splits, chunk counts and scratch (<see cref="OpPlan"/>). IlgpuOps asks this for a plan
/// and launches it; <see cref="PlanningOps"/> asks the same and launches nothing, so a test can walk the whole network at batch
/// 2500 in seconds. Every plan is checked against CUDA's launch limits (<see cref="DeviceLimits"/>) and against 32-bit
/// indexing: the kernels index with int, so every tensor an op touches and every index a kernel forms (including a GEMM tile's
/// or split's overrun past the end, which is masked but still computed) must stay below 2^31.
/// Errors are <see cref="ArgumentException"/>s of one line naming the op, the shape and the size that is out of range.
/// </summary>
public sealed class LaunchPlanner
{
    private const long IndexLimit = int.MaxValue;   // every index a kernel forms is below this

    private readonly IlgpuOpsOptions options;
    private readonly DeviceLimits device;
    private readonly int targetGroups;
    private readonly int targetReductionGroups;

    /// <exception cref="ArgumentException">The options do not fit the device.</exception>
    public LaunchPlanner(DeviceLimits device, IlgpuOpsOptions options)
    {
        this.device = device;
        this.options = options;
        ReductionGroupSize = options.ReductionGroupSize > 0 ? options.ReductionGroupSize : device.Cuda ? 1024 : 128;
        int maxGroup = Math.Min(DeviceLimits.MaxThreadsPerGroupCuda, device.MaxThreadsPerGroup);
        if (ReductionGroupSize % 32 != 0 || ReductionGroupSize > maxGroup)
            throw new ArgumentException($"Reduction group size {ReductionGroupSize} must be a multiple of 32 and at most {maxGroup}.");
        if (options.BatchNormChunks < 0)
            throw new ArgumentException("BatchNormChunks must be 0 (automatic) or at least 1.");
        // Enough groups of 256 threads to fill every multiprocessor twice over.
        targetGroups = device.Cuda ? 2 * device.Multiprocessors * Math.Max(1, device.MaxThreadsPerMultiprocessor / 256) : 4;
        // Reduction groups that fill every multiprocessor twice over (the CPU accelerator: one, so chunking stays opt-in there).
        targetReductionGroups = device.Cuda ? 2 * device.Multiprocessors * Math.Max(1, device.MaxThreadsPerMultiprocessor / ReductionGroupSize) : 1;
    }

    public DeviceLimits Device => device;
    public IlgpuOpsOptions Options => options;

    /// <summary>Threads per group of the reductions (batch-norm statistics, sums).</summary>
    public int ReductionGroupSize { get; }

    /// <summary>For tests: forces the number of weight-gradient splits (0: the options' choice).</summary>
    internal int WeightGradientSplitsOverride { get; set; }

    // ---- memory and input ---------------------------------------------------------------------

    public OpPlan Fill(Slice<float> destination)
        => PerElement("Fill", $"[{destination.Length}]", nameof(ElementwiseKernels) + "." + nameof(ElementwiseKernels.Fill), destination.Length);

    public OpPlan LoadImages(int n, int h, int w, Slice<byte> pixels, Slice<int>? augment, ReadOnlySpan<float> mean,
        ReadOnlySpan<float> std, Slice<float> x)
    {
        int channels = mean.Length;   // 1 (grey) or 3 (colour): one mean and one std per channel
        long length = (long)channels * n * h * w;
        string shape = $"(N {n}, {channels}, {h}, {w})";
        Require(n >= 0 && h > 0 && w > 0, $"LoadImages: invalid shape {shape}");
        Require(channels is 1 or 3 && std.Length == channels, "LoadImages: mean and std need one value per channel, 1 or 3 channels");
        Require(pixels.Length == length && x.Length == length, "LoadImages: pixels and x must hold N * C * H * W elements");
        Require(augment is null || augment.Value.Length == 3L * n, "LoadImages: augment must be (N, 3)");
        return PerElement("LoadImages", shape, nameof(InputKernels) + "." + nameof(InputKernels.LoadImages), length);
    }

    /// <summary>y = gamma (x - saveMean) saveInvStd + beta with saved statistics: the training forward's normalisation kernel.</summary>
    public OpPlan BatchNormApply(BatchNormShape s, Slice<float> x, Slice<float> y, params ReadOnlySpan<Slice<float>> perChannel)
    {
        const string op = "BatchNormApply";
        CheckBatchNorm(op, s, x, y, perChannel);
        return s.Length == 0 ? OpPlan.Empty(op, s.ToString()) : PerElement(op, s.ToString(), BatchNorm(nameof(BatchNormKernels.TrainNormalize)), s.Length);
    }

    // ---- convolution --------------------------------------------------------------------------

    public OpPlan Conv2dForward(ConvShape s, Slice<float> x, Slice<float> w, Slice<float> y)
    {
        const string op = "Conv2dForward";
        CheckConv(op, s, x, w, y);
        if (s.OutputLength == 0)
            return OpPlan.Empty(op, s.ToString());
        var algorithm = options.ForwardAlgorithm;
        if (algorithm == ConvAlgorithm.Naive)
            return PerElement(op, s.ToString(), Kernel(nameof(Conv2dKernels.ForwardNaive)), s.OutputLength);
        // M = Cout, N = batch OH OW, K = Cin K K (Conv2dKernels.ForwardGemm)
        return new(op, s.ToString(), [Gemm(op, s, algorithm, nameof(Conv2dKernels.ForwardGemm),
            s.Cout, (long)s.N * s.OutH * s.OutW, (long)s.Cin * s.K * s.K, 1)]);
    }

    /// <summary>
    /// With stride S &gt; 1 and BackwardInputByPhase, one GEMM per stride phase (qh, qw) that holds input pixels, qh major, each
    /// launch's <see cref="KernelLaunch.Phase"/> = qh S + qw.
    /// </summary>
    public OpPlan Conv2dBackwardInput(ConvShape s, Slice<float> dy, Slice<float> w, Slice<float> dx)
    {
        const string op = "Conv2dBackwardInput";
        CheckConv(op, s, dx, w, dy);
        if (s.InputLength == 0)
            return OpPlan.Empty(op, s.ToString());
        var algorithm = options.BackwardInputAlgorithm;
        if (algorithm == ConvAlgorithm.Naive)
            return PerElement(op, s.ToString(), Kernel(nameof(Conv2dKernels.BackwardInputNaive)), s.InputLength);
        if (s.Stride > 1 && options.BackwardInputByPhase)
        {
            // Phase (qh, qw): M = Cin, N = batch PH PW, K = Cout TH TW (Conv2dKernels.BackwardInputPhaseGemm)
            var launches = new List<KernelLaunch>();
            for (int qh = 0; qh < s.Stride; qh++)
                for (int qw = 0; qw < s.Stride; qw++)
                {
                    var (ph, th) = PhaseExtent(s.H, s.K, s.Stride, s.Pad, qh);
                    var (pw, tw) = PhaseExtent(s.W, s.K, s.Stride, s.Pad, qw);
                    // A phase holding no input pixels (an input smaller than the stride) has nothing to write.
                    if ((long)s.N * ph * pw > 0)
                        launches.Add(Gemm(op, s, algorithm, nameof(Conv2dKernels.BackwardInputPhaseGemm),
                            s.Cin, (long)s.N * ph * pw, (long)s.Cout * th * tw, 1) with { Phase = qh * s.Stride + qw });
                }
            return new(op, s.ToString(), launches);
        }
        // M = Cin, N = batch H W, K = Cout K K (Conv2dKernels.BackwardInputGemm)
        return new(op, s.ToString(), [Gemm(op, s, algorithm, nameof(Conv2dKernels.BackwardInputGemm),
            s.Cin, (long)s.N * s.H * s.W, (long)s.Cout * s.K * s.K, 1)]);
    }

    /// <summary>One GEMM writing dw, or a GEMM in splits writing partial sums to scratch and SumSplits adding them into dw.</summary>
    public OpPlan Conv2dBackwardWeight(ConvShape s, Slice<float> x, Slice<float> dy, Slice<float> dw)
    {
        const string op = "Conv2dBackwardWeight";
        CheckConv(op, s, x, dw, dy);
        if (s.WeightLength == 0)
            return OpPlan.Empty(op, s.ToString());
        var algorithm = options.BackwardWeightAlgorithm;
        if (algorithm == ConvAlgorithm.Naive)
            return PerElement(op, s.ToString(), Kernel(nameof(Conv2dKernels.BackwardWeightNaive)), s.WeightLength);
        // M = Cout, N = Cin K K, K = batch OH OW (Conv2dKernels.BackwardWeightGemm)
        int m = s.Cout, n = s.Cin * s.K * s.K;
        long k = (long)s.N * s.OutH * s.OutW;
        int splits = WeightGradientSplits(algorithm, m, n, k);
        var gemm = Gemm(op, s, algorithm, nameof(Conv2dKernels.BackwardWeightGemm), m, n, k, splits);
        if (splits == 1)
            return new(op, s.ToString(), [gemm]);
        long partials = splits * s.WeightLength;
        Require(partials < IndexLimit, $"{op} {s}: {splits} splits x {s.WeightLength} weights = {partials} partial sums reach 2^31");
        return new(op, s.ToString(), [gemm, new(Kernel(nameof(Conv2dKernels.SumSplits)), new((int)s.WeightLength), null)], partials);
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
            : Math.Min(Math.Max(1, kTiles / 16), (targetGroups + gx * gy - 1) / (gx * gy));
        long splits = Math.Clamp(wanted, 1, Math.Max(1, Math.Min(kTiles, DeviceLimits.MaxGridYZ)));
        long tilesPerSplit = Math.Max(1, (kTiles + splits - 1) / splits);
        return (int)Math.Max(1, (kTiles + tilesPerSplit - 1) / tilesPerSplit);
    }

    /// <summary>
    /// The launch of one implicit GEMM C (m x n) = A (m x k) B (k x n) in <paramref name="splits"/> pieces of K: grid
    /// (ceil(n / TileN), ceil(m / TileM), splits), argument kPerSplit. Checks that the largest index the kernel forms fits in int:
    /// a tile's rows and columns run up to the next multiple of the tile, a split's k range up to splits x kPerSplit and a k step
    /// one tile beyond.
    /// </summary>
    private KernelLaunch Gemm(string op, ConvShape s, ConvAlgorithm algorithm, string operands, int m, long n, long k, int splits)
    {
        var tile = GemmTile.Of(algorithm);
        long kTiles = (k + tile.K - 1) / tile.K;
        long kPerSplit = (kTiles + splits - 1) / splits * tile.K;
        long gx = (n + tile.N - 1) / tile.N, gy = ((long)m + tile.M - 1) / tile.M;
        Require(gx * tile.N < IndexLimit, $"{op} {s}: the GEMM's N = {n} columns (rounded up to whole {tile.N}-column tiles) reach 2^31");
        Require(gy * tile.M < IndexLimit, $"{op} {s}: the GEMM's M = {m} rows reach 2^31");
        Require(splits * kPerSplit + tile.K < IndexLimit, $"{op} {s}: the GEMM's K = {k} (in {splits} splits of {kPerSplit}) reaches 2^31");
        Require(gx <= DeviceLimits.MaxGridX, $"{op} {s}: {gx} column tiles exceed the grid's x limit");
        var launch = new KernelLaunch(GemmKernel(algorithm, operands), new((int)gx, (int)gy, splits), new(tile.Threads), (int)kPerSplit);
        CheckGroups(op, s.ToString(), launch);
        return launch;
    }

    /// <summary>
    /// Rows (or columns) of one stride phase q of the input and the kernel taps that reach them, as
    /// <see cref="Conv2dKernels.BackwardInputPhaseGemm"/> computes them: i0 = (q - P) mod S, pixels ceil((H - i0) / S),
    /// taps ceil((K - q) / S).
    /// </summary>
    private static (int Pixels, int Taps) PhaseExtent(int size, int k, int stride, int pad, int q)
    {
        int i0 = ((q - pad) % stride + stride) % stride;
        return (i0 < size ? (size - i0 + stride - 1) / stride : 0, q < k ? (k - q + stride - 1) / stride : 0);
    }

    /// <summary>
    /// The shape and the slices of a convolution, and every length it indexes with int: x, w, y (each index the kernels form into
    /// them is below its length, and the GEMMs' N = batch OH OW and batch H W are at most the output and input lengths).
    /// </summary>
    private static void CheckConv(string op, ConvShape s, Slice<float> x, Slice<float> w, Slice<float> y)
    {
        Require(s.N >= 0 && s.Cin > 0 && s.Cout > 0 && s.H > 0 && s.W > 0 && s.K > 0 && s.Stride > 0 && s.Pad >= 0 && s.OutH > 0 && s.OutW > 0,
            $"{op}: invalid shape {s}");
        Require(x.Length == s.InputLength, $"{op}: input slice has {x.Length} elements, {s} needs {s.InputLength}");
        Require(w.Length == s.WeightLength, $"{op}: weight slice has {w.Length} elements, {s} needs {s.WeightLength}");
        Require(y.Length == s.OutputLength, $"{op}: output slice has {y.Length} elements, {s} needs {s.OutputLength}");
        Require(s.InputLength < IndexLimit, $"{op} {s}: the input, N*Cin*H*W = {s.InputLength}, reaches 2^31 (32-bit indexing); lower --batch-size");
        Require(s.OutputLength < IndexLimit, $"{op} {s}: the output, N*Cout*OH*OW = {s.OutputLength}, reaches 2^31 (32-bit indexing); lower --batch-size");
        Require(s.WeightLength < IndexLimit, $"{op} {s}: the weight, Cout*Cin*K*K = {s.WeightLength}, reaches 2^31 (32-bit indexing)");
    }

    // ---- batch normalisation ------------------------------------------------------------------

    /// <summary>
    /// Statistics (one group per channel, or chunks per channel and a merge), then the normalisation, one thread per element.
    /// </summary>
    public OpPlan BatchNormTrainForward(BatchNormShape s, Slice<float> x, Slice<float> y, params ReadOnlySpan<Slice<float>> perChannel)
    {
        const string op = "BatchNormTrainForward";
        CheckBatchNorm(op, s, x, y, perChannel);
        if (s.Length == 0)
            return OpPlan.Empty(op, s.ToString());
        return Reduction(op, s, nameof(BatchNormKernels.TrainStatistics), nameof(BatchNormKernels.ChunkStatistics),
            nameof(BatchNormKernels.MergeStatistics), nameof(BatchNormKernels.TrainNormalize));
    }

    public OpPlan BatchNormEvalForward(BatchNormShape s, Slice<float> x, Slice<float> y, params ReadOnlySpan<Slice<float>> perChannel)
    {
        const string op = "BatchNormEvalForward";
        CheckBatchNorm(op, s, x, y, perChannel);
        return s.Length == 0 ? OpPlan.Empty(op, s.ToString()) : PerElement(op, s.ToString(), BatchNorm(nameof(BatchNormKernels.EvalForward)), s.Length);
    }

    public OpPlan BatchNormBackward(BatchNormShape s, Slice<float> x, Slice<float> dy, Slice<float> dx, params ReadOnlySpan<Slice<float>> perChannel)
    {
        const string op = "BatchNormBackward";
        CheckBatchNorm(op, s, x, dy, perChannel);
        Require(dx.Length == s.Length, $"{op}: dx has {dx.Length} elements, {s} needs {s.Length}");
        if (s.Length == 0)
            return OpPlan.Empty(op, s.ToString());
        return Reduction(op, s, nameof(BatchNormKernels.BackwardReduce), nameof(BatchNormKernels.ChunkBackwardReduce),
            nameof(BatchNormKernels.MergeBackwardReduce), nameof(BatchNormKernels.BackwardInput));
    }

    /// <summary>Evaluation mode with gradients: the running statistics as saved statistics, one thread per channel.</summary>
    public OpPlan BatchNormEvalStatistics(int channels, params ReadOnlySpan<Slice<float>> perChannel)
    {
        const string op = "BatchNormEvalStatistics";
        Require(channels > 0, $"{op}: {channels} channels");
        foreach (var c in perChannel)
            Require(c.Length == channels, $"{op}: a per-channel slice has {c.Length} elements, not {channels}");
        return PerElement(op, $"C {channels}", BatchNorm(nameof(BatchNormKernels.EvalStatistics)), channels);
    }

    /// <summary>The training backward's dgamma/dbeta reductions, then dx = gamma invStd dy, one thread per element.</summary>
    public OpPlan BatchNormEvalBackward(BatchNormShape s, Slice<float> x, Slice<float> dy, Slice<float> dx, params ReadOnlySpan<Slice<float>> perChannel)
    {
        const string op = "BatchNormEvalBackward";
        CheckBatchNorm(op, s, x, dy, perChannel);
        Require(dx.Length == s.Length, $"{op}: dx has {dx.Length} elements, {s} needs {s.Length}");
        if (s.Length == 0)
            return OpPlan.Empty(op, s.ToString());
        return Reduction(op, s, nameof(BatchNormKernels.BackwardReduce), nameof(BatchNormKernels.ChunkBackwardReduce),
            nameof(BatchNormKernels.MergeBackwardReduce), nameof(BatchNormKernels.EvalBackwardInput));
    }

    /// <summary>
    /// A batch-norm pass: the per-channel reduction (grid C of ReductionGroupSize threads), or with chunks the chunked reduction
    /// (grid (chunks, C), argument chunkLength) into 2 C chunks floats of scratch and the merge over C; then the elementwise kernel.
    /// </summary>
    private OpPlan Reduction(string op, BatchNormShape s, string perChannel, string perChunk, string merge, string elementwise)
    {
        Require(s.Length < IndexLimit, $"{op} {s}: N*C*HW = {s.Length} reaches 2^31 (32-bit indexing); lower --batch-size");
        var (chunks, chunkLength) = BatchNormChunking(s);
        var launches = new List<KernelLaunch>();
        long scratch = 0;
        if (chunks == 1)
            launches.Add(new(BatchNorm(perChannel), new(s.C), new(ReductionGroupSize)));
        else
        {
            scratch = 2L * s.C * chunks;
            launches.Add(new(BatchNorm(perChunk), new(chunks, s.C), new(ReductionGroupSize, 1), chunkLength));
            launches.Add(new(BatchNorm(merge), new(s.C), null));
        }
        launches.Add(new(BatchNorm(elementwise), new((int)s.Length), null));
        foreach (var l in launches)
            CheckGroups(op, s.ToString(), l);
        return new(op, s.ToString(), launches, scratch);
    }

    /// <summary>
    /// Chunks per channel of the batch-norm reductions and the values per chunk (the last chunk may be shorter; none is empty).
    /// Automatic: enough groups to fill the device twice over, each thread of a chunk at least 4 values; 1 when the channels fill it.
    /// </summary>
    internal (int Chunks, int ChunkLength) BatchNormChunking(BatchNormShape s)
    {
        long count = (long)s.N * s.HW;
        long wanted = options.BatchNormChunks > 0
            ? Math.Min(options.BatchNormChunks, count)
            : Math.Min((targetReductionGroups + s.C - 1) / s.C, count / (4L * ReductionGroupSize));
        long chunks = Math.Clamp(wanted, 1, DeviceLimits.MaxGridYZ);
        long length = (count + chunks - 1) / chunks;
        return ((int)((count + length - 1) / length), (int)length);
    }

    private static void CheckBatchNorm(string op, BatchNormShape s, Slice<float> x, Slice<float> y, ReadOnlySpan<Slice<float>> perChannel)
    {
        Require(s.N >= 0 && s.C > 0 && s.HW > 0, $"{op}: invalid shape {s}");
        Require(x.Length == s.Length && y.Length == s.Length, $"{op}: x and y must hold {s.Length} elements ({s})");
        foreach (var c in perChannel)
            Require(c.Length == s.C, $"{op}: a per-channel slice has {c.Length} elements, not {s.C}");
    }

    // ---- elementwise and head -----------------------------------------------------------------

    public OpPlan ReluForward(Slice<float> x, Slice<float> y)
    {
        Require(x.Length == y.Length, "ReluForward: x and y differ in length");
        return PerElement("ReluForward", $"[{x.Length}]", nameof(ReluKernels) + "." + nameof(ReluKernels.Forward), x.Length);
    }

    public OpPlan ReluBackward(Slice<float> y, Slice<float> dy, Slice<float> dx)
    {
        Require(y.Length == dy.Length && dy.Length == dx.Length, "ReluBackward: y, dy and dx differ in length");
        return PerElement("ReluBackward", $"[{y.Length}]", nameof(ReluKernels) + "." + nameof(ReluKernels.Backward), y.Length);
    }

    public OpPlan Add(Slice<float> a, Slice<float> b, Slice<float> y)
    {
        Require(a.Length == b.Length && b.Length == y.Length, "Add: a, b and y differ in length");
        return PerElement("Add", $"[{a.Length}]", nameof(ElementwiseKernels) + "." + nameof(ElementwiseKernels.Add), a.Length);
    }

    public OpPlan AddScaledSign(Slice<float> g, Slice<float> p)
    {
        Require(g.Length == p.Length, "AddScaledSign: g and p differ in length");
        return PerElement("AddScaledSign", $"[{g.Length}]", nameof(ElementwiseKernels) + "." + nameof(ElementwiseKernels.AddScaledSign), g.Length);
    }

    public OpPlan Multiply(Slice<float> a, Slice<float> b, Slice<float> y)
    {
        Require(a.Length == b.Length && b.Length == y.Length, "Multiply: a, b and y differ in length");
        return PerElement("Multiply", $"[{a.Length}]", nameof(ElementwiseKernels) + "." + nameof(ElementwiseKernels.Multiply), a.Length);
    }

    public OpPlan GlobalAvgPoolForward(int n, int c, int hw, Slice<float> x, Slice<float> y)
    {
        Require(x.Length == (long)n * c * hw && y.Length == (long)n * c && hw > 0, "GlobalAvgPoolForward: wrong lengths");
        Require(x.Length < IndexLimit, $"GlobalAvgPoolForward: x of {x.Length} elements reaches 2^31");
        return PerElement("GlobalAvgPoolForward", $"(N {n}, {c}, {hw})", nameof(PoolKernels) + "." + nameof(PoolKernels.GlobalAvgForward), y.Length);
    }

    public OpPlan GlobalAvgPoolBackward(int n, int c, int hw, Slice<float> dy, Slice<float> dx)
    {
        Require(dx.Length == (long)n * c * hw && dy.Length == (long)n * c && hw > 0, "GlobalAvgPoolBackward: wrong lengths");
        return PerElement("GlobalAvgPoolBackward", $"(N {n}, {c}, {hw})", nameof(PoolKernels) + "." + nameof(PoolKernels.GlobalAvgBackward), dx.Length);
    }

    public OpPlan LinearForward(LinearShape s, Slice<float> x, Slice<float> w, Slice<float> b, Slice<float> y)
    {
        CheckLinear("LinearForward", s, x, w, b, y);
        return PerElement("LinearForward", s.ToString(), nameof(LinearKernels) + "." + nameof(LinearKernels.Forward), y.Length);
    }

    /// <summary>dx, dw and db, one thread per element of each (those that are not empty).</summary>
    public OpPlan LinearBackward(LinearShape s, Slice<float> x, Slice<float> w, Slice<float> dy, Slice<float> dx, Slice<float> dw, Slice<float> db)
    {
        CheckLinear("LinearBackward", s, x, w, db, dy);
        Require(dx.Length == x.Length && dw.Length == w.Length, "LinearBackward: dx or dw has the wrong length");
        var launches = new List<KernelLaunch>();
        foreach (var (kernel, length) in new[]
                 {
                     (nameof(LinearKernels.BackwardInput), dx.Length), (nameof(LinearKernels.BackwardWeight), dw.Length),
                     (nameof(LinearKernels.BackwardBias), db.Length),
                 })
            if (length > 0)
                launches.Add(new(nameof(LinearKernels) + "." + kernel, new((int)length), null));
        return new("LinearBackward", s.ToString(), launches);
    }

    private static void CheckLinear(string op, LinearShape s, Slice<float> x, Slice<float> w, Slice<float> b, Slice<float> y)
    {
        Require(s.N >= 0 && s.In > 0 && s.Out > 0, $"{op}: invalid shape {s}");
        Require(x.Length == (long)s.N * s.In, $"{op}: x must hold {(long)s.N * s.In} elements");
        Require(w.Length == (long)s.Out * s.In, $"{op}: w must hold {(long)s.Out * s.In} elements");
        Require(b.Length == s.Out, $"{op}: b must hold {s.Out} elements");
        Require(y.Length == (long)s.N * s.Out, $"{op}: y must hold {(long)s.N * s.Out} elements");
        Require(x.Length < IndexLimit && w.Length < IndexLimit && y.Length < IndexLimit, $"{op} {s}: a tensor reaches 2^31 elements");
    }

    /// <summary>Per-sample losses into scratch (one thread per sample), then their mean by one group.</summary>
    public OpPlan SoftmaxNllLoss(int n, int classes, Slice<float> logits, Slice<int> labels, Slice<float> loss, Slice<float> dlogits)
    {
        const string op = "SoftmaxNllLoss";
        Require(n > 0 && classes > 0, $"{op}: empty batch");
        Require(logits.Length == (long)n * classes && dlogits.Length == logits.Length, $"{op}: logits and dlogits must be (N, classes)");
        Require(labels.Length == n && loss.Length >= 1, $"{op}: labels must be (N) and loss at least one element");
        Require(logits.Length < IndexLimit, $"{op}: logits of {logits.Length} elements reach 2^31");
        var launches = new KernelLaunch[]
        {
            new(nameof(LossKernels) + "." + nameof(LossKernels.SoftmaxNllPerSample), new(n), null),
            new(nameof(ReductionKernels) + "." + nameof(ReductionKernels.FinalSum), new(1), new(ReductionGroupSize)),
        };
        CheckGroups(op, $"(N {n}, {classes})", launches[1]);
        return new(op, $"(N {n}, {classes})", launches, n);
    }

    /// <summary>
    /// Per-sample KL divergences into scratch and the student's gradient (one thread per sample), then their sum times T^2 / N
    /// by one group.
    /// </summary>
    public OpPlan KlDivergence(int n, int classes, Slice<float> studentLogits, Slice<float> teacherLogits, float temperature,
        Slice<float> loss, Slice<float> dStudentLogits)
    {
        const string op = "KlDivergence";
        string shape = $"(N {n}, {classes}) T {temperature}";
        Require(n > 0 && classes > 0, $"{op}: empty batch {shape}");
        Require(temperature > 0 && float.IsFinite(temperature), $"{op}: the temperature must be finite and > 0, not {temperature}");
        Require(studentLogits.Length == (long)n * classes && teacherLogits.Length == studentLogits.Length && dStudentLogits.Length == studentLogits.Length,
            $"{op}: studentLogits, teacherLogits and dStudentLogits must be (N, classes) {shape}");
        Require(loss.Length >= 1, $"{op}: loss needs one element");
        Require(studentLogits.Length < IndexLimit, $"{op}: logits of {studentLogits.Length} elements reach 2^31");
        var launches = new KernelLaunch[]
        {
            new(nameof(LossKernels) + "." + nameof(LossKernels.KlDivergencePerSample), new(n), null),
            new(nameof(ReductionKernels) + "." + nameof(ReductionKernels.FinalSum), new(1), new(ReductionGroupSize)),
        };
        CheckGroups(op, shape, launches[1]);
        return new(op, shape, launches, n);
    }

    // ---- optimiser ----------------------------------------------------------------------------

    public OpPlan CombineGradients(Slice<float> gRetain, Slice<float> gForget, Slice<float> g)
    {
        Require(gRetain.Length == gForget.Length && gForget.Length == g.Length, "CombineGradients: lengths differ");
        return PerElement("CombineGradients", $"[{g.Length}]", nameof(ElementwiseKernels) + "." + nameof(ElementwiseKernels.CombineGradients), g.Length);
    }

    /// <summary>
    /// Partial sums of squares by up to 1,024 groups (a grid-stride loop, about 8 values per thread) into scratch, then one group
    /// adds them up; an empty g fills the partials with zeros instead.
    /// </summary>
    public OpPlan SumOfSquares(Slice<float> g, Slice<float> result)
    {
        const string op = "SumOfSquares";
        Require(result.Length >= 1, $"{op}: result needs one element");
        Require(g.Length < IndexLimit, $"{op}: a buffer of {g.Length} elements reaches 2^31 (32-bit indexing)");
        long perGroup = (long)ReductionGroupSize * 8;
        int groups = (int)Math.Clamp((g.Length + perGroup - 1) / perGroup, 1, Math.Min(1024, Math.Max(1, targetGroups)));
        var launches = new KernelLaunch[]
        {
            g.Length > 0
                ? new(nameof(ReductionKernels) + "." + nameof(ReductionKernels.PartialSums), new(groups), new(ReductionGroupSize))
                : new(nameof(ElementwiseKernels) + "." + nameof(ElementwiseKernels.Fill), new(groups), null),
            new(nameof(ReductionKernels) + "." + nameof(ReductionKernels.FinalSum), new(1), new(ReductionGroupSize)),
        };
        foreach (var l in launches)
            CheckGroups(op, $"[{g.Length}]", l);
        return new(op, $"[{g.Length}]", launches, groups);
    }

    public OpPlan ClipAndSgdStep(Slice<float> p, Slice<float> g, Slice<float> m, Slice<float> sumOfSquares, Slice<float>? updateMask = null)
    {
        Require(p.Length == g.Length && g.Length == m.Length, "ClipAndSgdStep: p, g and m differ in length");
        Require(updateMask is not { } u || u.Length == p.Length, "ClipAndSgdStep: the update mask and p differ in length");
        Require(sumOfSquares.Length >= 1, "ClipAndSgdStep: sumOfSquares needs one element");
        string kernel = updateMask is null ? nameof(OptimizerKernels.ClipAndSgdStep) : nameof(OptimizerKernels.MaskedClipAndSgdStep);
        return PerElement("ClipAndSgdStep", $"[{p.Length}]{(updateMask is null ? "" : " masked")}", nameof(OptimizerKernels) + "." + kernel, p.Length);
    }

    // ---- helpers ------------------------------------------------------------------------------

    /// <summary>One implicitly grouped launch over <paramref name="elements"/> (none when there are none).</summary>
    private static OpPlan PerElement(string op, string shape, string kernel, long elements)
    {
        Require(elements < IndexLimit, $"{op} {shape}: {elements} elements reach 2^31 (32-bit indexing); lower --batch-size");
        return elements == 0 ? OpPlan.Empty(op, shape) : new(op, shape, [new(kernel, new((int)elements), null)]);
    }

    /// <summary>A launch within CUDA's grid limits and this device's group size.</summary>
    private void CheckGroups(string op, string shape, KernelLaunch launch)
    {
        var grid = launch.Grid;
        Require(grid.X >= 1 && grid.Y >= 1 && grid.Z >= 1, $"{op} {shape}: {launch.Kernel} has an empty grid {grid}");
        Require(grid.Y <= DeviceLimits.MaxGridYZ && grid.Z <= DeviceLimits.MaxGridYZ,
            $"{op} {shape}: {launch.Kernel}'s grid {grid} exceeds CUDA's 65,535 in y or z");
        if (launch.Group is { } group)
        {
            int max = Math.Min(DeviceLimits.MaxThreadsPerGroupCuda, device.MaxThreadsPerGroup);
            Require(group.X >= 1 && group.Y >= 1 && group.Z >= 1 && group.Count <= max,
                $"{op} {shape}: {launch.Kernel}'s group {group} is not 1 to {max} threads");
            Require(group.Count % device.WarpSize == 0, $"{op} {shape}: {launch.Kernel}'s group {group} is not whole warps of {device.WarpSize}");
        }
    }

    private static string Kernel(string method) => nameof(Conv2dKernels) + "." + method;

    private static string BatchNorm(string method) => nameof(BatchNormKernels) + "." + method;

    /// <summary>The GEMM kernel of an algorithm for an operand type, named as Class.Method&lt;Operands&gt;.</summary>
    private string GemmKernel(ConvAlgorithm algorithm, string operands) => algorithm switch
    {
        ConvAlgorithm.Tiled => $"{nameof(ImplicitGemm)}.{nameof(ImplicitGemm.Tiled)}<{operands}>",
        ConvAlgorithm.Wide => $"{nameof(ImplicitGemmWide)}.{nameof(ImplicitGemmWide.Tiled128)}<{operands}>",
        ConvAlgorithm.TensorCoreTf32 => device.Cuda
            ? $"{nameof(ImplicitGemmTensorCore)}.{nameof(ImplicitGemmTensorCore.Tf32)}<{operands}>"
            : $"{nameof(ImplicitGemmTensorCore)}.{nameof(ImplicitGemmTensorCore.Tf32Emulated)}<{operands}>",
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "not a GEMM algorithm"),
    };

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
        public (long X, long Y) Counts(long m, long n) => ((n + N - 1) / N, (m + M - 1) / M);
    }

    private static void Require(bool condition, string message)
    {
        if (!condition)
            throw new ArgumentException(message);
    }
}
