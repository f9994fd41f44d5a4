using ILGPU;

namespace IlgpuUnlearn.Kernels;

/// <summary>
/// The fully connected head: x (N, In), w (Out, In), b (Out), y (N, Out). It is tiny next to the
/// convolutions (512 -> 10), so one thread per output element with a plain dot product is enough.
/// </summary>
public static class LinearKernels
{
    /// <summary>y[n, o] = b[o] + sum_k x[n, k] w[o, k]; one thread per (n, o).</summary>
    public static void Forward(Index1D i, ArrayView<float> x, ArrayView<float> w, ArrayView<float> b,
        int inFeatures, int outFeatures, ArrayView<float> y)
    {
        int n = i / outFeatures, o = i - n * outFeatures;
        float sum = 0f;
        for (int k = 0; k < inFeatures; k++)
            sum += x[n * inFeatures + k] * w[o * inFeatures + k];
        y[i] = sum + b[o];
    }

    /// <summary>dx[n, k] = sum_o dy[n, o] w[o, k]; one thread per (n, k).</summary>
    public static void BackwardInput(Index1D i, ArrayView<float> dy, ArrayView<float> w,
        int inFeatures, int outFeatures, ArrayView<float> dx)
    {
        int n = i / inFeatures, k = i - n * inFeatures;
        float sum = 0f;
        for (int o = 0; o < outFeatures; o++)
            sum += dy[n * outFeatures + o] * w[o * inFeatures + k];
        dx[i] = sum;
    }

    /// <summary>dw[o, k] = sum_n dy[n, o] x[n, k]; one thread per (o, k).</summary>
    public static void BackwardWeight(Index1D i, ArrayView<float> x, ArrayView<float> dy,
        int batch, int inFeatures, int outFeatures, ArrayView<float> dw)
    {
        int o = i / inFeatures, k = i - o * inFeatures;
        float sum = 0f;
        for (int n = 0; n < batch; n++)
            sum += dy[n * outFeatures + o] * x[n * inFeatures + k];
        dw[i] = sum;
    }

    /// <summary>db[o] = sum_n dy[n, o]; one thread per o.</summary>
    public static void BackwardBias(Index1D o, ArrayView<float> dy, int batch, int outFeatures, ArrayView<float> db)
    {
        float sum = 0f;
        for (int n = 0; n < batch; n++)
            sum += dy[n * outFeatures + o];
        db[o] = sum;
    }
}
