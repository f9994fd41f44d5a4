using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace IlgpuUnlearn.Cpu;

/// <summary>Elementwise ops and the image loader: memory-bound, one pass each, vectorised and split over the cores.</summary>
internal static unsafe class CpuElementwise
{
    private const long MinChunk = 1 << 15;

    public static void Fill(Span<float> destination, float value) => destination.Fill(value);

    /// <summary>y = max(x, 0); y may be x.</summary>
    public static void ReluForward(float* x, float* y, long length)
    {
        CpuParallel.ForRanges(length, MinChunk, (start, count) =>
            TensorPrimitives.Max(new ReadOnlySpan<float>(x + start, (int)count), 0f, new Span<float>(y + start, (int)count)));
    }

    /// <summary>dx = dy where y &gt; 0, else 0; dx may be dy.</summary>
    public static void ReluBackward(float* y, float* dy, float* dx, long length)
    {
        CpuParallel.ForRanges(length, MinChunk, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, count) =>
        {
            float* ys = y + start, dys = dy + start, dxs = dx + start;
            long i = 0;
            for (; i + Vector512<float>.Count <= count; i += Vector512<float>.Count)
            {
                var positive = Vector512.GreaterThan(Vector512.Load(ys + i), Vector512<float>.Zero);
                Vector512.Store(Vector512.BitwiseAnd(Vector512.Load(dys + i), positive), dxs + i);
            }
            for (; i < count; i++) dxs[i] = ys[i] > 0f ? dys[i] : 0f;
        });
    }

    /// <summary>y = a + b; y may be a or b.</summary>
    public static void Add(float* a, float* b, float* y, long length)
    {
        CpuParallel.ForRanges(length, MinChunk, (start, count) =>
            TensorPrimitives.Add(new ReadOnlySpan<float>(a + start, (int)count), new ReadOnlySpan<float>(b + start, (int)count),
                new Span<float>(y + start, (int)count)));
    }

    /// <summary>
    /// y = a * b; y may be a or b (each vector is loaded before it is stored). Over the flat gradient (11M floats): all cores,
    /// Vector512.
    /// </summary>
    /// <summary>g = g + scale sign(p), sign(0) = 0 (the l1 penalty's gradient).</summary>
    public static void AddScaledSign(float* g, float* p, float scale, long length)
    {
        CpuParallel.ForRanges(length, MinChunk, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, count) =>
        {
            for (long i = start; i < start + count; i++)
            {
                float v = p[i];
                g[i] += v > 0 ? scale : v < 0 ? -scale : 0f;
            }
        });
    }

    public static void Multiply(float* a, float* b, float* y, long length)
    {
        CpuParallel.ForRanges(length, MinChunk, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, count) =>
        {
            float* aStart = a + start, bStart = b + start, yStart = y + start;
            long i = 0;
            for (; i + Vector512<float>.Count <= count; i += Vector512<float>.Count)
                Vector512.Store(Vector512.Load(aStart + i) * Vector512.Load(bStart + i), yStart + i);
            for (; i < count; i++) yStart[i] = aStart[i] * bStart[i];
        });
    }

    /// <summary>
    /// x (N, C, H, W) = (pixel / 255 - mean[c]) / std[c], C = mean.Length, the pixel taken at (i + shiftY - pad, j' + shiftX - pad) of the
    /// image, zero outside it, with j' = W - 1 - j when the image is flipped (crop first, then flip).
    /// </summary>
    public static void LoadImages(int n, int h, int w, ReadOnlySpan<byte> pixels, ReadOnlySpan<int> augment, bool augmented,
        int pad, ReadOnlySpan<float> mean, ReadOnlySpan<float> std, Span<float> x)
    {
        int channels = mean.Length;
        Span<float> scale = stackalloc float[channels];
        Span<float> offset = stackalloc float[channels];
        for (int c = 0; c < channels; c++)
        {
            scale[c] = 1f / (255f * std[c]);
            offset[c] = -mean[c] / std[c];
        }
        for (int img = 0; img < n; img++)
        {
            int shiftY = augmented ? augment[img * 3] - pad : 0;
            int shiftX = augmented ? augment[img * 3 + 1] - pad : 0;
            bool flip = augmented && augment[img * 3 + 2] != 0;
            for (int c = 0; c < channels; c++)
            {
                var source = pixels.Slice((img * channels + c) * h * w, h * w);
                var plane = x.Slice((img * channels + c) * h * w, h * w);
                for (int i = 0; i < h; i++)
                {
                    int si = i + shiftY;
                    for (int j = 0; j < w; j++)
                    {
                        int sj = (flip ? w - 1 - j : j) + shiftX;
                        int pixel = si >= 0 && si < h && sj >= 0 && sj < w ? source[si * w + sj] : 0;
                        plane[i * w + j] = pixel * scale[c] + offset[c];
                    }
                }
            }
        }
    }
}
