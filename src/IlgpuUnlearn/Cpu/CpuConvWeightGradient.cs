using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Cpu;

/// <summary>
/// dw (Cout, Cin KK) = sum over images of dy_n (Cout, P) col_n (Cin KK, P)^T. Images are taken in groups whose pixels make
/// a long summed dimension L = G P (both operands are contiguous along it): dy_g (Cout, L) is gathered, col_g (Cin KK, L)
/// is built (im2col), and a micro-kernel of 4 dy rows x 6 col rows accumulates 24 vector dot products in zmm registers,
/// reducing each to a number once per group.
/// </summary>
internal sealed unsafe class CpuConvWeightGradient
{
    private const int TileRowsDy = 4, TileRowsCol = 6;
    /// <summary>The summed length a group aims at: long enough that the horizontal sums are a small cost.</summary>
    private const int TargetGroupPixels = 2048;
    /// <summary>The size of col_g that groups of images may grow to when col has few rows.</summary>
    private const long TargetColumnBytes = 4L << 20;
    /// <summary>The longest summed length: a 4 x 6 tile's rows (10 x 32 KiB) stay in L2 while it runs.</summary>
    private const int MaxGroupPixels = 8192;
    /// <summary>Rows of dy_g kept hot in L2 while the col rows stream past: 512 KiB.</summary>
    private const int DyBlockBytes = 512 * 1024;

    private readonly CpuScratch _columns = new();
    private readonly CpuScratch _dyGathered = new();

    public void Run(ConvShape s, float* x, float* dy, float* dw)
    {
        int kk = s.K * s.K, rows = s.Cin * kk, p = s.OutH * s.OutW;
        // When an image's P pixels are whole vectors, dy is read where it lies (one summed segment per image); otherwise
        // dy_g is gathered into rows of whole vectors (one segment per group).
        // Pieces shorter than 256 would cost the kernel more in setting up its ten row pointers than in FMAs.
        bool direct = p % 16 == 0 && p >= 256;
        // Long enough groups for the horizontal sums to be cheap, and for few rows (the stem) as many images as fit
        // TargetColumnBytes, so that the two parallel passes per group are few.
        int imagesPerGroup = Math.Clamp(Math.Max((TargetGroupPixels + p - 1) / p,
            Math.Min(MaxGroupPixels / p, (int)(TargetColumnBytes / (4L * rows * p)))), 1, s.N);
        int strideMax = (imagesPerGroup * p + 15) / 16 * 16;
        // col has rows padded to whole 4 x 6 tiles with zero rows, so that a partial tile runs the same kernel.
        int paddedRows = (rows + TileRowsCol - 1) / TileRowsCol * TileRowsCol;
        float* col = _columns.Get((long)paddedRows * strideMax);
        float* dyg = direct ? null : _dyGathered.Get((long)s.Cout * strideMax);
        new Span<float>(dw, rows * s.Cout).Clear();
        int dyBlock = Math.Max(TileRowsDy, DyBlockBytes / (strideMax * 4) / TileRowsDy * TileRowsDy);
        int colTiles = (rows + TileRowsCol - 1) / TileRowsCol;
        int chunks = Math.Min(colTiles, CpuParallel.Workers * 4);
        int parts = CpuParallel.Workers * 8;

        for (int first = 0; first < s.N; first += imagesPerGroup)
        {
            int count = Math.Min(imagesPerGroup, s.N - first);
            int length = count * p, stride = (length + 15) / 16 * 16;
            // the A operand (dy rows): rows co, summed over `segments` pieces of `segmentLength`
            float* a = direct ? dy + (long)first * s.Cout * p : dyg;
            long aRowStride = direct ? p : stride, aSegmentStride = direct ? (long)s.Cout * p : 0;
            int segments = direct ? count : 1, segmentLength = direct ? p : stride;
            new Span<float>(col + (long)rows * stride, (paddedRows - rows) * stride).Clear();
            // 1. build col_g (and gather dy_g), rows spread over the cores
            int total = rows + (direct ? 0 : s.Cout);
            CpuParallel.For(Math.Min(total, parts), part =>
            {
                int per = (total + parts - 1) / parts;
                for (int r = part * per; r < Math.Min(total, (part + 1) * per); r++)
                {
                    if (r < rows) Im2colRow(s, x, first, count, r, col + (long)r * stride);
                    else
                    {
                        int co = r - rows;
                        float* d = dyg + (long)co * stride;
                        for (int n = 0; n < count; n++)
                            new ReadOnlySpan<float>(dy + ((long)(first + n) * s.Cout + co) * p, p).CopyTo(new Span<float>(d + n * p, p));
                        for (int t = length; t < stride; t++) d[t] = 0f;
                    }
                }
            });
            // 2. dw += dy_g col_g^T, each worker owning a range of dw's columns
            CpuParallel.For(chunks, chunk =>
            {
                int tile0 = (int)((long)colTiles * chunk / chunks), tile1 = (int)((long)colTiles * (chunk + 1) / chunks);
                float* tileSums = stackalloc float[TileRowsDy * TileRowsCol];
                for (int co0 = 0; co0 < s.Cout; co0 += dyBlock)
                {
                    int co1 = Math.Min(s.Cout, co0 + dyBlock);
                    for (int tile = tile0; tile < tile1; tile++)
                    {
                        int r0 = tile * TileRowsCol, rCount = Math.Min(TileRowsCol, rows - r0);
                        for (int co = co0; co < co1; co += TileRowsDy)
                        {
                            int coCount = Math.Min(TileRowsDy, co1 - co);
                            float* aTile = a + co * aRowStride, bTile = col + (long)r0 * stride;
                            if (rCount == TileRowsCol && coCount == TileRowsDy)
                                Kernel4x6(aTile, aRowStride, aSegmentStride, bTile, stride, segments, segmentLength, dw + (long)co * rows + r0, rows);
                            else if (coCount == TileRowsDy)
                            {
                                // the last, partial tile of col rows: the kernel into a small tile (the padding rows are zero)
                                new Span<float>(tileSums, TileRowsDy * TileRowsCol).Clear();
                                Kernel4x6(aTile, aRowStride, aSegmentStride, bTile, stride, segments, segmentLength, tileSums, TileRowsCol);
                                for (int i = 0; i < TileRowsDy; i++)
                                    for (int j = 0; j < rCount; j++) dw[(long)(co + i) * rows + r0 + j] += tileSums[i * TileRowsCol + j];
                            }
                            else
                                for (int i = 0; i < coCount; i++)
                                    for (int j = 0; j < rCount; j++)
                                        dw[(long)(co + i) * rows + r0 + j] +=
                                            Dot(aTile + i * aRowStride, aSegmentStride, bTile + (long)j * stride, segments, segmentLength);
                        }
                    }
                }
            });
        }
    }

    /// <summary>col row (ci, kh, kw) for images first .. first + count: x[n, ci, oh s - p + kh, ow s - p + kw], zero padded to whole vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Im2colRow(ConvShape s, float* x, int first, int count, int row, float* dst)
    {
        int kk = s.K * s.K, ci = row / kk, kh = row % kk / s.K, kw = row % s.K;
        int p = s.OutH * s.OutW;
        int ow0 = CpuConv.FirstInside(kw - s.Pad, s.Stride), ow1 = CpuConv.EndInside(kw - s.Pad, s.Stride, s.W, s.OutW);
        for (int n = 0; n < count; n++)
        {
            float* plane = x + ((long)(first + n) * s.Cin + ci) * s.H * s.W;
            for (int oh = 0; oh < s.OutH; oh++)
            {
                float* d = dst + n * p + oh * s.OutW;
                int ih = oh * s.Stride - s.Pad + kh;
                if ((uint)ih >= (uint)s.H || ow0 >= ow1)
                {
                    new Span<float>(d, s.OutW).Clear();
                    continue;
                }
                float* xRow = plane + ih * s.W - s.Pad + kw; // xRow[ow * stride] for ow in [ow0, ow1)
                for (int ow = 0; ow < ow0; ow++) d[ow] = 0f;
                if (s.Stride == 1) Im2colPanelSource.CopyRun(xRow + ow0, d + ow0, ow1 - ow0);
                else for (int ow = ow0; ow < ow1; ow++) d[ow] = xRow[ow * s.Stride];
                for (int ow = ow1; ow < s.OutW; ow++) d[ow] = 0f;
            }
        }
        int length = count * p, stride = (length + 15) / 16 * 16;
        for (int t = length; t < stride; t++) dst[t] = 0f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(float* a, long aSegmentStride, float* b, int segments, int segmentLength)
    {
        var acc = Vector512<float>.Zero;
        for (int g = 0; g < segments; g++, a += aSegmentStride, b += segmentLength)
            for (int t = 0; t < segmentLength; t += 16) acc = Vector512.FusedMultiplyAdd(Vector512.Load(a + t), Vector512.Load(b + t), acc);
        return Vector512.Sum(acc);
    }

    /// <summary>
    /// out[i, j] += sum over the summed index of a[i, .] b[j, .] for 4 rows of a and 6 rows of b: 24 accumulators, per 16
    /// values four loads of a, six of b, 24 FMAs. The summed index runs over <paramref name="segments"/> pieces of
    /// <paramref name="segmentLength"/> (a multiple of 16): piece g of a row of a lies <paramref name="aSegmentStride"/> g
    /// further on, of a row of b <paramref name="segmentLength"/> g further on.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel4x6(float* a, long aStride, long aSegmentStride, float* b, long bStride, int segments, int segmentLength,
        float* output, long outStride)
    {
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default, c04 = default, c05 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default, c14 = default, c15 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default, c24 = default, c25 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default, c34 = default, c35 = default;
        for (int g = 0; g < segments; g++, a += aSegmentStride, b += segmentLength)
        {
            float* a0 = a, a1 = a + aStride, a2 = a + 2 * aStride, a3 = a + 3 * aStride;
            float* b0 = b, b1 = b + bStride, b2 = b + 2 * bStride, b3 = b + 3 * bStride, b4 = b + 4 * bStride, b5 = b + 5 * bStride;
            for (int t = 0; t < segmentLength; t += 16)
            {
                var x0 = Vector512.Load(a0 + t);
                var x1 = Vector512.Load(a1 + t);
                var x2 = Vector512.Load(a2 + t);
                var x3 = Vector512.Load(a3 + t);
                var y = Vector512.Load(b0 + t);
                c00 = Vector512.FusedMultiplyAdd(x0, y, c00); c10 = Vector512.FusedMultiplyAdd(x1, y, c10);
                c20 = Vector512.FusedMultiplyAdd(x2, y, c20); c30 = Vector512.FusedMultiplyAdd(x3, y, c30);
                y = Vector512.Load(b1 + t);
                c01 = Vector512.FusedMultiplyAdd(x0, y, c01); c11 = Vector512.FusedMultiplyAdd(x1, y, c11);
                c21 = Vector512.FusedMultiplyAdd(x2, y, c21); c31 = Vector512.FusedMultiplyAdd(x3, y, c31);
                y = Vector512.Load(b2 + t);
                c02 = Vector512.FusedMultiplyAdd(x0, y, c02); c12 = Vector512.FusedMultiplyAdd(x1, y, c12);
                c22 = Vector512.FusedMultiplyAdd(x2, y, c22); c32 = Vector512.FusedMultiplyAdd(x3, y, c32);
                y = Vector512.Load(b3 + t);
                c03 = Vector512.FusedMultiplyAdd(x0, y, c03); c13 = Vector512.FusedMultiplyAdd(x1, y, c13);
                c23 = Vector512.FusedMultiplyAdd(x2, y, c23); c33 = Vector512.FusedMultiplyAdd(x3, y, c33);
                y = Vector512.Load(b4 + t);
                c04 = Vector512.FusedMultiplyAdd(x0, y, c04); c14 = Vector512.FusedMultiplyAdd(x1, y, c14);
                c24 = Vector512.FusedMultiplyAdd(x2, y, c24); c34 = Vector512.FusedMultiplyAdd(x3, y, c34);
                y = Vector512.Load(b5 + t);
                c05 = Vector512.FusedMultiplyAdd(x0, y, c05); c15 = Vector512.FusedMultiplyAdd(x1, y, c15);
                c25 = Vector512.FusedMultiplyAdd(x2, y, c25); c35 = Vector512.FusedMultiplyAdd(x3, y, c35);
            }
        }
        AddSums(output, c00, c01, c02, c03, c04, c05);
        AddSums(output + outStride, c10, c11, c12, c13, c14, c15);
        AddSums(output + 2 * outStride, c20, c21, c22, c23, c24, c25);
        AddSums(output + 3 * outStride, c30, c31, c32, c33, c34, c35);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddSums(float* o, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2,
        Vector512<float> v3, Vector512<float> v4, Vector512<float> v5)
    {
        o[0] += Vector512.Sum(v0);
        o[1] += Vector512.Sum(v1);
        o[2] += Vector512.Sum(v2);
        o[3] += Vector512.Sum(v3);
        o[4] += Vector512.Sum(v4);
        o[5] += Vector512.Sum(v5);
    }
}
