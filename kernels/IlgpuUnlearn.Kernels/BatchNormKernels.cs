using ILGPU;

namespace IlgpuUnlearn.Kernels;

/// <summary>
/// BatchNorm2d over x (N, C, HW); statistics per channel c over the M = N * HW values x[n, c, j].
/// The per-channel reductions come in two versions: one group per channel (grid = C groups; group size a multiple of 32,
/// at most 1024), and chunked, several groups per channel and a merge per channel; both reduce with <see cref="GroupReduce"/>.
/// The elementwise parts run one thread per element.
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
    /// Evaluation mode with gradients, thread c: the running statistics as fixed statistics, saveMean[c] = runningMean[c],
    /// saveInvStd[c] = 1 / sqrt(runningVar[c] + eps); nothing is updated. <see cref="TrainNormalize"/> with them is the forward.
    /// </summary>
    public static void EvalStatistics(Index1D c, ArrayView<float> runningMean, ArrayView<float> runningVar, float eps,
        ArrayView<float> saveMean, ArrayView<float> saveInvStd)
    {
        saveMean[c] = runningMean[c];
        saveInvStd[c] = 1f / MathF.Sqrt(runningVar[c] + eps);
    }

    /// <summary>
    /// Backward of the evaluation-mode forward (fixed statistics): dx = gamma[c] saveInvStd[c] dy; one thread per element.
    /// dgamma and dbeta come from the training backward's reductions, which do not depend on how the statistics were made.
    /// </summary>
    public static void EvalBackwardInput(Index1D i, ArrayView<float> dy, BatchNormGeometry g, ArrayView<float> gamma,
        ArrayView<float> saveInvStd, ArrayView<float> dx)
    {
        int c = g.Channel(i);
        dx[i] = gamma[c] * saveInvStd[c] * dy[i];
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

    // ---- chunked reductions: several groups per channel, then one merge per channel ------------
    // With C groups only, a 64-channel layer keeps 64 multiprocessors busy and leaves the rest of an H100's 132 idle.
    // Here channel c's M values e = n HW + j are cut into chunks of L consecutive e; group (chunk, c) = (Grid.IdxX, Grid.IdxY)
    // reduces one chunk into partials (C, chunks, 2), and a second kernel, one thread per channel, merges a channel's chunks.

    /// <summary>
    /// Statistics, first stage: for the chunk e in [chunk L, min(M, (chunk + 1) L)) of channel c, the chunk's mean and
    /// M2 = sum (x - chunk mean)^2 (two passes over the chunk, no cancellation) into partials[(c chunks + chunk) 2 + {0, 1}].
    /// </summary>
    public static void ChunkStatistics(ArrayView<float> x, BatchNormGeometry g, int chunkLength, ArrayView<float> partials)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxWarps);
        int chunk = Grid.IdxX, c = Grid.IdxY, chunks = Grid.DimX;
        int begin = chunk * chunkLength, end = Math.Min(g.Count, begin + chunkLength);

        float sum = 0f;
        for (var e = ChunkWalk.Start(g, begin); e.E < end; e = e.Next(g))
            sum += x[e.Index(g, c)];
        sum = GroupReduce.Sum(sum, scratch);
        float mean = Group.Broadcast(sum, 0) / (end - begin);

        float m2 = 0f;
        for (var e = ChunkWalk.Start(g, begin); e.E < end; e = e.Next(g))
        {
            float centred = x[e.Index(g, c)] - mean;
            m2 += centred * centred;
        }
        m2 = GroupReduce.Sum(m2, scratch);
        if (Group.IdxX == 0)
        {
            partials[(c * chunks + chunk) * 2] = mean;
            partials[(c * chunks + chunk) * 2 + 1] = m2;
        }
    }

    /// <summary>
    /// Statistics, second stage, thread c: merges the chunks' (count, mean, M2) one by one as Chan et al. do,
    /// mean_ab = mean_a + delta n_b / n_ab, M2_ab = M2_a + M2_b + delta^2 n_a n_b / n_ab with delta = mean_b - mean_a;
    /// then var = M2 / M and the outputs and running statistics exactly as <see cref="TrainStatistics"/> writes them.
    /// </summary>
    public static void MergeStatistics(Index1D c, ArrayView<float> partials, int chunks, int chunkLength, BatchNormGeometry g,
        ArrayView<float> runningMean, ArrayView<float> runningVar, float momentum, float eps, ArrayView<float> saveMean, ArrayView<float> saveInvStd)
    {
        float count = 0f, mean = 0f, m2 = 0f;
        for (int chunk = 0; chunk < chunks; chunk++)
        {
            float nb = Math.Min(chunkLength, g.Count - chunk * chunkLength);
            float meanB = partials[(c * chunks + chunk) * 2], m2B = partials[(c * chunks + chunk) * 2 + 1];
            float total = count + nb;
            float delta = meanB - mean;
            mean += delta * (nb / total);
            m2 += m2B + delta * delta * (count * nb / total);
            count = total;
        }

        float variance = m2 / g.Count;
        saveMean[c] = mean;
        saveInvStd[c] = 1f / MathF.Sqrt(variance + eps);
        float unbiased = g.Count > 1 ? variance * g.Count / (g.Count - 1) : variance;
        runningMean[c] = (1f - momentum) * runningMean[c] + momentum * mean;
        runningVar[c] = (1f - momentum) * runningVar[c] + momentum * unbiased;
    }

    /// <summary>Backward reductions, first stage: the chunk's sum dy and sum dy xhat into partials[(c chunks + chunk) 2 + {0, 1}].</summary>
    public static void ChunkBackwardReduce(ArrayView<float> x, ArrayView<float> dy, BatchNormGeometry g,
        ArrayView<float> saveMean, ArrayView<float> saveInvStd, int chunkLength, ArrayView<float> partials)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxWarps);
        int chunk = Grid.IdxX, c = Grid.IdxY, chunks = Grid.DimX;
        int begin = chunk * chunkLength, end = Math.Min(g.Count, begin + chunkLength);
        float mean = saveMean[c], invStd = saveInvStd[c];

        float sumDy = 0f, sumDyXhat = 0f;
        for (var e = ChunkWalk.Start(g, begin); e.E < end; e = e.Next(g))
        {
            int index = e.Index(g, c);
            float d = dy[index];
            sumDy += d;
            sumDyXhat += d * ((x[index] - mean) * invStd);
        }
        sumDy = GroupReduce.Sum(sumDy, scratch);
        sumDyXhat = GroupReduce.Sum(sumDyXhat, scratch);
        if (Group.IdxX == 0)
        {
            partials[(c * chunks + chunk) * 2] = sumDy;
            partials[(c * chunks + chunk) * 2 + 1] = sumDyXhat;
        }
    }

    /// <summary>Backward reductions, second stage, thread c: dbeta[c] = sum of the chunks' sum dy, dgamma[c] = of their sum dy xhat.</summary>
    public static void MergeBackwardReduce(Index1D c, ArrayView<float> partials, int chunks, ArrayView<float> dgamma, ArrayView<float> dbeta)
    {
        float sumDy = 0f, sumDyXhat = 0f;
        for (int chunk = 0; chunk < chunks; chunk++)
        {
            sumDy += partials[(c * chunks + chunk) * 2];
            sumDyXhat += partials[(c * chunks + chunk) * 2 + 1];
        }
        dbeta[c] = sumDy;
        dgamma[c] = sumDyXhat;
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

/// <summary>
/// A thread's walk over the values e = begin + t, begin + t + D, ... (t = Group.IdxX, D = Group.DimX) of one channel,
/// e = n HW + j, stepping (n, j) by (D / HW, D mod HW) with a carry instead of dividing at every step.
/// </summary>
public readonly struct ChunkWalk
{
    private ChunkWalk(int e, int n, int j)
    {
        E = e;
        N = n;
        J = j;
    }

    public int E { get; }
    public int N { get; }
    public int J { get; }

    public static ChunkWalk Start(BatchNormGeometry g, int begin)
    {
        int e = begin + Group.IdxX;
        int n = e / g.HW;
        return new ChunkWalk(e, n, e - n * g.HW);
    }

    public ChunkWalk Next(BatchNormGeometry g)
    {
        int d = Group.DimX;
        int dn = d / g.HW;
        int n = N + dn, j = J + d - dn * g.HW;
        if (j >= g.HW)
        {
            j -= g.HW;
            n++;
        }
        return new ChunkWalk(E + d, n, j);
    }

    /// <summary>The flat index of x[n, c, j] in x (N, C, HW).</summary>
    public int Index(BatchNormGeometry g, int c) => (N * g.C + c) * g.HW + J;
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
