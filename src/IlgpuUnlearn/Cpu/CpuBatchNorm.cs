using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Cpu;

/// <summary>
/// BatchNorm2d over x (N, C, HW): a channel is N rows of HW contiguous values. Work items are blocks of neighbouring
/// channels (<see cref="BlockChannels"/>), walked image by image, so that each image's rows of the block are one contiguous
/// run (the 4x4 and 8x8 stages' rows are only 64 and 256 bytes) and the block's passes after the first read it from L2.
/// Per-row sums are taken in fp32 vectors, the sums over rows in fp64 in image order: the result does not depend on the
/// blocking or the number of cores. The ReLU and the residual add that follow a BatchNorm in the network are applied in its
/// output pass, and the ReLU's backward mask is recomputed from x in its backward (<see cref="IOps.BatchNormReluBackward"/>).
/// </summary>
internal static unsafe class CpuBatchNorm
{
    /// <summary>Bytes of one array (x, y, dy or dx) that one work item covers at most, unless a channel alone is larger.</summary>
    private const long BlockBytes = 256 * 1024;

    /// <summary>
    /// Channels per work item: as many as fit <see cref="BlockBytes"/> (at least one), and few enough that there are at least four
    /// work items per core to balance (at least one channel each).
    /// </summary>
    internal static int BlockChannels(BatchNormShape s)
    {
        long channelBytes = Math.Max(1, (long)s.N * s.HW * sizeof(float));
        long byCache = Math.Max(1, BlockBytes / channelBytes);
        long byBalance = Math.Max(1, s.C / (4L * CpuParallel.Workers));
        return (int)Math.Min(Math.Min(byCache, byBalance), s.C);
    }

    /// <summary>Runs body(first channel, channels) over the blocks of <see cref="BlockChannels"/>, on all cores.</summary>
    private static void ForChannelBlocks(BatchNormShape s, Action<int, int> body)
    {
        int block = BlockChannels(s);
        CpuParallel.For((s.C + block - 1) / block, i =>
        {
            int first = i * block;
            body(first, Math.Min(block, s.C - first));
        });
    }

    /// <summary>The first value of channel c's row of image n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long Row(BatchNormShape s, int n, int c) => ((long)n * s.C + c) * s.HW;

    /// <summary>
    /// mean = E[x], var = E[(x - mean)^2], y = gamma (x - mean) / sqrt(var + eps) + beta per channel; saves mean and
    /// 1/sqrt(var + eps); running = (1 - momentum) running + momentum stat with the unbiased variance var M / (M - 1).
    /// Then y = max(y + residual, 0) when <paramref name="relu"/> (residual: none when null), else y as it is (residual must be null).
    /// </summary>
    public static void TrainForward(BatchNormShape s, float* x, float* gamma, float* beta, float* runningMean, float* runningVar,
        float momentum, float eps, float* y, float* saveMean, float* saveInvStd, float* residual = null, bool relu = false)
    {
        ForChannelBlocks(s, (first, count) => TrainForwardBlock(s, first, count, x, gamma, beta, runningMean, runningVar, momentum, eps,
            y, saveMean, saveInvStd, residual, relu));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TrainForwardBlock(BatchNormShape s, int first, int count, float* x, float* gamma, float* beta, float* runningMean,
        float* runningVar, float momentum, float eps, float* y, float* saveMean, float* saveInvStd, float* residual, bool relu)
    {
        long m = (long)s.N * s.HW;
        Span<double> sums = stackalloc double[count];
        Span<double> squares = stackalloc double[count];
        sums.Clear();
        squares.Clear();
        for (int n = 0; n < s.N; n++)
        {
            float* row = x + Row(s, n, first);
            for (int j = 0; j < count; j++) sums[j] += RowSum(row + (long)j * s.HW, s.HW);
        }
        for (int j = 0; j < count; j++) sums[j] /= m; // the means
        for (int n = 0; n < s.N; n++)
        {
            float* row = x + Row(s, n, first);
            for (int j = 0; j < count; j++) squares[j] += RowSumOfSquaredDeviations(row + (long)j * s.HW, s.HW, (float)sums[j]);
        }
        for (int j = 0; j < count; j++)
        {
            int c = first + j;
            double mean = sums[j], variance = squares[j] / m;
            double invStd = 1.0 / Math.Sqrt(variance + eps);
            saveMean[c] = (float)mean;
            saveInvStd[c] = (float)invStd;
            double unbiased = m > 1 ? variance * m / (m - 1) : variance;
            runningMean[c] = (float)((1 - momentum) * runningMean[c] + momentum * mean);
            runningVar[c] = (float)((1 - momentum) * runningVar[c] + momentum * unbiased);
        }
        // From the saved (fp32) statistics, so that Apply recomputes y exactly.
        NormalizeBlock(s, first, count, x, gamma, beta, saveMean, saveInvStd, residual, relu, y);
    }

    /// <summary>
    /// y = gamma (x - saveMean) saveInvStd + beta: a training forward's output, from its saved statistics; then
    /// y = max(y + residual, 0) when <paramref name="relu"/> (residual: none when null). y may be x.
    /// </summary>
    public static void Apply(BatchNormShape s, float* x, float* gamma, float* beta, float* saveMean, float* saveInvStd, float* y,
        float* residual = null, bool relu = false)
    {
        ForChannelBlocks(s, (first, count) => NormalizeBlock(s, first, count, x, gamma, beta, saveMean, saveInvStd, residual, relu, y));
    }

    /// <summary>scale = gamma invStd, shift = beta - mean scale, rounded to fp32 from fp64: the one definition the forward, its
    /// recomputation and the ReLU mask of the backward share.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (float Scale, float Shift) ScaleShift(float gamma, float beta, float mean, float invStd)
        => ((float)((double)gamma * invStd), (float)(beta - (double)mean * gamma * invStd));

    /// <summary>Channels [first, first + count) of y = scale x + shift (then + residual and ReLU when <paramref name="relu"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NormalizeBlock(BatchNormShape s, int first, int count, float* x, float* gamma, float* beta, float* mean,
        float* invStd, float* residual, bool relu, float* y)
    {
        Span<float> scale = stackalloc float[count];
        Span<float> shift = stackalloc float[count];
        for (int j = 0; j < count; j++)
        {
            int c = first + j;
            (scale[j], shift[j]) = ScaleShift(gamma[c], beta[c], mean[c], invStd[c]);
        }
        for (int n = 0; n < s.N; n++)
        {
            long start = Row(s, n, first);
            for (int j = 0; j < count; j++)
            {
                long row = start + (long)j * s.HW;
                if (relu) RowScaleShiftAddRelu(x + row, residual == null ? null : residual + row, y + row, s.HW, scale[j], shift[j]);
                else RowScaleShift(x + row, y + row, s.HW, scale[j], shift[j]);
            }
        }
    }

    /// <summary>y = gamma (x - runningMean) / sqrt(runningVar + eps) + beta.</summary>
    public static void EvalForward(BatchNormShape s, float* x, float* gamma, float* beta, float* runningMean, float* runningVar,
        float eps, float* y)
    {
        ForChannelBlocks(s, (first, count) =>
        {
            Span<float> scale = stackalloc float[count];
            Span<float> shift = stackalloc float[count];
            for (int j = 0; j < count; j++)
            {
                int c = first + j;
                double invStd = 1.0 / Math.Sqrt(runningVar[c] + (double)eps);
                scale[j] = (float)(gamma[c] * invStd);
                shift[j] = (float)(beta[c] - runningMean[c] * gamma[c] * invStd);
            }
            for (int n = 0; n < s.N; n++)
                for (int j = 0; j < count; j++)
                {
                    long row = Row(s, n, first + j);
                    RowScaleShift(x + row, y + row, s.HW, scale[j], shift[j]);
                }
        });
    }

    /// <summary>
    /// xhat = (x - mean) invStd: dbeta = sum dy, dgamma = sum dy xhat, dx = gamma invStd / M (M dy - dbeta - xhat dgamma),
    /// computed as dx = a dy + b (x - mean) + c per channel. With <paramref name="relu"/>, dy is the gradient at max(bn(x), 0)
    /// and is masked on the fly (taken where scale x + shift &gt; 0, exactly the forward's test; beta is then needed) and left as
    /// it is in memory. dx may be dy.
    /// </summary>
    public static void Backward(BatchNormShape s, float* x, float* dy, float* gamma, float* saveMean, float* saveInvStd,
        float* dx, float* dgamma, float* dbeta, float* beta = null, bool relu = false)
    {
        if (relu && beta == null) throw new ArgumentNullException(nameof(beta), "the ReLU mask needs beta");
        ForChannelBlocks(s, (first, count) => BackwardBlock(s, first, count, x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta, beta, relu));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardBlock(BatchNormShape s, int first, int count, float* x, float* dy, float* gamma, float* saveMean,
        float* saveInvStd, float* dx, float* dgamma, float* dbeta, float* beta, bool relu)
    {
        long m = (long)s.N * s.HW;
        Span<double> sumDy = stackalloc double[count];
        Span<double> sumDyCentered = stackalloc double[count];
        Span<float> maskScale = stackalloc float[count];
        Span<float> maskShift = stackalloc float[count];
        sumDy.Clear();
        sumDyCentered.Clear();
        for (int j = 0; j < count; j++)
        {
            int c = first + j;
            (maskScale[j], maskShift[j]) = relu ? ScaleShift(gamma[c], beta[c], saveMean[c], saveInvStd[c]) : (0f, 0f);
        }
        for (int n = 0; n < s.N; n++)
        {
            long start = Row(s, n, first);
            for (int j = 0; j < count; j++)
            {
                long row = start + (long)j * s.HW;
                float mean = saveMean[first + j];
                var (rowDy, rowDyCentered) = relu
                    ? RowSumAndDotMasked(dy + row, x + row, s.HW, mean, maskScale[j], maskShift[j])
                    : RowSumAndDot(dy + row, x + row, s.HW, mean);
                sumDy[j] += rowDy;
                sumDyCentered[j] += rowDyCentered;
            }
        }
        Span<float> a = stackalloc float[count];
        Span<float> b = stackalloc float[count];
        Span<float> cc = stackalloc float[count];
        for (int j = 0; j < count; j++)
        {
            int c = first + j;
            double invStd = saveInvStd[c];
            double dBeta = sumDy[j], dGamma = sumDyCentered[j] * invStd;
            dbeta[c] = (float)dBeta;
            dgamma[c] = (float)dGamma;
            double g = gamma[c];
            a[j] = (float)(g * invStd);
            b[j] = (float)(-g * invStd * invStd * dGamma / m);
            cc[j] = (float)(-g * invStd * dBeta / m);
        }
        for (int n = 0; n < s.N; n++)
        {
            long start = Row(s, n, first);
            for (int j = 0; j < count; j++)
            {
                long row = start + (long)j * s.HW;
                float mean = saveMean[first + j];
                if (relu) RowAxpbypcMasked(dy + row, x + row, dx + row, s.HW, a[j], b[j], mean, cc[j], maskScale[j], maskShift[j]);
                else RowAxpbypc(dy + row, x + row, dx + row, s.HW, a[j], b[j], mean, cc[j]);
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
        ForChannelBlocks(s, (first, count) => EvalBackwardBlock(s, first, count, x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void EvalBackwardBlock(BatchNormShape s, int first, int count, float* x, float* dy, float* gamma, float* saveMean,
        float* saveInvStd, float* dx, float* dgamma, float* dbeta)
    {
        Span<double> sumDy = stackalloc double[count];
        Span<double> sumDyCentered = stackalloc double[count];
        sumDy.Clear();
        sumDyCentered.Clear();
        for (int n = 0; n < s.N; n++)
            for (int j = 0; j < count; j++)
            {
                long row = Row(s, n, first + j);
                var (rowDy, rowDyCentered) = RowSumAndDot(dy + row, x + row, s.HW, saveMean[first + j]);
                sumDy[j] += rowDy;
                sumDyCentered[j] += rowDyCentered;
            }
        Span<float> a = stackalloc float[count];
        for (int j = 0; j < count; j++)
        {
            int c = first + j;
            double invStd = saveInvStd[c];
            dbeta[c] = (float)sumDy[j];
            dgamma[c] = (float)(sumDyCentered[j] * invStd);
            a[j] = (float)(gamma[c] * invStd);
        }
        for (int n = 0; n < s.N; n++)
            for (int j = 0; j < count; j++)
            {
                long row = Row(s, n, first + j);
                RowScaleShift(dy + row, dx + row, s.HW, a[j], 0f);
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

    /// <summary><see cref="RowSumAndDot"/> of dy masked to where scale x + shift &gt; 0 (the ReLU after the BatchNorm passed it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (double, double) RowSumAndDotMasked(float* dy, float* x, int length, float mean, float scale, float shift)
    {
        var sumV = Vector512<float>.Zero;
        var dotV = Vector512<float>.Zero;
        var meanV = Vector512.Create(mean);
        var scaleV = Vector512.Create(scale);
        var shiftV = Vector512.Create(shift);
        int i = 0;
        for (; i + 16 <= length; i += 16)
        {
            var xv = Vector512.Load(x + i);
            var d = Vector512.BitwiseAnd(Vector512.Load(dy + i),
                Vector512.GreaterThan(Vector512.FusedMultiplyAdd(xv, scaleV, shiftV), Vector512<float>.Zero));
            sumV += d;
            dotV = Vector512.FusedMultiplyAdd(d, xv - meanV, dotV);
        }
        double sum = Vector512.Sum(sumV), dot = Vector512.Sum(dotV);
        for (; i < length; i++)
        {
            float d = MathF.FusedMultiplyAdd(x[i], scale, shift) > 0f ? dy[i] : 0f;
            sum += d;
            dot += d * (double)(x[i] - mean);
        }
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

    /// <summary>y = max(scale x + shift + residual, 0) over one row (no residual when null; y may be x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowScaleShiftAddRelu(float* x, float* residual, float* y, int length, float scale, float shift)
    {
        var scaleV = Vector512.Create(scale);
        var shiftV = Vector512.Create(shift);
        int i = 0;
        if (residual == null)
        {
            for (; i + 16 <= length; i += 16)
                Vector512.Store(Vector512.Max(Vector512.FusedMultiplyAdd(Vector512.Load(x + i), scaleV, shiftV), Vector512<float>.Zero), y + i);
            for (; i < length; i++) y[i] = MathF.Max(MathF.FusedMultiplyAdd(x[i], scale, shift), 0f);
        }
        else
        {
            for (; i + 16 <= length; i += 16)
                Vector512.Store(Vector512.Max(Vector512.FusedMultiplyAdd(Vector512.Load(x + i), scaleV, shiftV) + Vector512.Load(residual + i),
                    Vector512<float>.Zero), y + i);
            for (; i < length; i++) y[i] = MathF.Max(MathF.FusedMultiplyAdd(x[i], scale, shift) + residual[i], 0f);
        }
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

    /// <summary><see cref="RowAxpbypc"/> of dy masked to where scale x + shift &gt; 0 (dx may be dy).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowAxpbypcMasked(float* dy, float* x, float* dx, int length, float a, float b, float mean, float c,
        float scale, float shift)
    {
        var aV = Vector512.Create(a);
        var bV = Vector512.Create(b);
        var cV = Vector512.Create(c);
        var meanV = Vector512.Create(mean);
        var scaleV = Vector512.Create(scale);
        var shiftV = Vector512.Create(shift);
        int i = 0;
        for (; i + 16 <= length; i += 16)
        {
            var xv = Vector512.Load(x + i);
            var d = Vector512.BitwiseAnd(Vector512.Load(dy + i),
                Vector512.GreaterThan(Vector512.FusedMultiplyAdd(xv, scaleV, shiftV), Vector512<float>.Zero));
            Vector512.Store(Vector512.FusedMultiplyAdd(d, aV, Vector512.FusedMultiplyAdd(xv - meanV, bV, cV)), dx + i);
        }
        for (; i < length; i++)
        {
            float d = MathF.FusedMultiplyAdd(x[i], scale, shift) > 0f ? dy[i] : 0f;
            dx[i] = a * d + (b * (x[i] - mean) + c);
        }
    }
}
