using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Cpu;

/// <summary>
/// BatchNorm2d over x (N, C, HW): a channel is N rows of HW contiguous values, row r = n C + c. Every pass walks the rows in
/// memory order, in contiguous ranges split over the cores (a channel-by-channel walk jumps C HW values between rows, which
/// costs about twice the time of a stream at the 32x32 stage); the reductions first write one partial per row into a table,
/// then add the table up per channel in image order: fp32 vector sums within a row, fp64 over rows, so that the result does
/// not depend on the split or the number of cores. The ReLU and the residual add that follow a BatchNorm in the network are
/// applied in its output pass, and the ReLU's backward mask is recomputed from x in its backward
/// (<see cref="IOps.BatchNormReluBackward"/>).
/// </summary>
internal static unsafe class CpuBatchNorm
{
    /// <summary>Values below which a range is not split further (128 KiB of floats).</summary>
    private const long MinChunk = 1 << 15;

    /// <summary>Per-thread scratch: the per-row partials (two fp64 per row), and the per-channel coefficients.</summary>
    [ThreadStatic] private static CpuScratch? t_rows, t_channels;

    /// <summary>Two fp64 per row of <paramref name="s"/>: at [r] and [N C + r] (the forward keeps its C means in the second half).</summary>
    private static double* RowTable(BatchNormShape s) => (double*)(t_rows ??= new CpuScratch()).Get(4L * s.N * s.C);

    /// <summary><paramref name="arrays"/> arrays of C floats, one after the other.</summary>
    private static float* ChannelArrays(BatchNormShape s, int arrays) => (t_channels ??= new CpuScratch()).Get((long)arrays * s.C);

    /// <summary>
    /// Runs body(first row, rows) over contiguous ranges of the N C rows: up to four per core for balance, none under
    /// <see cref="MinChunk"/> values.
    /// </summary>
    private static void ForRowRanges(BatchNormShape s, Action<long, long> body)
    {
        long rows = (long)s.N * s.C;
        int chunks = (int)Math.Clamp(rows * s.HW / MinChunk, 1, Math.Min(rows, 4L * CpuParallel.Workers));
        if (chunks == 1)
        {
            body(0, rows);
            return;
        }
        CpuParallel.For(chunks, k =>
        {
            long first = rows * k / chunks, end = rows * (k + 1) / chunks;
            if (end > first) body(first, end - first);
        });
    }

    /// <summary>
    /// mean = E[x], var = E[(x - mean)^2], y = gamma (x - mean) / sqrt(var + eps) + beta per channel; saves mean and
    /// 1/sqrt(var + eps); running = (1 - momentum) running + momentum stat with the unbiased variance var M / (M - 1).
    /// Then y = max(y + residual, 0) when <paramref name="relu"/> (residual: none when null). y may be x.
    /// Two reads of x for the statistics (the row sums, then the rows' squared deviations from the channel's mean): the same
    /// operations in the same order as a channel-by-channel loop, so the statistics keep their bits. (One read, with the rows'
    /// deviations from their own means combined per channel, is as accurate but rounds differently, and the fidelity tests of
    /// the methods whose running statistics are ill-conditioned, SCRUB's, sit at their tolerance with either rounding.)
    /// </summary>
    public static void TrainForward(BatchNormShape s, float* x, float* gamma, float* beta, float* runningMean, float* runningVar,
        float momentum, float eps, float* y, float* saveMean, float* saveInvStd, float* residual = null, bool relu = false)
    {
        long rows = (long)s.N * s.C, m = (long)s.N * s.HW;
        double* table = RowTable(s);
        ForRowRanges(s, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, count) =>
        {
            for (long r = first; r < first + count; r++) table[r] = RowSum(x + r * s.HW, s.HW);
        });
        double* means = table + rows;
        for (int c = 0; c < s.C; c++)
        {
            means[c] = ChannelTotal(table, rows, c, s.C) / m;
        }
        ForRowRanges(s, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, count) =>
        {
            int c = (int)(first % s.C);
            for (long r = first; r < first + count; r++)
            {
                table[r] = RowSumOfSquaredDeviations(x + r * s.HW, s.HW, (float)means[c]);
                if (++c == s.C) c = 0;
            }
        });
        for (int c = 0; c < s.C; c++)
        {
            double mean = means[c], variance = ChannelTotal(table, rows, c, s.C) / m;
            double invStd = 1.0 / Math.Sqrt(variance + eps);
            saveMean[c] = (float)mean;
            saveInvStd[c] = (float)invStd;
            double unbiased = m > 1 ? variance * m / (m - 1) : variance;
            runningMean[c] = (float)((1 - momentum) * runningMean[c] + momentum * mean);
            runningVar[c] = (float)((1 - momentum) * runningVar[c] + momentum * unbiased);
        }
        // From the saved (fp32) statistics, so that Apply recomputes y exactly.
        Apply(s, x, gamma, beta, saveMean, saveInvStd, y, residual, relu);
    }

    /// <summary>
    /// y = gamma (x - saveMean) saveInvStd + beta: a training forward's output, from its saved statistics; then
    /// y = max(y + residual, 0) when <paramref name="relu"/> (residual: none when null). y may be x.
    /// </summary>
    public static void Apply(BatchNormShape s, float* x, float* gamma, float* beta, float* saveMean, float* saveInvStd, float* y,
        float* residual = null, bool relu = false)
    {
        float* scale = ChannelArrays(s, 2), shift = scale + s.C;
        for (int c = 0; c < s.C; c++) (scale[c], shift[c]) = ScaleShift(gamma[c], beta[c], saveMean[c], saveInvStd[c]);
        ScaleShiftRows(s, x, scale, shift, residual, relu, y);
    }

    /// <summary>scale = gamma invStd, shift = beta - mean scale, rounded to fp32 from fp64: the one definition the forward, its
    /// recomputation and the ReLU mask of the backward share.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (float Scale, float Shift) ScaleShift(float gamma, float beta, float mean, float invStd)
        => ((float)((double)gamma * invStd), (float)(beta - (double)mean * gamma * invStd));

    /// <summary>y = scale[c] x + shift[c] per row (then + residual and ReLU when <paramref name="relu"/>).</summary>
    private static void ScaleShiftRows(BatchNormShape s, float* x, float* scale, float* shift, float* residual, bool relu, float* y)
    {
        ForRowRanges(s, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, count) =>
        {
            int c = (int)(first % s.C);
            for (long r = first; r < first + count; r++)
            {
                long at = r * s.HW;
                if (relu) RowScaleShiftAddRelu(x + at, residual == null ? null : residual + at, y + at, s.HW, scale[c], shift[c]);
                else RowScaleShift(x + at, y + at, s.HW, scale[c], shift[c]);
                if (++c == s.C) c = 0;
            }
        });
    }

    /// <summary>y = gamma (x - runningMean) / sqrt(runningVar + eps) + beta.</summary>
    public static void EvalForward(BatchNormShape s, float* x, float* gamma, float* beta, float* runningMean, float* runningVar,
        float eps, float* y)
    {
        float* scale = ChannelArrays(s, 2), shift = scale + s.C;
        for (int c = 0; c < s.C; c++)
        {
            double invStd = 1.0 / Math.Sqrt(runningVar[c] + (double)eps);
            scale[c] = (float)(gamma[c] * invStd);
            shift[c] = (float)(beta[c] - runningMean[c] * gamma[c] * invStd);
        }
        ScaleShiftRows(s, x, scale, shift, null, false, y);
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
        long rows = (long)s.N * s.C;
        double* table = RowTable(s);
        float* channels = ChannelArrays(s, 5);
        float* maskScale = channels, maskShift = channels + s.C, a = channels + 2 * s.C, b = channels + 3 * s.C, cc = channels + 4 * s.C;
        if (relu)
            for (int c = 0; c < s.C; c++) (maskScale[c], maskShift[c]) = ScaleShift(gamma[c], beta[c], saveMean[c], saveInvStd[c]);
        ForRowRanges(s, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, count) =>
        {
            int c = (int)(first % s.C);
            for (long r = first; r < first + count; r++)
            {
                long at = r * s.HW;
                (table[r], table[rows + r]) = relu
                    ? RowSumAndDotMasked(dy + at, x + at, s.HW, saveMean[c], maskScale[c], maskShift[c])
                    : RowSumAndDot(dy + at, x + at, s.HW, saveMean[c]);
                if (++c == s.C) c = 0;
            }
        });
        long m = rows / s.C * s.HW;
        for (int c = 0; c < s.C; c++)
        {
            double dBeta = ChannelTotal(table, rows, c, s.C), sumDyCentered = ChannelTotal(table + rows, rows, c, s.C);
            double invStd = saveInvStd[c];
            double dGamma = sumDyCentered * invStd;
            dbeta[c] = (float)dBeta;
            dgamma[c] = (float)dGamma;
            double g = gamma[c];
            a[c] = (float)(g * invStd);
            b[c] = (float)(-g * invStd * invStd * dGamma / m);
            cc[c] = (float)(-g * invStd * dBeta / m);
        }
        ForRowRanges(s, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, count) =>
        {
            int c = (int)(first % s.C);
            for (long r = first; r < first + count; r++)
            {
                long at = r * s.HW;
                if (relu) RowAxpbypcMasked(dy + at, x + at, dx + at, s.HW, a[c], b[c], saveMean[c], cc[c], maskScale[c], maskShift[c]);
                else RowAxpbypc(dy + at, x + at, dx + at, s.HW, a[c], b[c], saveMean[c], cc[c]);
                if (++c == s.C) c = 0;
            }
        });
    }

    /// <summary>
    /// The sum over images of one channel's per-row values: rowValues[c] + rowValues[C + c] + ... over the (N C) rows of a
    /// table, in image order, so the total does not depend on how the rows were split between the cores.
    /// </summary>
    private static double ChannelTotal(double* rowValues, long rows, int c, int channels)
    {
        double sum = 0;
        for (long r = c; r < rows; r += channels) sum += rowValues[r];
        return sum;
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
        long rows = (long)s.N * s.C;
        double* table = RowTable(s);
        ForRowRanges(s, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, count) =>
        {
            int c = (int)(first % s.C);
            for (long r = first; r < first + count; r++)
            {
                long at = r * s.HW;
                (table[r], table[rows + r]) = RowSumAndDot(dy + at, x + at, s.HW, saveMean[c]);
                if (++c == s.C) c = 0;
            }
        });
        float* a = ChannelArrays(s, 2), zero = a + s.C;
        for (int c = 0; c < s.C; c++)
        {
            double sumDy = ChannelTotal(table, rows, c, s.C), sumDyCentered = ChannelTotal(table + rows, rows, c, s.C);
            double invStd = saveInvStd[c];
            dbeta[c] = (float)sumDy;
            dgamma[c] = (float)(sumDyCentered * invStd);
            a[c] = (float)(gamma[c] * invStd);
            zero[c] = 0f;
        }
        ScaleShiftRows(s, dy, a, zero, null, false, dx);
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

    /// <summary>dy where the ReLU after the BatchNorm passed its input, scale x + shift &gt; 0; else 0 (16 lanes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ReluPassed(Vector512<float> dy, Vector512<float> x, Vector512<float> scale, Vector512<float> shift)
        => Vector512.BitwiseAnd(dy, Vector512.GreaterThan(Vector512.FusedMultiplyAdd(x, scale, shift), Vector512<float>.Zero));

    /// <summary>dy where the ReLU after the BatchNorm passed its input, scale x + shift &gt; 0; else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ReluPassed(float dy, float x, float scale, float shift) => MathF.FusedMultiplyAdd(x, scale, shift) > 0f ? dy : 0f;

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
            var d = ReluPassed(Vector512.Load(dy + i), xv, scaleV, shiftV);
            sumV += d;
            dotV = Vector512.FusedMultiplyAdd(d, xv - meanV, dotV);
        }
        double sum = Vector512.Sum(sumV), dot = Vector512.Sum(dotV);
        for (; i < length; i++)
        {
            float d = ReluPassed(dy[i], x[i], scale, shift);
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
            var d = ReluPassed(Vector512.Load(dy + i), xv, scaleV, shiftV);
            Vector512.Store(Vector512.FusedMultiplyAdd(d, aV, Vector512.FusedMultiplyAdd(xv - meanV, bV, cV)), dx + i);
        }
        for (; i < length; i++)
        {
            float d = ReluPassed(dy[i], x[i], scale, shift);
            dx[i] = a * d + (b * (x[i] - mean) + c);
        }
    }
}
