using ILGPU;

namespace IlgpuUnlearn.Kernels;

/// <summary>ReLU, forward and backward: one thread per element.</summary>
public static class ReluKernels
{
    /// <summary>y = max(x, 0). y may be x.</summary>
    public static void Forward(Index1D i, ArrayView<float> x, ArrayView<float> y)
    {
        float v = x[i];
        y[i] = v > 0f ? v : 0f;
    }

    /// <summary>dx = dy where the forward output y &gt; 0, else 0. dx may be dy.</summary>
    public static void Backward(Index1D i, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx)
    {
        int e = ElementIndex.Of(i);
        dx[e] = y[e] > 0f ? dy[e] : 0f;
    }
}
