using System.Numerics.Tensors;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Cpu;

/// <summary>The network's head: global average pooling, the fully connected layer, log-softmax + NLL, distillation KL. All small.</summary>
internal static class CpuHead
{
    /// <summary>y (N, C) = mean of x (N, C, HW) over HW.</summary>
    public static void GlobalAvgPoolForward(int n, int c, int hw, ReadOnlySpan<float> x, Span<float> y)
    {
        for (int row = 0; row < n * c; row++) y[row] = TensorPrimitives.Sum(x.Slice(row * hw, hw)) / hw;
    }

    /// <summary>dx (N, C, HW) = dy (N, C) / HW.</summary>
    public static void GlobalAvgPoolBackward(int n, int c, int hw, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int row = 0; row < n * c; row++) dx.Slice(row * hw, hw).Fill(dy[row] / hw);
    }

    /// <summary>y (N, Out) = x (N, In) w^T + b, w (Out, In).</summary>
    public static void LinearForward(LinearShape s, ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, Span<float> y)
    {
        for (int n = 0; n < s.N; n++)
            for (int o = 0; o < s.Out; o++)
                y[n * s.Out + o] = TensorPrimitives.Dot(x.Slice(n * s.In, s.In), w.Slice(o * s.In, s.In)) + b[o];
    }

    /// <summary>dx (N, In) = dy w, dw (Out, In) = dy^T x, db (Out) = sum over N of dy.</summary>
    public static void LinearBackward(LinearShape s, ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> dy,
        Span<float> dx, Span<float> dw, Span<float> db)
    {
        dx.Clear();
        dw.Clear();
        db.Clear();
        for (int n = 0; n < s.N; n++)
        {
            var xRow = x.Slice(n * s.In, s.In);
            var dxRow = dx.Slice(n * s.In, s.In);
            for (int o = 0; o < s.Out; o++)
            {
                float g = dy[n * s.Out + o];
                db[o] += g;
                TensorPrimitives.MultiplyAdd(w.Slice(o * s.In, s.In), g, dxRow, dxRow);
                var dwRow = dw.Slice(o * s.In, s.In);
                TensorPrimitives.MultiplyAdd(xRow, g, dwRow, dwRow);
            }
        }
    }

    /// <summary>
    /// loss[0] = (1/N) sum_n (logsumexp(logits_n) - logits_n[label_n]); dlogits = scale / N (softmax(logits) - onehot(labels)).
    /// </summary>
    public static void SoftmaxNllLoss(int n, int classes, ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, float scale,
        Span<float> loss, Span<float> dlogits)
    {
        double total = 0;
        float gradScale = scale / n;
        for (int row = 0; row < n; row++)
        {
            var z = logits.Slice(row * classes, classes);
            var dz = dlogits.Slice(row * classes, classes);
            int label = labels[row];
            if ((uint)label >= (uint)classes) throw new ArgumentOutOfRangeException(nameof(labels), $"label {label} of row {row} is not a class");
            float max = TensorPrimitives.Max(z);
            double sumExp = 0;
            for (int k = 0; k < classes; k++) sumExp += Math.Exp(z[k] - max);
            double logSumExp = max + Math.Log(sumExp);
            total += logSumExp - z[label];
            for (int k = 0; k < classes; k++)
            {
                double p = Math.Exp(z[k] - logSumExp);
                dz[k] = (float)(gradScale * (p - (k == label ? 1.0 : 0.0)));
            }
        }
        loss[0] = (float)(total / n);
    }

    /// <summary>
    /// Distillation KL at temperature T (Hinton et al. 2015; SCRUB's DistillKL), per row in fp64:
    /// log p = (z - max z) / T - log sum_c exp((z_c - max z) / T) for the student s and the teacher t;
    /// loss[0] = T^2 / N sum_n sum_c p_t (log p_t - log p_s) (a p_t that underflows to 0 adds 0);
    /// dStudent = scale T / N (p_s - p_t), written or (accumulate) added.
    /// </summary>
    public static void KlDivergence(int n, int classes, ReadOnlySpan<float> student, ReadOnlySpan<float> teacher, float temperature,
        float scale, Span<float> loss, Span<float> dStudent, bool accumulate)
    {
        double t = temperature;
        double gradScale = (double)scale * t / n;
        Span<double> logPs = classes <= 256 ? stackalloc double[classes] : new double[classes];
        Span<double> logPt = classes <= 256 ? stackalloc double[classes] : new double[classes];
        double total = 0;
        for (int row = 0; row < n; row++)
        {
            LogSoftmax(student.Slice(row * classes, classes), t, logPs);
            LogSoftmax(teacher.Slice(row * classes, classes), t, logPt);
            var ds = dStudent.Slice(row * classes, classes);
            for (int c = 0; c < classes; c++)
            {
                double pt = Math.Exp(logPt[c]);
                total += pt * (logPt[c] - logPs[c]);
                double g = gradScale * (Math.Exp(logPs[c]) - pt);
                ds[c] = accumulate ? (float)(ds[c] + g) : (float)g;
            }
        }
        loss[0] = (float)(t * t / n * total);
    }

    /// <summary>logP_c = (z_c - max z) / T - log sum_k exp((z_k - max z) / T), in fp64.</summary>
    private static void LogSoftmax(ReadOnlySpan<float> z, double temperature, Span<double> logP)
    {
        float max = TensorPrimitives.Max(z);
        double sum = 0;
        for (int c = 0; c < z.Length; c++)
        {
            logP[c] = (z[c] - (double)max) / temperature;
            sum += Math.Exp(logP[c]);
        }
        double logSum = Math.Log(sum);
        for (int c = 0; c < z.Length; c++) logP[c] -= logSum;
    }
}
