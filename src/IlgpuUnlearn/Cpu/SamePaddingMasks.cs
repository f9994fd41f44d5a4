using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace IlgpuUnlearn.Cpu;

/// <summary>
/// For a "same" stride-1 convolution (output as large as the input) on images of whole vectors (H W a multiple of 16): im2col
/// reads the 16 pixels q .. q + 15 of an image for kernel tap (kh, kw) as one masked load from x[n, ci] + q + (kh - p) W + (kw - p),
/// the lanes whose (oh + kh - p, ow + kw - p) falls into the padding masked off. This table holds those masks, built once
/// per convolution: mask (kh, kw, q) at <c>Table[(kh K + kw) (H W / 16) + q / 16]</c>.
/// </summary>
internal sealed unsafe class SamePaddingMasks
{
    private readonly CpuScratch _table = new();

    /// <summary>
    /// The masks of every tap of a K x K kernel over every vector of an h x w image, or null when the convolution is not a
    /// "same" stride-1 one on images of whole vectors (or the machine has no AVX-512 masked loads).
    /// </summary>
    public Vector512<float>* For(int h, int w, int k, int stride, int pad)
    {
        int outH = (h + 2 * pad - k) / stride + 1, outW = (w + 2 * pad - k) / stride + 1;
        if (stride != 1 || outH != h || outW != w || h * w % 16 != 0 || !Avx512F.IsSupported
            || CpuKernelPlan.Current.Im2col != Im2colStrategy.MaskedLoads) return null;
        int vectors = h * w / 16;
        var table = (Vector512<float>*)_table.Get((long)k * k * vectors * 16);
        for (int kh = 0; kh < k; kh++)
            for (int kw = 0; kw < k; kw++)
                for (int v = 0; v < vectors; v++)
                    table[(kh * k + kw) * vectors + v] = Mask(16 * v, h, w, kh - pad, kw - pad);
        return table;
    }

    /// <summary>
    /// For pixels q .. q + 15 of an h x w image (lane l is pixel q + l, at row oh, column ow): all ones in the lanes where
    /// (oh + dh, ow + dw) lies inside the image, zero elsewhere.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Mask(int q, int h, int w, int dh, int dw)
    {
        var pixel = Vector512.Create(q) + Vector512<int>.Indices;
        // oh = floor(pixel / w), exact in single precision for any image below 2^22 pixels
        var oh = Vector512.ConvertToInt32(Vector512.Floor((Vector512.ConvertToSingle(pixel) + Vector512.Create(0.5f)) / w));
        var ow = pixel - oh * w;
        var insideRows = Vector512.LessThan((oh + Vector512.Create(dh)).AsUInt32(), Vector512.Create((uint)h));
        var insideColumns = Vector512.LessThan((ow + Vector512.Create(dw)).AsUInt32(), Vector512.Create((uint)w));
        return (insideRows & insideColumns).AsSingle();
    }
}
