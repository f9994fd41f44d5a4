using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Ilgpu;

/// <summary>
/// The ILGPU path with no device: every op makes the same <see cref="LaunchPlanner"/> call that <see cref="IlgpuOps"/> makes
/// before it launches (so the same argument checks, grids, splits, chunks and scratch sizes) and records the plan instead of
/// launching it. Buffers hold no memory (downloads read zeros), so a whole training step of the full-width network at batch
/// 2500 is planned in well under a second; <see cref="PeakAllocatedBytes"/> is what the real run would allocate, scratch
/// included. For tests and dry runs of what a GPU run will do.
/// </summary>
public sealed class PlanningOps : IOps
{
    private readonly List<OpPlan> plans = [];
    private long allocatedBytes, peakAllocatedBytes, scratchBytes;

    public PlanningOps(DeviceLimits device, IlgpuOpsOptions? options = null)
        => Planner = new LaunchPlanner(device, options ?? new IlgpuOpsOptions());

    public LaunchPlanner Planner { get; }

    /// <summary>Every op's plan so far, in call order.</summary>
    public IReadOnlyList<OpPlan> Plans => plans;

    public string Name => $"plan only: {Planner.Device.Multiprocessors} multiprocessors of {Planner.Device.MaxThreadsPerMultiprocessor} threads";
    public long AllocatedBytes => allocatedBytes + scratchBytes;
    public long PeakAllocatedBytes => peakAllocatedBytes;

    private void Record(OpPlan plan)
    {
        plans.Add(plan);
        // IlgpuOps keeps one scratch buffer, grown to the largest request (at least 1,024 floats).
        long bytes = 4 * Math.Max(plan.ScratchFloats, 1024);
        if (plan.ScratchFloats > 0 && bytes > scratchBytes)
        {
            scratchBytes = bytes;
            peakAllocatedBytes = Math.Max(peakAllocatedBytes, AllocatedBytes);
        }
    }

    public DeviceBuffer<T> Allocate<T>(long length) where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        long bytes = length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        allocatedBytes += bytes;
        peakAllocatedBytes = Math.Max(peakAllocatedBytes, AllocatedBytes);
        return new PlannedBuffer<T>(length, () => allocatedBytes -= bytes);
    }

    public void Upload<T>(ReadOnlySpan<T> source, Slice<T> destination) where T : unmanaged
    {
        if (source.Length != destination.Length)
            throw new ArgumentException($"Upload of {source.Length} elements into a slice of {destination.Length}.");
    }

    /// <summary>Writes zeros: nothing was computed.</summary>
    public void Download<T>(Slice<T> source, Span<T> destination) where T : unmanaged
    {
        if (source.Length != destination.Length)
            throw new ArgumentException($"Download of a slice of {source.Length} elements into {destination.Length}.");
        destination.Clear();
    }

    public void Fill(Slice<float> destination, float value) => Record(Planner.Fill(destination));

    public void Synchronize()
    {
    }

    public void LoadImages(int n, int h, int w, Slice<byte> pixels, Slice<int>? augment, int pad,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> std, Slice<float> x)
        => Record(Planner.LoadImages(n, h, w, pixels, augment, mean, std, x));

    public void Conv2dForward(ConvShape s, Slice<float> x, Slice<float> w, Slice<float> y) => Record(Planner.Conv2dForward(s, x, w, y));

    public void Conv2dBackwardInput(ConvShape s, Slice<float> dy, Slice<float> w, Slice<float> dx) => Record(Planner.Conv2dBackwardInput(s, dy, w, dx));

    public void Conv2dBackwardWeight(ConvShape s, Slice<float> x, Slice<float> dy, Slice<float> dw) => Record(Planner.Conv2dBackwardWeight(s, x, dy, dw));

    public void BatchNormTrainForward(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta,
        Slice<float> runningMean, Slice<float> runningVar, float momentum, float eps,
        Slice<float> y, Slice<float> saveMean, Slice<float> saveInvStd)
        => Record(Planner.BatchNormTrainForward(s, x, y, gamma, beta, runningMean, runningVar, saveMean, saveInvStd));

    public void BatchNormEvalForward(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta,
        Slice<float> runningMean, Slice<float> runningVar, float eps, Slice<float> y)
        => Record(Planner.BatchNormEvalForward(s, x, y, gamma, beta, runningMean, runningVar));

    public void BatchNormApply(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta,
        Slice<float> saveMean, Slice<float> saveInvStd, Slice<float> y)
        => Record(Planner.BatchNormApply(s, x, y, gamma, beta, saveMean, saveInvStd));

    public void BatchNormBackward(BatchNormShape s, Slice<float> x, Slice<float> dy, Slice<float> gamma,
        Slice<float> saveMean, Slice<float> saveInvStd, Slice<float> dx, Slice<float> dgamma, Slice<float> dbeta)
        => Record(Planner.BatchNormBackward(s, x, dy, dx, gamma, saveMean, saveInvStd, dgamma, dbeta));

    public void BatchNormEvalStatistics(int channels, Slice<float> runningMean, Slice<float> runningVar, float eps,
        Slice<float> saveMean, Slice<float> saveInvStd)
        => Record(Planner.BatchNormEvalStatistics(channels, runningMean, runningVar, saveMean, saveInvStd));

    public void BatchNormEvalBackward(BatchNormShape s, Slice<float> x, Slice<float> dy, Slice<float> gamma,
        Slice<float> saveMean, Slice<float> saveInvStd, Slice<float> dx, Slice<float> dgamma, Slice<float> dbeta)
        => Record(Planner.BatchNormEvalBackward(s, x, dy, dx, gamma, saveMean, saveInvStd, dgamma, dbeta));

    public void ReluForward(Slice<float> x, Slice<float> y) => Record(Planner.ReluForward(x, y));

    public void ReluBackward(Slice<float> y, Slice<float> dy, Slice<float> dx) => Record(Planner.ReluBackward(y, dy, dx));

    public void Add(Slice<float> a, Slice<float> b, Slice<float> y) => Record(Planner.Add(a, b, y));

    public void Multiply(Slice<float> a, Slice<float> b, Slice<float> y) => Record(Planner.Multiply(a, b, y));
    public void AddScaledSign(Slice<float> g, Slice<float> p, float scale) => Record(Planner.AddScaledSign(g, p));

    public void GlobalAvgPoolForward(int n, int c, int hw, Slice<float> x, Slice<float> y) => Record(Planner.GlobalAvgPoolForward(n, c, hw, x, y));

    public void GlobalAvgPoolBackward(int n, int c, int hw, Slice<float> dy, Slice<float> dx) => Record(Planner.GlobalAvgPoolBackward(n, c, hw, dy, dx));

    public void LinearForward(LinearShape s, Slice<float> x, Slice<float> w, Slice<float> b, Slice<float> y) => Record(Planner.LinearForward(s, x, w, b, y));

    public void LinearBackward(LinearShape s, Slice<float> x, Slice<float> w, Slice<float> dy, Slice<float> dx, Slice<float> dw, Slice<float> db)
        => Record(Planner.LinearBackward(s, x, w, dy, dx, dw, db));

    public void SoftmaxNllLoss(int n, int classes, Slice<float> logits, Slice<int> labels, float scale, Slice<float> loss, Slice<float> dlogits)
        => Record(Planner.SoftmaxNllLoss(n, classes, logits, labels, loss, dlogits));

    public void KlDivergence(int n, int classes, Slice<float> studentLogits, Slice<float> teacherLogits, float temperature, float scale,
        Slice<float> loss, Slice<float> dStudentLogits, bool accumulate)
        => Record(Planner.KlDivergence(n, classes, studentLogits, teacherLogits, temperature, loss, dStudentLogits));

    public void CombineGradients(Slice<float> gRetain, Slice<float> gForget, float retainScale, float forgetScale, Slice<float> g)
        => Record(Planner.CombineGradients(gRetain, gForget, g));

    public void SumOfSquares(Slice<float> g, Slice<float> result) => Record(Planner.SumOfSquares(g, result));

    public void ClipAndSgdStep(Slice<float> p, Slice<float> g, Slice<float> m, Slice<float> sumOfSquares, SgdUpdate update, bool firstStep,
        Slice<float>? updateMask = null)
        => Record(Planner.ClipAndSgdStep(p, g, m, sumOfSquares, updateMask));

    public void Dispose()
    {
    }

    /// <summary>A buffer of a length and no memory.</summary>
    private sealed class PlannedBuffer<T>(long length, Action released) : DeviceBuffer<T>(length) where T : unmanaged
    {
        private bool disposed;

        public override void Dispose()
        {
            if (!disposed)
                released();
            disposed = true;
        }
    }
}
