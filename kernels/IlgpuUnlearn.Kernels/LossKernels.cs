using ILGPU;

namespace IlgpuUnlearn.Kernels;

/// <summary>
/// The losses on the logits (N, C), each with its gradient in the same pass: log-softmax followed by the negative
/// log-likelihood (labels (N)), and the distillation KL divergence of a student from a teacher. The batch's loss is a second
/// launch: <see cref="ReductionKernels.FinalSum"/> over the per-sample losses written here (scale 1/N, or T^2/N for the KL).
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

    /// <summary>
    /// One thread per sample n of student logits s and teacher logits t (N, C), at temperature T (Hinton et al. 2015; SCRUB's DistillKL):
    /// log p_s = (s_c - max_c s) / T - log sum_c exp((s_c - max_c s) / T), the same for t (the max taken out before the division, so
    /// a logit near the max keeps its precision however large the logits); kl[n] = sum_c p_t (log p_t - log p_s) (a p_t that
    /// underflows to 0 adds 0); dStudent[n, c] = gradScale (p_s - p_t), written, or added when accumulate != 0; gradScale = scale T / N.
    /// </summary>
    public static void KlDivergencePerSample(Index1D n, ArrayView<float> student, ArrayView<float> teacher, int classes,
        float temperature, float gradScale, int accumulate, ArrayView<float> kl, ArrayView<float> dStudent)
    {
        int row = n * classes;
        float invT = 1f / temperature;
        float maxS = student[row], maxT = teacher[row];
        for (int c = 1; c < classes; c++)
        {
            maxS = MathF.Max(maxS, student[row + c]);
            maxT = MathF.Max(maxT, teacher[row + c]);
        }
        float sumS = 0f, sumT = 0f;
        for (int c = 0; c < classes; c++)
        {
            sumS += MathF.Exp((student[row + c] - maxS) * invT);
            sumT += MathF.Exp((teacher[row + c] - maxT) * invT);
        }
        float logSumS = MathF.Log(sumS), logSumT = MathF.Log(sumT);

        float sum = 0f;
        for (int c = 0; c < classes; c++)
        {
            float logPs = (student[row + c] - maxS) * invT - logSumS;
            float logPt = (teacher[row + c] - maxT) * invT - logSumT;
            float pt = MathF.Exp(logPt);
            sum += pt * (logPt - logPs);
            float g = gradScale * (MathF.Exp(logPs) - pt);
            dStudent[row + c] = accumulate != 0 ? dStudent[row + c] + g : g;
        }
        kl[n] = sum;
    }
}
