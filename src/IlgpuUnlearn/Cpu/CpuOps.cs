using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Cpu;

/// <summary>
/// The plain C# implementation of <see cref="IOps"/>: host arrays, SIMD (System.Numerics.Tensors, Vector512) and
/// all cores. Every call runs to completion before it returns, so <see cref="Synchronize"/> has nothing to wait for.
/// This class only checks arguments and dispatches; the math lives in one file per op family
/// (<see cref="CpuConv"/>, <see cref="CpuBatchNorm"/>, <see cref="CpuElementwise"/>, <see cref="CpuHead"/>, <see cref="CpuOptimizer"/>).
/// </summary>
public sealed unsafe class CpuOps : IOps
{
    private long _allocatedBytes;
    private long _peakAllocatedBytes;
    private readonly CpuConv _conv = new();

    public string Name =>
        $"cpu ({Environment.ProcessorCount} threads, {(Vector512.IsHardwareAccelerated ? "AVX-512" : Vector256.IsHardwareAccelerated ? "AVX2" : "SIMD")})";

    public long AllocatedBytes => Interlocked.Read(ref _allocatedBytes);
    public long PeakAllocatedBytes => Interlocked.Read(ref _peakAllocatedBytes);

    internal void OnAllocated(long bytes)
    {
        long now = Interlocked.Add(ref _allocatedBytes, bytes);
        long peak;
        while (now > (peak = Interlocked.Read(ref _peakAllocatedBytes)))
            if (Interlocked.CompareExchange(ref _peakAllocatedBytes, now, peak) == peak) break;
    }

    internal void OnReleased(long bytes) => Interlocked.Add(ref _allocatedBytes, -bytes);

    /// <summary>The elements of a slice of a <see cref="CpuBuffer{T}"/>.</summary>
    public static Span<T> Span<T>(Slice<T> slice) where T : unmanaged
    {
        if (slice.Buffer is not CpuBuffer<T> buffer)
            throw new ArgumentException($"a {slice.Buffer.GetType().Name} is not a buffer of the CPU ops", nameof(slice));
        return buffer.Span(slice.Offset, slice.Length);
    }

    /// <summary>
    /// The address of a slice's first element. Valid while the buffer lives: CPU buffers sit on the pinned object heap.
    /// </summary>
    internal static unsafe T* Pointer<T>(Slice<T> slice) where T : unmanaged
        => (T*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(Span(slice)));

    // ---- memory ---------------------------------------------------------------------------------

    public DeviceBuffer<T> Allocate<T>(long length) where T : unmanaged => new CpuBuffer<T>(length, this);

    public void Upload<T>(ReadOnlySpan<T> source, Slice<T> destination) where T : unmanaged
    {
        RequireLength(destination.Length, source.Length, nameof(destination));
        source.CopyTo(Span(destination));
    }

    public void Download<T>(Slice<T> source, Span<T> destination) where T : unmanaged
    {
        RequireLength(destination.Length, source.Length, nameof(destination));
        Span(source).CopyTo(destination);
    }

    public void Fill(Slice<float> destination, float value) => CpuElementwise.Fill(Span(destination), value);

    public void Synchronize() { }

    // ---- input ----------------------------------------------------------------------------------

    public void LoadImages(int n, int h, int w, Slice<byte> pixels, Slice<int>? augment, int pad,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> std, Slice<float> x)
    {
        if (mean.Length is 0 || std.Length != mean.Length) throw new ArgumentException("mean and std hold one value per image channel");
        long length = (long)n * mean.Length * h * w;
        RequireLength(pixels.Length, length, nameof(pixels));
        RequireLength(x.Length, length, nameof(x));
        if (augment is { } a) RequireLength(a.Length, (long)n * 3, nameof(augment));
        CpuElementwise.LoadImages(n, h, w, Span(pixels), augment is { } aug ? Span(aug) : default, augment.HasValue, pad, mean, std, Span(x));
    }

    // ---- convolution ----------------------------------------------------------------------------

    public void Conv2dForward(ConvShape s, Slice<float> x, Slice<float> w, Slice<float> y)
    {
        RequireConv(s, x.Length, w.Length, y.Length);
        _conv.Forward(s, x, w, y);
    }

    public void Conv2dBackwardInput(ConvShape s, Slice<float> dy, Slice<float> w, Slice<float> dx)
    {
        RequireConv(s, dx.Length, w.Length, dy.Length);
        _conv.BackwardInput(s, dy, w, dx);
    }

    public void Conv2dBackwardWeight(ConvShape s, Slice<float> x, Slice<float> dy, Slice<float> dw)
    {
        RequireConv(s, x.Length, dw.Length, dy.Length);
        _conv.BackwardWeight(s, x, dy, dw);
    }

    // ---- batch normalisation --------------------------------------------------------------------

    public void BatchNormTrainForward(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta,
        Slice<float> runningMean, Slice<float> runningVar, float momentum, float eps,
        Slice<float> y, Slice<float> saveMean, Slice<float> saveInvStd)
    {
        RequireLength(x.Length, s.Length, nameof(x));
        RequireLength(y.Length, s.Length, nameof(y));
        foreach (var (slice, name) in new[] { (gamma, nameof(gamma)), (beta, nameof(beta)), (runningMean, nameof(runningMean)),
                     (runningVar, nameof(runningVar)), (saveMean, nameof(saveMean)), (saveInvStd, nameof(saveInvStd)) })
            RequireLength(slice.Length, s.C, name);
        CpuBatchNorm.TrainForward(s, Pointer(x), Pointer(gamma), Pointer(beta), Pointer(runningMean), Pointer(runningVar),
            momentum, eps, Pointer(y), Pointer(saveMean), Pointer(saveInvStd));
    }

    public void BatchNormEvalForward(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta,
        Slice<float> runningMean, Slice<float> runningVar, float eps, Slice<float> y)
    {
        RequireLength(x.Length, s.Length, nameof(x));
        RequireLength(y.Length, s.Length, nameof(y));
        foreach (var (slice, name) in new[] { (gamma, nameof(gamma)), (beta, nameof(beta)), (runningMean, nameof(runningMean)), (runningVar, nameof(runningVar)) })
            RequireLength(slice.Length, s.C, name);
        CpuBatchNorm.EvalForward(s, Pointer(x), Pointer(gamma), Pointer(beta), Pointer(runningMean), Pointer(runningVar), eps, Pointer(y));
    }

    public void BatchNormApply(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta,
        Slice<float> saveMean, Slice<float> saveInvStd, Slice<float> y)
    {
        RequireLength(x.Length, s.Length, nameof(x));
        RequireLength(y.Length, s.Length, nameof(y));
        foreach (var (slice, name) in new[] { (gamma, nameof(gamma)), (beta, nameof(beta)), (saveMean, nameof(saveMean)), (saveInvStd, nameof(saveInvStd)) })
            RequireLength(slice.Length, s.C, name);
        CpuBatchNorm.Apply(s, Pointer(x), Pointer(gamma), Pointer(beta), Pointer(saveMean), Pointer(saveInvStd), Pointer(y));
    }

    public void BatchNormBackward(BatchNormShape s, Slice<float> x, Slice<float> dy, Slice<float> gamma,
        Slice<float> saveMean, Slice<float> saveInvStd, Slice<float> dx, Slice<float> dgamma, Slice<float> dbeta)
    {
        RequireLength(x.Length, s.Length, nameof(x));
        RequireLength(dy.Length, s.Length, nameof(dy));
        RequireLength(dx.Length, s.Length, nameof(dx));
        foreach (var (slice, name) in new[] { (gamma, nameof(gamma)), (saveMean, nameof(saveMean)), (saveInvStd, nameof(saveInvStd)),
                     (dgamma, nameof(dgamma)), (dbeta, nameof(dbeta)) })
            RequireLength(slice.Length, s.C, name);
        CpuBatchNorm.Backward(s, Pointer(x), Pointer(dy), Pointer(gamma), Pointer(saveMean), Pointer(saveInvStd),
            Pointer(dx), Pointer(dgamma), Pointer(dbeta));
    }

    public void BatchNormEvalStatistics(int channels, Slice<float> runningMean, Slice<float> runningVar, float eps,
        Slice<float> saveMean, Slice<float> saveInvStd)
    {
        foreach (var (slice, name) in new[] { (runningMean, nameof(runningMean)), (runningVar, nameof(runningVar)),
                     (saveMean, nameof(saveMean)), (saveInvStd, nameof(saveInvStd)) })
            RequireLength(slice.Length, channels, name);
        CpuBatchNorm.EvalStatistics(channels, Pointer(runningMean), Pointer(runningVar), eps, Pointer(saveMean), Pointer(saveInvStd));
    }

    public void BatchNormEvalBackward(BatchNormShape s, Slice<float> x, Slice<float> dy, Slice<float> gamma,
        Slice<float> saveMean, Slice<float> saveInvStd, Slice<float> dx, Slice<float> dgamma, Slice<float> dbeta)
    {
        RequireLength(x.Length, s.Length, nameof(x));
        RequireLength(dy.Length, s.Length, nameof(dy));
        RequireLength(dx.Length, s.Length, nameof(dx));
        foreach (var (slice, name) in new[] { (gamma, nameof(gamma)), (saveMean, nameof(saveMean)), (saveInvStd, nameof(saveInvStd)),
                     (dgamma, nameof(dgamma)), (dbeta, nameof(dbeta)) })
            RequireLength(slice.Length, s.C, name);
        CpuBatchNorm.EvalBackward(s, Pointer(x), Pointer(dy), Pointer(gamma), Pointer(saveMean), Pointer(saveInvStd),
            Pointer(dx), Pointer(dgamma), Pointer(dbeta));
    }

    public void BatchNormTrainForwardRelu(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta,
        Slice<float> runningMean, Slice<float> runningVar, float momentum, float eps,
        Slice<float> y, Slice<float> saveMean, Slice<float> saveInvStd, Slice<float>? residual)
    {
        RequireLength(x.Length, s.Length, nameof(x));
        RequireLength(y.Length, s.Length, nameof(y));
        if (residual is { } r) RequireLength(r.Length, s.Length, nameof(residual));
        foreach (var (slice, name) in new[] { (gamma, nameof(gamma)), (beta, nameof(beta)), (runningMean, nameof(runningMean)),
                     (runningVar, nameof(runningVar)), (saveMean, nameof(saveMean)), (saveInvStd, nameof(saveInvStd)) })
            RequireLength(slice.Length, s.C, name);
        CpuBatchNorm.TrainForward(s, Pointer(x), Pointer(gamma), Pointer(beta), Pointer(runningMean), Pointer(runningVar),
            momentum, eps, Pointer(y), Pointer(saveMean), Pointer(saveInvStd), residual is { } res ? Pointer(res) : null, relu: true);
    }

    public void BatchNormApplyRelu(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta,
        Slice<float> saveMean, Slice<float> saveInvStd, Slice<float> y, Slice<float>? residual)
    {
        RequireLength(x.Length, s.Length, nameof(x));
        RequireLength(y.Length, s.Length, nameof(y));
        if (residual is { } r) RequireLength(r.Length, s.Length, nameof(residual));
        foreach (var (slice, name) in new[] { (gamma, nameof(gamma)), (beta, nameof(beta)), (saveMean, nameof(saveMean)), (saveInvStd, nameof(saveInvStd)) })
            RequireLength(slice.Length, s.C, name);
        CpuBatchNorm.Apply(s, Pointer(x), Pointer(gamma), Pointer(beta), Pointer(saveMean), Pointer(saveInvStd), Pointer(y),
            residual is { } res ? Pointer(res) : null, relu: true);
    }

    /// <summary>The ReLU mask is recomputed from x (the forward's own test, the same bits as y &gt; 0): y is not read, dy not written.</summary>
    public void BatchNormReluBackward(BatchNormShape s, Slice<float> x, Slice<float> y, Slice<float> dy, Slice<float> gamma, Slice<float> beta,
        Slice<float> saveMean, Slice<float> saveInvStd, Slice<float> dx, Slice<float> dgamma, Slice<float> dbeta)
    {
        RequireLength(x.Length, s.Length, nameof(x));
        RequireLength(y.Length, s.Length, nameof(y));
        RequireLength(dy.Length, s.Length, nameof(dy));
        RequireLength(dx.Length, s.Length, nameof(dx));
        foreach (var (slice, name) in new[] { (gamma, nameof(gamma)), (beta, nameof(beta)), (saveMean, nameof(saveMean)),
                     (saveInvStd, nameof(saveInvStd)), (dgamma, nameof(dgamma)), (dbeta, nameof(dbeta)) })
            RequireLength(slice.Length, s.C, name);
        CpuBatchNorm.Backward(s, Pointer(x), Pointer(dy), Pointer(gamma), Pointer(saveMean), Pointer(saveInvStd),
            Pointer(dx), Pointer(dgamma), Pointer(dbeta), Pointer(beta), relu: true);
    }

    // ---- elementwise ----------------------------------------------------------------------------

    public void ReluForward(Slice<float> x, Slice<float> y)
    {
        RequireLength(y.Length, x.Length, nameof(y));
        CpuElementwise.ReluForward(Pointer(x), Pointer(y), x.Length);
    }

    public void ReluBackward(Slice<float> y, Slice<float> dy, Slice<float> dx)
    {
        RequireLength(dy.Length, y.Length, nameof(dy));
        RequireLength(dx.Length, y.Length, nameof(dx));
        CpuElementwise.ReluBackward(Pointer(y), Pointer(dy), Pointer(dx), y.Length);
    }

    public void Add(Slice<float> a, Slice<float> b, Slice<float> y)
    {
        RequireLength(b.Length, a.Length, nameof(b));
        RequireLength(y.Length, a.Length, nameof(y));
        CpuElementwise.Add(Pointer(a), Pointer(b), Pointer(y), a.Length);
    }

    public void Multiply(Slice<float> a, Slice<float> b, Slice<float> y)
    {
        RequireLength(b.Length, a.Length, nameof(b));
        RequireLength(y.Length, a.Length, nameof(y));
        CpuElementwise.Multiply(Pointer(a), Pointer(b), Pointer(y), a.Length);
    }

    public void AddScaledSign(Slice<float> g, Slice<float> p, float scale)
    {
        RequireLength(p.Length, g.Length, nameof(p));
        CpuElementwise.AddScaledSign(Pointer(g), Pointer(p), scale, g.Length);
    }

    // ---- head -----------------------------------------------------------------------------------

    public void GlobalAvgPoolForward(int n, int c, int hw, Slice<float> x, Slice<float> y)
    {
        RequireLength(x.Length, (long)n * c * hw, nameof(x));
        RequireLength(y.Length, (long)n * c, nameof(y));
        CpuHead.GlobalAvgPoolForward(n, c, hw, Span(x), Span(y));
    }

    public void GlobalAvgPoolBackward(int n, int c, int hw, Slice<float> dy, Slice<float> dx)
    {
        RequireLength(dx.Length, (long)n * c * hw, nameof(dx));
        RequireLength(dy.Length, (long)n * c, nameof(dy));
        CpuHead.GlobalAvgPoolBackward(n, c, hw, Span(dy), Span(dx));
    }

    public void LinearForward(LinearShape s, Slice<float> x, Slice<float> w, Slice<float> b, Slice<float> y)
    {
        RequireLength(x.Length, (long)s.N * s.In, nameof(x));
        RequireLength(w.Length, (long)s.Out * s.In, nameof(w));
        RequireLength(b.Length, s.Out, nameof(b));
        RequireLength(y.Length, (long)s.N * s.Out, nameof(y));
        CpuHead.LinearForward(s, Span(x), Span(w), Span(b), Span(y));
    }

    public void LinearBackward(LinearShape s, Slice<float> x, Slice<float> w, Slice<float> dy,
        Slice<float> dx, Slice<float> dw, Slice<float> db)
    {
        RequireLength(x.Length, (long)s.N * s.In, nameof(x));
        RequireLength(dx.Length, (long)s.N * s.In, nameof(dx));
        RequireLength(w.Length, (long)s.Out * s.In, nameof(w));
        RequireLength(dw.Length, (long)s.Out * s.In, nameof(dw));
        RequireLength(dy.Length, (long)s.N * s.Out, nameof(dy));
        RequireLength(db.Length, s.Out, nameof(db));
        CpuHead.LinearBackward(s, Span(x), Span(w), Span(dy), Span(dx), Span(dw), Span(db));
    }

    public void SoftmaxNllLoss(int n, int classes, Slice<float> logits, Slice<int> labels, float scale,
        Slice<float> loss, Slice<float> dlogits)
    {
        RequireLength(logits.Length, (long)n * classes, nameof(logits));
        RequireLength(dlogits.Length, (long)n * classes, nameof(dlogits));
        RequireLength(labels.Length, n, nameof(labels));
        if (loss.Length < 1) throw new ArgumentException("loss needs one element", nameof(loss));
        CpuHead.SoftmaxNllLoss(n, classes, Span(logits), Span(labels), scale, Span(loss), Span(dlogits));
    }

    public void KlDivergence(int n, int classes, Slice<float> studentLogits, Slice<float> teacherLogits, float temperature,
        float scale, Slice<float> loss, Slice<float> dStudentLogits, bool accumulate)
    {
        if (n < 1 || classes < 1) throw new ArgumentException($"KlDivergence needs N >= 1 and classes >= 1, not N {n}, classes {classes}");
        if (!(temperature > 0) || !float.IsFinite(temperature))
            throw new ArgumentException($"the temperature must be finite and > 0, not {temperature}", nameof(temperature));
        RequireLength(studentLogits.Length, (long)n * classes, nameof(studentLogits));
        RequireLength(teacherLogits.Length, (long)n * classes, nameof(teacherLogits));
        RequireLength(dStudentLogits.Length, (long)n * classes, nameof(dStudentLogits));
        if (loss.Length < 1) throw new ArgumentException("loss needs one element", nameof(loss));
        CpuHead.KlDivergence(n, classes, Span(studentLogits), Span(teacherLogits), temperature, scale, Span(loss), Span(dStudentLogits), accumulate);
    }

    // ---- optimiser ------------------------------------------------------------------------------

    public void CombineGradients(Slice<float> gRetain, Slice<float> gForget, float retainScale, float forgetScale, Slice<float> g)
    {
        RequireLength(gForget.Length, gRetain.Length, nameof(gForget));
        RequireLength(g.Length, gRetain.Length, nameof(g));
        CpuOptimizer.CombineGradients(Pointer(gRetain), Pointer(gForget), retainScale, forgetScale, Pointer(g), g.Length);
    }

    public void SumOfSquares(Slice<float> g, Slice<float> result)
    {
        if (result.Length < 1) throw new ArgumentException("result needs one element", nameof(result));
        Span(result)[0] = CpuOptimizer.SumOfSquares(Pointer(g), g.Length);
    }

    public void ClipAndSgdStep(Slice<float> p, Slice<float> g, Slice<float> m, Slice<float> sumOfSquares, SgdUpdate update, bool firstStep,
        Slice<float>? updateMask = null)
    {
        RequireLength(g.Length, p.Length, nameof(g));
        RequireLength(m.Length, p.Length, nameof(m));
        if (updateMask is { } u) RequireLength(u.Length, p.Length, nameof(updateMask));
        if (sumOfSquares.Length < 1) throw new ArgumentException("sumOfSquares needs one element", nameof(sumOfSquares));
        CpuOptimizer.ClipAndSgdStep(Pointer(p), Pointer(g), Pointer(m), updateMask is { } mask ? Pointer(mask) : null, p.Length,
            Span(sumOfSquares)[0], update, firstStep);
    }

    public void Dispose() => _conv.Dispose();

    // ---- argument checks ------------------------------------------------------------------------

    private static void RequireLength(long actual, long expected, string name)
    {
        if (actual != expected) throw new ArgumentException($"{name} holds {actual} elements, the op needs {expected}", name);
    }

    private static void RequireConv(ConvShape s, long xLength, long wLength, long yLength)
    {
        if (s.N < 1 || s.Cin < 1 || s.Cout < 1 || s.K < 1 || s.Stride < 1 || s.Pad < 0 || s.OutH < 1 || s.OutW < 1)
            throw new ArgumentException($"not a valid convolution: {s}");
        RequireLength(xLength, s.InputLength, "x");
        RequireLength(wLength, s.WeightLength, "w");
        RequireLength(yLength, s.OutputLength, "y");
    }
}
