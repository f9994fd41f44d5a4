using ILGPU;

namespace IlgpuUnlearn.Kernels;

/// <summary>
/// Log-softmax followed by the negative log-likelihood, logits (N, C), labels (N).
/// The mean over the batch is a second launch: <see cref="ReductionKernels.FinalSum"/> with scale 1/N
/// over the per-sample losses written here.
/// </summary>
public static class LossKernels
{
    /// <summary>
    /// One thread per sample n: logZ = max + log sum_c exp(logits[n, c] - max);
    /// loss[n] = logZ - logits[n, label]; dlogits[n, c] = gradScale (exp(logits[n, c] - logZ) - [c == label]),
    /// with gradScale = scale / N.
    /// </summary>
    public static void SoftmaxNllPerSample(Index1D n, ArrayView<float> logits, ArrayView<int> labels, int classes,
        float gradScale, ArrayView<float> loss, ArrayView<float> dlogits)
    {
        int row = n * classes;
        float max = logits[row];
        for (int c = 1; c < classes; c++)
            max = MathF.Max(max, logits[row + c]);
        float sumExp = 0f;
        for (int c = 0; c < classes; c++)
            sumExp += MathF.Exp(logits[row + c] - max);
        float logZ = max + MathF.Log(sumExp);

        int label = labels[n];
        loss[n] = logZ - logits[row + label];
        for (int c = 0; c < classes; c++)
        {
            float softmax = MathF.Exp(logits[row + c] - logZ);
            dlogits[row + c] = gradScale * (c == label ? softmax - 1f : softmax);
        }
    }
}
