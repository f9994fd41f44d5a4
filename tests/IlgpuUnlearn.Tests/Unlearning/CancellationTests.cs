using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;
using IlgpuUnlearn.Unlearning;
using IlgpuUnlearn.Unlearning.Methods;

namespace IlgpuUnlearn.Tests.Unlearning;

/// <summary>
/// Ctrl-C inside a step: the step stops at the next block, not at the end of the step (at batch 2500 on the CPU a step is
/// minutes), and the parameters are left as they were.
/// </summary>
public sealed class CancellationTests
{
    /// <summary>The CPU ops, counting the compute calls and cancelling a token at a chosen call of a chosen op.</summary>
    sealed class CancellingOps(IOps inner, CancellationTokenSource source, string cancelAt, int cancelAtCall) : IOps
    {
        public int Calls, CallsAfterCancel, SgdSteps;
        int seen;

        void Hit(string op)
        {
            Calls++;
            if (source.IsCancellationRequested) CallsAfterCancel++;
            if (op == nameof(ClipAndSgdStep)) SgdSteps++;
            if (op == cancelAt && ++seen == cancelAtCall) source.Cancel();
        }

        public string Name => inner.Name;
        public long AllocatedBytes => inner.AllocatedBytes;
        public long PeakAllocatedBytes => inner.PeakAllocatedBytes;
        public DeviceBuffer<T> Allocate<T>(long length) where T : unmanaged => inner.Allocate<T>(length);
        public void Upload<T>(ReadOnlySpan<T> source, Slice<T> destination) where T : unmanaged => inner.Upload(source, destination);
        public void Download<T>(Slice<T> source, Span<T> destination) where T : unmanaged => inner.Download(source, destination);
        public void Fill(Slice<float> destination, float value) => inner.Fill(destination, value);
        public void Synchronize() => inner.Synchronize();
        public void LoadImages(int n, int h, int w, Slice<byte> pixels, Slice<int>? augment, int pad, ReadOnlySpan<float> mean, ReadOnlySpan<float> std, Slice<float> x)
        { Hit(nameof(LoadImages)); inner.LoadImages(n, h, w, pixels, augment, pad, mean, std, x); }
        public void Conv2dForward(ConvShape s, Slice<float> x, Slice<float> w, Slice<float> y)
        { Hit(nameof(Conv2dForward)); inner.Conv2dForward(s, x, w, y); }
        public void Conv2dBackwardInput(ConvShape s, Slice<float> dy, Slice<float> w, Slice<float> dx)
        { Hit(nameof(Conv2dBackwardInput)); inner.Conv2dBackwardInput(s, dy, w, dx); }
        public void Conv2dBackwardWeight(ConvShape s, Slice<float> x, Slice<float> dy, Slice<float> dw)
        { Hit(nameof(Conv2dBackwardWeight)); inner.Conv2dBackwardWeight(s, x, dy, dw); }
        public void BatchNormTrainForward(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta, Slice<float> runningMean,
            Slice<float> runningVar, float momentum, float eps, Slice<float> y, Slice<float> saveMean, Slice<float> saveInvStd)
        { Hit(nameof(BatchNormTrainForward)); inner.BatchNormTrainForward(s, x, gamma, beta, runningMean, runningVar, momentum, eps, y, saveMean, saveInvStd); }
        public void BatchNormEvalForward(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta, Slice<float> runningMean,
            Slice<float> runningVar, float eps, Slice<float> y)
        { Hit(nameof(BatchNormEvalForward)); inner.BatchNormEvalForward(s, x, gamma, beta, runningMean, runningVar, eps, y); }
        public void BatchNormApply(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta, Slice<float> saveMean,
            Slice<float> saveInvStd, Slice<float> y)
        { Hit(nameof(BatchNormApply)); inner.BatchNormApply(s, x, gamma, beta, saveMean, saveInvStd, y); }
        public void BatchNormBackward(BatchNormShape s, Slice<float> x, Slice<float> dy, Slice<float> gamma, Slice<float> saveMean,
            Slice<float> saveInvStd, Slice<float> dx, Slice<float> dgamma, Slice<float> dbeta)
        { Hit(nameof(BatchNormBackward)); inner.BatchNormBackward(s, x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta); }
        public void BatchNormEvalStatistics(int channels, Slice<float> runningMean, Slice<float> runningVar, float eps,
            Slice<float> saveMean, Slice<float> saveInvStd)
        { Hit(nameof(BatchNormEvalStatistics)); inner.BatchNormEvalStatistics(channels, runningMean, runningVar, eps, saveMean, saveInvStd); }
        public void BatchNormEvalBackward(BatchNormShape s, Slice<float> x, Slice<float> dy, Slice<float> gamma, Slice<float> saveMean,
            Slice<float> saveInvStd, Slice<float> dx, Slice<float> dgamma, Slice<float> dbeta)
        { Hit(nameof(BatchNormEvalBackward)); inner.BatchNormEvalBackward(s, x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta); }
        public void ReluForward(Slice<float> x, Slice<float> y) { Hit(nameof(ReluForward)); inner.ReluForward(x, y); }
        public void ReluBackward(Slice<float> y, Slice<float> dy, Slice<float> dx) { Hit(nameof(ReluBackward)); inner.ReluBackward(y, dy, dx); }
        public void Add(Slice<float> a, Slice<float> b, Slice<float> y) { Hit(nameof(Add)); inner.Add(a, b, y); }
        public void Multiply(Slice<float> a, Slice<float> b, Slice<float> y) { Hit(nameof(Multiply)); inner.Multiply(a, b, y); }
        public void AddScaledSign(Slice<float> g, Slice<float> p, float scale) { Hit(nameof(AddScaledSign)); inner.AddScaledSign(g, p, scale); }
        public void GlobalAvgPoolForward(int n, int c, int hw, Slice<float> x, Slice<float> y)
        { Hit(nameof(GlobalAvgPoolForward)); inner.GlobalAvgPoolForward(n, c, hw, x, y); }
        public void GlobalAvgPoolBackward(int n, int c, int hw, Slice<float> dy, Slice<float> dx)
        { Hit(nameof(GlobalAvgPoolBackward)); inner.GlobalAvgPoolBackward(n, c, hw, dy, dx); }
        public void LinearForward(LinearShape s, Slice<float> x, Slice<float> w, Slice<float> b, Slice<float> y)
        { Hit(nameof(LinearForward)); inner.LinearForward(s, x, w, b, y); }
        public void LinearBackward(LinearShape s, Slice<float> x, Slice<float> w, Slice<float> dy, Slice<float> dx, Slice<float> dw, Slice<float> db)
        { Hit(nameof(LinearBackward)); inner.LinearBackward(s, x, w, dy, dx, dw, db); }
        public void SoftmaxNllLoss(int n, int classes, Slice<float> logits, Slice<int> labels, float scale, Slice<float> loss, Slice<float> dlogits)
        { Hit(nameof(SoftmaxNllLoss)); inner.SoftmaxNllLoss(n, classes, logits, labels, scale, loss, dlogits); }
        public void KlDivergence(int n, int classes, Slice<float> studentLogits, Slice<float> teacherLogits, float temperature, float scale,
            Slice<float> loss, Slice<float> dStudentLogits, bool accumulate)
        { Hit(nameof(KlDivergence)); inner.KlDivergence(n, classes, studentLogits, teacherLogits, temperature, scale, loss, dStudentLogits, accumulate); }
        public void CombineGradients(Slice<float> gRetain, Slice<float> gForget, float retainScale, float forgetScale, Slice<float> g)
        { Hit(nameof(CombineGradients)); inner.CombineGradients(gRetain, gForget, retainScale, forgetScale, g); }
        public void SumOfSquares(Slice<float> g, Slice<float> result) { Hit(nameof(SumOfSquares)); inner.SumOfSquares(g, result); }
        public void ClipAndSgdStep(Slice<float> p, Slice<float> g, Slice<float> m, Slice<float> sumOfSquares, SgdUpdate update, bool firstStep,
            Slice<float>? updateMask = null)
        { Hit(nameof(ClipAndSgdStep)); inner.ClipAndSgdStep(p, g, m, sumOfSquares, update, firstStep, updateMask); }
        public void Dispose() { }
    }

    [Theory]
    [InlineData(nameof(IOps.Conv2dForward), 6)]        // in the forget batch's forward, block 2
    [InlineData(nameof(IOps.Conv2dBackwardInput), 4)]   // in the forget batch's backward
    [InlineData(nameof(IOps.Conv2dBackwardWeight), 30)] // in the retain batch's backward
    public void CancellingInsideAStepStopsAtTheNextBlockWithParametersUnchanged(string op, int call)
    {
        using var cpu = new CpuOps();
        using var source = new CancellationTokenSource();
        var ops = new CancellingOps(cpu, source, op, call);
        var proxy = ops;

        var config = new ResNet18Config(Width: 4, ImageSize: 8, Classes: 10);
        using var model = new ResNet18(ops, config, maxBatch: 2);
        ModelState.Load(model, RandomInit.State(model.Layout, seed: 3));
        var before = new float[model.Layout.ParameterCount];
        cpu.Download(model.Parameters.All, before);
        using var step = new TrainingStep(ops, model);
        var pixels = new byte[2 * 3 * 8 * 8];
        new Random(1).NextBytes(pixels);
        int[] forgetLabels = [0, 0], retainLabels = [1, 2];

        Assert.Throws<OperationCanceledException>(() => step.Unlearn(
            new HostBatch(pixels, forgetLabels, [], 2), new HostBatch(pixels, retainLabels, [], 2), 0.85f, -0.15f,
            new AdvNegGrad().Defaults.UpdateAt(0), source.Token));

        Assert.True(source.IsCancellationRequested, $"the {op} call {call} never came ({proxy.Calls} calls)");
        // One block's backward is at most 17 op calls (a downsample block: 2 ReLU, 3 BatchNorm backward, 1 apply, 1 ReLU
        // forward, 3 weight and 3 input gradients, 1 conv forward, 1 add); stopping "at the next block" allows no more.
        Assert.InRange(proxy.CallsAfterCancel, 0, 17);
        Assert.Equal(0, proxy.SgdSteps);
        var after = new float[before.Length];
        cpu.Download(model.Parameters.All, after);
        Assert.Equal(before, after);
    }
}
