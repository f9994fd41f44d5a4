using ILGPU;

namespace IlgpuUnlearn.Kernels;

/// <summary>Global average pooling over the spatial positions, x (N, C, HW) -> y (N, C).</summary>
public static class PoolKernels
{
    /// <summary>y[nc] = (1/HW) sum_j x[nc, j]; one thread per (n, c).</summary>
    public static void GlobalAvgForward(Index1D nc, ArrayView<float> x, int hw, ArrayView<float> y)
    {
        int start = nc * hw;
        float sum = 0f;
        for (int j = 0; j < hw; j++)
            sum += x[start + j];
        y[nc] = sum / hw;
    }

    /// <summary>dx[nc, j] = dy[nc] / HW; one thread per element of dx (N, C, HW).</summary>
    public static void GlobalAvgBackward(Index1D i, ArrayView<float> dy, int hw, ArrayView<float> dx)
        => dx[i] = dy[i / hw] / hw;
}
