using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Cpu;

/// <summary>
/// BatchNorm2d over x (N, C, HW), one channel per work item: a channel is N rows of HW contiguous values.
/// Per-row sums are taken in fp32 vectors, the sums over rows in fp64.
/// </summary>
internal static unsafe class CpuBatchNorm
{
    /// <summary>
    /// mean = E[x], var = E[(x - mean)^2], y = gamma (x - mean) / sqrt(var + eps) + beta per channel; saves mean and
    /// 1/sqrt(var + eps); running = (1 - momentum) running + momentum stat with the unbiased variance var M / (M - 1).
    /// </summary>
    public static void TrainForward(BatchNormShape s, float* x, float* gamma, float* beta, float* runningMean, float* runningVar,
        float momentum, float eps, float* y, float* saveMean, float* saveInvStd)
    {
        CpuParallel.For(s.C, c => TrainForwardChannel(s, c, x, gamma, beta, runningMean, runningVar, momentum, eps, y, saveMean, saveInvStd));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TrainForwardChannel(BatchNormShape s, int c, float* x, float* gamma, float* beta, float* runningMean,
        float* runningVar, float momentum, float eps, float* y, float* saveMean, float* saveInvStd)
    {
        long m = (long)s.N * s.HW;
        {
            double sum = 0;
            for (int n = 0; n < s.N; n++) sum += RowSum(x + ((long)n * s.C + c) * s.HW, s.HW);
            double mean = sum / m;
            double squares = 0;
            for (int n = 0; n < s.N; n++) squares += RowSumOfSquaredDeviations(x + ((long)n * s.C + c) * s.HW, s.HW, (float)mean);
            double variance = squares / m;
            double invStd = 1.0 / Math.Sqrt(variance + eps);
            saveMean[c] = (float)mean;
            saveInvStd[c] = (float)invStd;
            double unbiased = m > 1 ? variance * m / (m - 1) : variance;
            runningMean[c] = (float)((1 - momentum) * runningMean[c] + momentum * mean);
            runningVar[c] = (float)((1 - momentum) * runningVar[c] + momentum * unbiased);
            // From the saved (fp32) statistics, so that Apply recomputes y exactly.
            NormalizeChannel(s, c, x, gamma[c], beta[c], saveMean[c], saveInvStd[c], y);
        }
    }

    /// <summary>y = gamma (x - saveMean) saveInvStd + beta: a training forward's output, from its saved statistics.</summary>
    public static void Apply(BatchNormShape s, float* x, float* gamma, float* beta, float* saveMean, float* saveInvStd, float* y)
    {
        CpuParallel.For(s.C, c => NormalizeChannel(s, c, x, gamma[c], beta[c], saveMean[c], saveInvStd[c], y));
    }

    /// <summary>One channel of y = scale x + shift, scale = gamma invStd, shift = beta - mean scale (y may be x).</summary>
    private static void NormalizeChannel(BatchNormShape s, int c, float* x, float gamma, float beta, float mean, float invStd, float* y)
    {
        float scale = (float)((double)gamma * invStd);
        float shift = (float)(beta - (double)mean * gamma * invStd);
        for (int n = 0; n < s.N; n++)
        {
            long row = ((long)n * s.C + c) * s.HW;
            RowScaleShift(x + row, y + row, s.HW, scale, shift);
        }
    }

    /// <summary>y = gamma (x - runningMean) / sqrt(runningVar + eps) + beta.</summary>
    public static void EvalForward(BatchNormShape s, float* x, float* gamma, float* beta, float* runningMean, float* runningVar,
        float eps, float* y)
    {
        CpuParallel.For(s.C, c =>
        {
            double invStd = 1.0 / Math.Sqrt(runningVar[c] + (double)eps);
            float scale = (float)(gamma[c] * invStd);
            float shift = (float)(beta[c] - runningMean[c] * gamma[c] * invStd);
            for (int n = 0; n < s.N; n++)
            {
                long row = ((long)n * s.C + c) * s.HW;
                RowScaleShift(x + row, y + row, s.HW, scale, shift);
            }
        });
    }

    /// <summary>
    /// xhat = (x - mean) invStd: dbeta = sum dy, dgamma = sum dy xhat, dx = gamma invStd / M (M dy - dbeta - xhat dgamma),
    /// computed as dx = a dy + b (x - mean) + c per channel.
    /// </summary>
    public static void Backward(BatchNormShape s, float* x, float* dy, float* gamma, float* saveMean, float* saveInvStd,
        float* dx, float* dgamma, float* dbeta)
    {
        CpuParallel.For(s.C, c => BackwardChannel(s, c, x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardChannel(BatchNormShape s, int c, float* x, float* dy, float* gamma, float* saveMean, float* saveInvStd,
        float* dx, float* dgamma, float* dbeta)
    {
        long m = (long)s.N * s.HW;
        {
            float mean = saveMean[c];
            double invStd = saveInvStd[c];
            double sumDy = 0, sumDyCentered = 0;
            for (int n = 0; n < s.N; n++)
            {
                long row = ((long)n * s.C + c) * s.HW;
                var (rowDy, rowDyCentered) = RowSumAndDot(dy + row, x + row, s.HW, mean);
                sumDy += rowDy;
                sumDyCentered += rowDyCentered;
            }
            double dBeta = sumDy, dGamma = sumDyCentered * invStd;
            dbeta[c] = (float)dBeta;
            dgamma[c] = (float)dGamma;
            double g = gamma[c];
            float a = (float)(g * invStd);
            double bD = -g * invStd * invStd * dGamma / m;
            float b = (float)bD;
            float cc = (float)(-g * invStd * dBeta / m);
            for (int n = 0; n < s.N; n++)
            {
                long row = ((long)n * s.C + c) * s.HW;
                RowAxpbypc(dy + row, x + row, dx + row, s.HW, a, b, mean, cc);
            }
        }
    }

    /// <summary>saveMean = runningMean, saveInvStd = 1 / sqrt(runningVar + eps) (in fp64, rounded once), per channel.</summary>
    public static void EvalStatistics(int channels, float* runningMean, float* runningVar, float eps, float* saveMean, float* saveInvStd)
    {
        for (int c = 0; c < channels; c++)
        {
            saveMean[c] = runningMean[c];
            saveInvStd[c] = (float)(1.0 / Math.Sqrt(runningVar[c] + (double)eps));
        }
    }

    /// <summary>
    /// Backward with fixed statistics: dbeta = sum dy, dgamma = sum dy (x - mean) invStd, dx = gamma invStd dy per channel
    /// (the statistics are constants here, so none of the training backward's mean terms).
    /// </summary>
    public static void EvalBackward(BatchNormShape s, float* x, float* dy, float* gamma, float* saveMean, float* saveInvStd,
        float* dx, float* dgamma, float* dbeta)
    {
        CpuParallel.For(s.C, c => EvalBackwardChannel(s, c, x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void EvalBackwardChannel(BatchNormShape s, int c, float* x, float* dy, float* gamma, float* saveMean, float* saveInvStd,
        float* dx, float* dgamma, float* dbeta)
    {
        float mean = saveMean[c];
        double invStd = saveInvStd[c];
        double sumDy = 0, sumDyCentered = 0;
        for (int n = 0; n < s.N; n++)
        {
            long row = ((long)n * s.C + c) * s.HW;
            var (rowDy, rowDyCentered) = RowSumAndDot(dy + row, x + row, s.HW, mean);
            sumDy += rowDy;
            sumDyCentered += rowDyCentered;
        }
        dbeta[c] = (float)sumDy;
        dgamma[c] = (float)(sumDyCentered * invStd);
        float a = (float)(gamma[c] * invStd);
        for (int n = 0; n < s.N; n++)
        {
            long row = ((long)n * s.C + c) * s.HW;
            RowScaleShift(dy + row, dx + row, s.HW, a, 0f);
        }
    }

    // ---- row kernels: one row of HW contiguous values ----------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double RowSum(float* x, int length)
    {
        var acc = Vector512<float>.Zero;
        int i = 0;
        for (; i + 16 <= length; i += 16) acc += Vector512.Load(x + i);
        double sum = Vector512.Sum(acc);
        for (; i < length; i++) sum += x[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double RowSumOfSquaredDeviations(float* x, int length, float mean)
    {
        var acc = Vector512<float>.Zero;
        var meanV = Vector512.Create(mean);
        int i = 0;
        for (; i + 16 <= length; i += 16)
        {
            var d = Vector512.Load(x + i) - meanV;
            acc = Vector512.FusedMultiplyAdd(d, d, acc);
        }
        double sum = Vector512.Sum(acc);
        for (; i < length; i++) { double d = x[i] - mean; sum += d * d; }
        return sum;
    }

    /// <summary>(sum dy, sum dy (x - mean)) over one row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (double, double) RowSumAndDot(float* dy, float* x, int length, float mean)
    {
        var sumV = Vector512<float>.Zero;
        var dotV = Vector512<float>.Zero;
        var meanV = Vector512.Create(mean);
        int i = 0;
        for (; i + 16 <= length; i += 16)
        {
            var d = Vector512.Load(dy + i);
            sumV += d;
            dotV = Vector512.FusedMultiplyAdd(d, Vector512.Load(x + i) - meanV, dotV);
        }
        double sum = Vector512.Sum(sumV), dot = Vector512.Sum(dotV);
        for (; i < length; i++) { sum += dy[i]; dot += dy[i] * (double)(x[i] - mean); }
        return (sum, dot);
    }

    /// <summary>y = scale x + shift over one row (y may be x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowScaleShift(float* x, float* y, int length, float scale, float shift)
    {
        var scaleV = Vector512.Create(scale);
        var shiftV = Vector512.Create(shift);
        int i = 0;
        for (; i + 16 <= length; i += 16) Vector512.Store(Vector512.FusedMultiplyAdd(Vector512.Load(x + i), scaleV, shiftV), y + i);
        for (; i < length; i++) y[i] = MathF.FusedMultiplyAdd(x[i], scale, shift);
    }

    /// <summary>dx = a dy + b (x - mean) + c over one row (dx may be dy).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowAxpbypc(float* dy, float* x, float* dx, int length, float a, float b, float mean, float c)
    {
        var aV = Vector512.Create(a);
        var bV = Vector512.Create(b);
        var cV = Vector512.Create(c);
        var meanV = Vector512.Create(mean);
        int i = 0;
        for (; i + 16 <= length; i += 16)
            Vector512.Store(Vector512.FusedMultiplyAdd(Vector512.Load(dy + i), aV,
                Vector512.FusedMultiplyAdd(Vector512.Load(x + i) - meanV, bV, cV)), dx + i);
        for (; i < length; i++) dx[i] = a * dy[i] + (b * (x[i] - mean) + c);
    }
}
