using ILGPU;

namespace IlgpuUnlearn.Kernels;

/// <summary>Elementwise arithmetic over flat buffers: one thread per element.</summary>
public static class ElementwiseKernels
{
    /// <summary>y[i] = value.</summary>
    public static void Fill(Index1D i, ArrayView<float> y, float value) => y[i] = value;

    /// <summary>y[i] = a[i] + b[i] (y may be a or b: each thread reads before it writes its own element).</summary>
    public static void Add(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y) => y[i] = a[i] + b[i];

    /// <summary>y[i] = a[i] * b[i] (SalUn's gradient mask g = g * mask; y may be a or b).</summary>
    public static void Multiply(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y) => y[i] = a[i] * b[i];

    /// <summary>g[i] = g[i] + scale sign(p[i]), sign(0) = 0 (l1-sparse unlearning's penalty gradient).</summary>
    public static void AddScaledSign(Index1D i, ArrayView<float> g, ArrayView<float> p, float scale)
    {
        // The element from the grid, not i: the branch on p's sign must not come out as bra.uni (see ElementIndex).
        int e = ElementIndex.Of(i);
        float v = p[e];
        g[e] = g[e] + (v > 0 ? scale : v < 0 ? -scale : 0f);
    }

    /// <summary>g[i] = retainScale gRetain[i] + forgetScale gForget[i] (g may alias either input).</summary>
    public static void CombineGradients(Index1D i, ArrayView<float> gRetain, ArrayView<float> gForget,
        float retainScale, float forgetScale, ArrayView<float> g)
        => g[i] = retainScale * gRetain[i] + forgetScale * gForget[i];
}
