using ILGPU;

namespace IlgpuUnlearn.Kernels;

/// <summary>
/// BatchNorm2d over x (N, C, HW); statistics per channel c over the M = N * HW values x[n, c, j].
/// The per-channel reductions run one group per channel (grid = C groups; group size a multiple of 32,
/// at most 1024) and reduce with <see cref="GroupReduce"/>; the elementwise parts one thread per element.
/// </summary>
public static class BatchNormKernels
{
    /// <summary>
    /// Training-mode statistics, group c: mean = (1/M) sum x, var = (1/M) sum (x - mean)^2 (biased; two passes
    /// over x, so no cancellation), saveMean[c] = mean, saveInvStd[c] = 1 / sqrt(var + eps), and the running
    /// statistics as PyTorch updates them: running = (1 - momentum) running + momentum stat, with the
    /// unbiased variance var M / (M - 1).
    /// </summary>
    public static void TrainStatistics(ArrayView<float> x, BatchNormGeometry g, ArrayView<float> runningMean,
        ArrayView<float> runningVar, float momentum, float eps, ArrayView<float> saveMean, ArrayView<float> saveInvStd)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxWarps);
        int c = Grid.IdxX;
        int count = g.Count;

        // Thread t visits the values e = t, t + D, t + 2D, ... (D = group size) of channel c, e = n HW + j, stepping
        // (n, j) by (D / HW, D % HW) with a carry instead of dividing at every step.
        int dn = Group.DimX / g.HW, dj = Group.DimX - dn * g.HW;
        int n0 = Group.IdxX / g.HW, j0 = Group.IdxX - n0 * g.HW;

        float sum = 0f;
        for (int n = n0, j = j0; n < g.N; n += dn, j += dj)
        {
            if (j >= g.HW) { j -= g.HW; n++; if (n >= g.N) break; }
            sum += x[(n * g.C + c) * g.HW + j];
        }
        sum = GroupReduce.Sum(sum, scratch);
        float mean = Group.Broadcast(sum, 0) / count;

        float sumSq = 0f;
        for (int n = n0, j = j0; n < g.N; n += dn, j += dj)
        {
            if (j >= g.HW) { j -= g.HW; n++; if (n >= g.N) break; }
            float centred = x[(n * g.C + c) * g.HW + j] - mean;
            sumSq += centred * centred;
        }
        sumSq = GroupReduce.Sum(sumSq, scratch);

        if (Group.IdxX == 0)
        {
            float variance = sumSq / count;
            saveMean[c] = mean;
            saveInvStd[c] = 1f / MathF.Sqrt(variance + eps);
            float unbiased = count > 1 ? variance * count / (count - 1) : variance;
            runningMean[c] = (1f - momentum) * runningMean[c] + momentum * mean;
            runningVar[c] = (1f - momentum) * runningVar[c] + momentum * unbiased;
        }
    }

    /// <summary>y = gamma[c] (x - saveMean[c]) saveInvStd[c] + beta[c]; one thread per element.</summary>
    public static void TrainNormalize(Index1D i, ArrayView<float> x, BatchNormGeometry g, ArrayView<float> gamma,
        ArrayView<float> beta, ArrayView<float> saveMean, ArrayView<float> saveInvStd, ArrayView<float> y)
    {
        int c = g.Channel(i);
        y[i] = gamma[c] * ((x[i] - saveMean[c]) * saveInvStd[c]) + beta[c];
    }

    /// <summary>Evaluation mode: y = gamma[c] (x - runningMean[c]) / sqrt(runningVar[c] + eps) + beta[c].</summary>
    public static void EvalForward(Index1D i, ArrayView<float> x, BatchNormGeometry g, ArrayView<float> gamma,
        ArrayView<float> beta, ArrayView<float> runningMean, ArrayView<float> runningVar, float eps, ArrayView<float> y)
    {
        int c = g.Channel(i);
        float invStd = 1f / MathF.Sqrt(runningVar[c] + eps);
        y[i] = gamma[c] * ((x[i] - runningMean[c]) * invStd) + beta[c];
    }

    /// <summary>
    /// Backward reductions, group c: dbeta[c] = sum dy, dgamma[c] = sum dy xhat, xhat = (x - mean) invStd.
    /// </summary>
    public static void BackwardReduce(ArrayView<float> x, ArrayView<float> dy, BatchNormGeometry g,
        ArrayView<float> saveMean, ArrayView<float> saveInvStd, ArrayView<float> dgamma, ArrayView<float> dbeta)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxWarps);
        int c = Grid.IdxX;
        float mean = saveMean[c], invStd = saveInvStd[c];

        int dn = Group.DimX / g.HW, dj = Group.DimX - dn * g.HW;
        int n0 = Group.IdxX / g.HW, j0 = Group.IdxX - n0 * g.HW;

        float sumDy = 0f, sumDyXhat = 0f;
        for (int n = n0, j = j0; n < g.N; n += dn, j += dj)
        {
            if (j >= g.HW) { j -= g.HW; n++; if (n >= g.N) break; }
            int index = (n * g.C + c) * g.HW + j;
            float d = dy[index];
            sumDy += d;
            sumDyXhat += d * ((x[index] - mean) * invStd);
        }
        sumDy = GroupReduce.Sum(sumDy, scratch);
        sumDyXhat = GroupReduce.Sum(sumDyXhat, scratch);
        if (Group.IdxX == 0)
        {
            dbeta[c] = sumDy;
            dgamma[c] = sumDyXhat;
        }
    }

    /// <summary>dx = gamma invStd / M (M dy - dbeta - xhat dgamma); one thread per element.</summary>
    public static void BackwardInput(Index1D i, ArrayView<float> x, ArrayView<float> dy, BatchNormGeometry g,
        ArrayView<float> gamma, ArrayView<float> saveMean, ArrayView<float> saveInvStd,
        ArrayView<float> dgamma, ArrayView<float> dbeta, ArrayView<float> dx)
    {
        int c = g.Channel(i);
        float invStd = saveInvStd[c];
        float xhat = (x[i] - saveMean[c]) * invStd;
        float count = g.Count;
        dx[i] = gamma[c] * invStd / count * (count * dy[i] - dbeta[c] - xhat * dgamma[c]);
    }
}

/// <summary>The shape (N, C, HW) of a BatchNorm2d input as a kernel argument.</summary>
public readonly struct BatchNormGeometry
{
    public BatchNormGeometry(int n, int c, int hw)
    {
        N = n;
        C = c;
        HW = hw;
    }

    public int N { get; }
    public int C { get; }
    public int HW { get; }

    /// <summary>M = N * HW values per channel.</summary>
    public int Count => N * HW;

    /// <summary>The channel of flat element i of x (N, C, HW).</summary>
    public int Channel(int i) => i / HW % C;

}
