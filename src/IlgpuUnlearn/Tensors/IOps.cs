namespace IlgpuUnlearn.Tensors;

/// <summary>
/// The math the ResNet18 and the unlearning step are written against, once. Two implementations:
/// <c>CpuOps</c> (plain C#, System.Numerics.Tensors / Vector512, multithreaded) and <c>IlgpuOps</c>
/// (the ILGPU kernels in kernels/, on CUDA or ILGPU's CPU accelerator).
///
/// Layout is NCHW fp32 everywhere, weights as PyTorch stores them. Every op writes its outputs
/// (it never accumulates into them) unless its name says Add or it takes an <c>accumulate</c> flag that is set. Calls are asynchronous on a GPU:
/// only <see cref="Download{T}"/> and <see cref="Synchronize"/> wait.
/// </summary>
public interface IOps : IDisposable
{
    /// <summary>What runs the ops, for messages: "cpu (2 threads, AVX-512)", "cuda: NVIDIA H100".</summary>
    string Name { get; }

    /// <summary>Bytes of device memory allocated now, and the most ever allocated at once.</summary>
    long AllocatedBytes { get; }
    long PeakAllocatedBytes { get; }

    // ---- memory -------------------------------------------------------------------------------

    /// <summary>A new zero-filled buffer of <paramref name="length"/> elements.</summary>
    DeviceBuffer<T> Allocate<T>(long length) where T : unmanaged;
    void Upload<T>(ReadOnlySpan<T> source, Slice<T> destination) where T : unmanaged;
    /// <summary>Waits for the work queued so far, then copies the slice to the host.</summary>
    void Download<T>(Slice<T> source, Span<T> destination) where T : unmanaged;
    void Fill(Slice<float> destination, float value);
    void Synchronize();

    // ---- input --------------------------------------------------------------------------------

    /// <summary>
    /// x[n,c,i,j] = (pixels[n,c,i',j'] / 255 - mean[c]) / std[c], with pixels (N, C, H, W) bytes and x (N, C, H, W),
    /// C = mean.Length = std.Length (3 for colour images, 1 for grey; the ILGPU kernel takes 1 or 3).
    /// Augmentation, when <paramref name="augment"/> is given as (N, 3) ints (shiftY, shiftX, flip):
    /// a random crop of the image zero-padded by <paramref name="pad"/> (i' = i + shiftY - pad, zero outside, so a zero pixel
    /// is 0 after padding, as torchvision pads before normalising) then a horizontal flip when flip != 0.
    /// </summary>
    void LoadImages(int n, int h, int w, Slice<byte> pixels, Slice<int>? augment, int pad,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> std, Slice<float> x);

    // ---- convolution (no bias) ----------------------------------------------------------------

    /// <summary>y (N, Cout, OH, OW) = conv2d(x (N, Cin, H, W), w (Cout, Cin, K, K), stride, pad).</summary>
    void Conv2dForward(ConvShape s, Slice<float> x, Slice<float> w, Slice<float> y);
    /// <summary>dx (N, Cin, H, W) = the transposed convolution of dy (N, Cout, OH, OW) with w.</summary>
    void Conv2dBackwardInput(ConvShape s, Slice<float> dy, Slice<float> w, Slice<float> dx);
    /// <summary>dw (Cout, Cin, K, K) = sum over n, oh, ow of dy[n,co,oh,ow] * x[n,ci,oh*s-p+kh,ow*s-p+kw].</summary>
    void Conv2dBackwardWeight(ConvShape s, Slice<float> x, Slice<float> dy, Slice<float> dw);

    // ---- batch normalisation ------------------------------------------------------------------

    /// <summary>
    /// Training mode: per channel c, mean = E[x], var = E[(x - mean)^2] (biased), y = gamma (x - mean) / sqrt(var + eps) + beta.
    /// Saves mean and 1/sqrt(var + eps) (C each) for the backward pass, and updates the running statistics as PyTorch does:
    /// running = (1 - momentum) running + momentum * stat, with the unbiased variance var * M / (M - 1), M = N * HW.
    /// </summary>
    void BatchNormTrainForward(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta,
        Slice<float> runningMean, Slice<float> runningVar, float momentum, float eps,
        Slice<float> y, Slice<float> saveMean, Slice<float> saveInvStd);

    /// <summary>Evaluation mode: y = gamma (x - runningMean) / sqrt(runningVar + eps) + beta.</summary>
    void BatchNormEvalForward(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta,
        Slice<float> runningMean, Slice<float> runningVar, float eps, Slice<float> y);

    /// <summary>
    /// y = gamma (x - saveMean) saveInvStd + beta with the statistics a training-mode forward saved: recomputes that
    /// forward's output exactly (the backward pass keeps only the BatchNorm input). y may be x.
    /// </summary>
    void BatchNormApply(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta,
        Slice<float> saveMean, Slice<float> saveInvStd, Slice<float> y);

    /// <summary>
    /// Backward of the training-mode forward, with xhat = (x - mean) invStd, M = N * HW:
    /// dbeta = sum dy, dgamma = sum dy xhat, dx = gamma invStd / M (M dy - dbeta - xhat dgamma).
    /// </summary>
    void BatchNormBackward(BatchNormShape s, Slice<float> x, Slice<float> dy, Slice<float> gamma,
        Slice<float> saveMean, Slice<float> saveInvStd, Slice<float> dx, Slice<float> dgamma, Slice<float> dbeta);

    /// <summary>
    /// Evaluation mode with gradients (PyTorch's <c>model.eval()</c> then <c>loss.backward()</c>), first half: the running
    /// statistics as the fixed statistics of an affine normalisation, saveMean = runningMean and
    /// saveInvStd = 1 / sqrt(runningVar + eps) (C each); nothing is updated. <see cref="BatchNormApply"/> with them is then the
    /// forward, y = gamma (x - runningMean) / sqrt(runningVar + eps) + beta, and <see cref="BatchNormEvalBackward"/> its backward.
    /// </summary>
    /// <exception cref="ArgumentException">A slice is not <paramref name="channels"/> long.</exception>
    void BatchNormEvalStatistics(int channels, Slice<float> runningMean, Slice<float> runningVar, float eps,
        Slice<float> saveMean, Slice<float> saveInvStd);

    /// <summary>
    /// Backward of the evaluation-mode forward y = gamma (x - mean) invStd + beta with fixed (running) statistics, which do not
    /// depend on the batch: dbeta = sum dy, dgamma = sum dy xhat with xhat = (x - mean) invStd (sums over N and HW, C each),
    /// dx = gamma invStd dy (N, C, HW). mean and invStd are what <see cref="BatchNormEvalStatistics"/> wrote. dx may be dy.
    /// </summary>
    void BatchNormEvalBackward(BatchNormShape s, Slice<float> x, Slice<float> dy, Slice<float> gamma,
        Slice<float> saveMean, Slice<float> saveInvStd, Slice<float> dx, Slice<float> dgamma, Slice<float> dbeta);

    // ---- BatchNorm fused with what follows it (the network's bn -> (+ shortcut) -> ReLU) -------
    // Each is exactly the composition its default body spells out, so a device that does not fuse them gets the same results;
    // the CPU ops do each in one pass over x per channel (no separate ReLU or add passes over the activation).

    /// <summary>
    /// <see cref="BatchNormTrainForward"/>, then y = max(y + residual, 0) (residual (N, C, HW), none when null; y may be x, not
    /// residual).
    /// </summary>
    void BatchNormTrainForwardRelu(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta,
        Slice<float> runningMean, Slice<float> runningVar, float momentum, float eps,
        Slice<float> y, Slice<float> saveMean, Slice<float> saveInvStd, Slice<float>? residual)
    {
        BatchNormTrainForward(s, x, gamma, beta, runningMean, runningVar, momentum, eps, y, saveMean, saveInvStd);
        if (residual is { } r) Add(y, r, y);
        ReluForward(y, y);
    }

    /// <summary><see cref="BatchNormApply"/>, then y = max(y + residual, 0) (none when null; y may be x, not residual).</summary>
    void BatchNormApplyRelu(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta,
        Slice<float> saveMean, Slice<float> saveInvStd, Slice<float> y, Slice<float>? residual)
    {
        BatchNormApply(s, x, gamma, beta, saveMean, saveInvStd, y);
        if (residual is { } r) Add(y, r, y);
        ReluForward(y, y);
    }

    /// <summary>
    /// Backward of y = max(bn(x), 0) with the statistics of a training-mode forward: dy is the gradient at the ReLU's output y
    /// (which <see cref="BatchNormApplyRelu"/> recomputed; the ReLU passes dy where y &gt; 0), then
    /// <see cref="BatchNormBackward"/>. dy may be overwritten with the masked gradient; dx is not dy. A device may take the mask from
    /// y or recompute it from x, gamma, beta and the saved statistics (the same bits).
    /// </summary>
    void BatchNormReluBackward(BatchNormShape s, Slice<float> x, Slice<float> y, Slice<float> dy, Slice<float> gamma, Slice<float> beta,
        Slice<float> saveMean, Slice<float> saveInvStd, Slice<float> dx, Slice<float> dgamma, Slice<float> dbeta)
    {
        ReluBackward(y, dy, dy);
        BatchNormBackward(s, x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta);
    }

    // ---- elementwise --------------------------------------------------------------------------

    /// <summary>y = max(x, 0). y may be x.</summary>
    void ReluForward(Slice<float> x, Slice<float> y);
    /// <summary>dx = dy where y &gt; 0, else 0, with y the forward output. dx may be dy.</summary>
    void ReluBackward(Slice<float> y, Slice<float> dy, Slice<float> dx);
    /// <summary>y = a + b, elementwise. y may be a or b.</summary>
    void Add(Slice<float> a, Slice<float> b, Slice<float> y);
    /// <summary>
    /// y = a * b, elementwise over flat buffers of one length (SalUn's gradient mask: g = g * mask over the flat gradient,
    /// 11,173,962 floats for the full-width ResNet18). y may be a or b.
    /// </summary>
    /// <exception cref="ArgumentException">b or y differs in length from a.</exception>
    void Multiply(Slice<float> a, Slice<float> b, Slice<float> y);
    /// <summary>
    /// g = g + scale * sign(p), elementwise over flat buffers of one length, sign(0) = 0: the gradient of scale * ||p||_1 as
    /// PyTorch's autograd gives it for torch.linalg.norm(p, ord=1), added to g (l1-sparse unlearning's penalty).
    /// </summary>
    /// <exception cref="ArgumentException">p differs in length from g.</exception>
    void AddScaledSign(Slice<float> g, Slice<float> p, float scale);

    // ---- head ---------------------------------------------------------------------------------

    /// <summary>y (N, C) = mean of x (N, C, HW) over HW.</summary>
    void GlobalAvgPoolForward(int n, int c, int hw, Slice<float> x, Slice<float> y);
    /// <summary>dx (N, C, HW) = dy (N, C) / HW, broadcast over HW.</summary>
    void GlobalAvgPoolBackward(int n, int c, int hw, Slice<float> dy, Slice<float> dx);
    /// <summary>y (N, Out) = x (N, In) w^T + b, with w (Out, In) and b (Out).</summary>
    void LinearForward(LinearShape s, Slice<float> x, Slice<float> w, Slice<float> b, Slice<float> y);
    /// <summary>dx = dy w, dw = dy^T x, db = sum over N of dy.</summary>
    void LinearBackward(LinearShape s, Slice<float> x, Slice<float> w, Slice<float> dy,
        Slice<float> dx, Slice<float> dw, Slice<float> db);

    /// <summary>
    /// Log-softmax then negative log-likelihood, mean over the batch: logits (N, C), labels (N).
    /// loss[0] = (1/N) sum_n -log_softmax(logits_n)[labels_n];
    /// dlogits = scale / N (softmax(logits) - onehot(labels)), the gradient of scale * loss.
    /// </summary>
    void SoftmaxNllLoss(int n, int classes, Slice<float> logits, Slice<int> labels, float scale,
        Slice<float> loss, Slice<float> dlogits);

    /// <summary>
    /// Knowledge-distillation loss of a student against a fixed teacher at temperature T (Hinton, Vinyals and Dean 2015,
    /// "Distilling the knowledge in a neural network"; SCRUB's DistillKL, Kurmanji et al. 2023:
    /// <c>F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction='sum') * T^2 / N</c>).
    /// studentLogits s and teacherLogits t are (N, C); p_s = softmax(s / T), p_t = softmax(t / T) over C.
    /// <para>loss[0] = T^2 / N * sum_n sum_c p_t (log p_t - log p_s) in nats, the unscaled loss (as <see cref="SoftmaxNllLoss"/> writes its own);
    /// only loss[0] is written.</para>
    /// <para>dStudentLogits (N, C) = scale * T / N * (p_s - p_t), the gradient of scale * loss with respect to s (sum_c p_t = 1);
    /// written, or added to what dStudentLogits holds when <paramref name="accumulate"/> is true (SCRUB's retain step adds it to
    /// the cross-entropy gradient <see cref="SoftmaxNllLoss"/> wrote). No gradient flows to the teacher.</para>
    /// Numerically stable: log-softmax by max-subtracted log-sum-exp, so log p is finite for finite logits and a term whose p_t
    /// underflows to 0 adds 0 (p_t log p_t = 0 at p_t = 0). dStudentLogits must not overlap the logits.
    /// </summary>
    /// <exception cref="ArgumentException">n &lt; 1, classes &lt; 1, temperature not finite and &gt; 0, a logits slice or dStudentLogits
    /// not N * C elements, or loss empty.</exception>
    void KlDivergence(int n, int classes, Slice<float> studentLogits, Slice<float> teacherLogits, float temperature,
        float scale, Slice<float> loss, Slice<float> dStudentLogits, bool accumulate);

    // ---- optimiser, over flat buffers --------------------------------------------------------

    /// <summary>g = retainScale * gRetain + forgetScale * gForget (forgetScale &lt; 0 negates the forget gradient). g may alias either input.</summary>
    void CombineGradients(Slice<float> gRetain, Slice<float> gForget, float retainScale, float forgetScale, Slice<float> g);

    /// <summary>result[0] = sum of g^2 (one reduction over the whole flat gradient).</summary>
    void SumOfSquares(Slice<float> g, Slice<float> result);

    /// <summary>
    /// One fused pass over parameters p, gradient g and momentum buffer m (same length), reading the squared norm
    /// from <paramref name="sumOfSquares"/>[0] on the device:
    /// g' = g * min(1, clip / (sqrt(sumOfSquares) + 1e-6)) (no clipping when clip &lt;= 0); d = g' + wd p;
    /// m = d on the first step, else mu m + d; d = d + mu m when Nesterov, else d = m; p = p - lr d.
    /// </summary>
    /// <param name="firstStep">The first step of a run: m = d, as torch.optim.SGD initialises its momentum buffer.</param>
    /// <param name="updateMask">Null: every element is updated. Else (same length): where it is 0 the parameter keeps its value
    /// bit for bit and the momentum is set to 0, as SalUn's hard mask does (OPTML-Group/Unlearn-Saliency#33: the masked weights
    /// restored and their momentum zeroed after each step); elsewhere the update above.</param>
    void ClipAndSgdStep(Slice<float> p, Slice<float> g, Slice<float> m, Slice<float> sumOfSquares, SgdUpdate update, bool firstStep,
        Slice<float>? updateMask = null);
}
