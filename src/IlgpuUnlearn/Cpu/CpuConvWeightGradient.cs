using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Cpu;

/// <summary>
/// dw (Cout, Cin KK) = sum over images of dy_n (Cout, P) col_n (Cin KK, P)^T. Images are taken in groups whose pixels make
/// a long summed dimension L = G P (both operands are contiguous along it): dy_g (Cout, L) is read in place or gathered, and
/// each worker builds a block of tiles of six rows of col_g (Cin KK, L) (im2col into its own buffer, never the whole col_g)
/// and runs each tile, from L1, against dy_g's rows with a micro-kernel of 4 dy rows x 6 col rows that accumulates 24
/// vector dot products in zmm registers, reducing each to a number once per group. The col rows are masked whole-vector loads
/// (<see cref="MaskedTaps"/>) from x itself for a "same" stride-1 convolution, from x's four phases for a 3x3 stride-2 one
/// (<see cref="StrideTwoPhases.ForWeightGradient"/>, split by each worker for the channels of the col rows it is about to
/// build), and copied value by value otherwise.
/// </summary>
internal sealed unsafe class CpuConvWeightGradient : IDisposable
{
    internal const int TileRowsDy = 4, TileRowsCol = CpuKernelPlan.WeightGradientColRows;
    /// <summary>
    /// The summed length a group aims at: short enough that the six col rows of a tile stay in L1 while the rows of dy stream
    /// past them, long enough that the horizontal sums are a small cost (<see cref="CpuKernelPlan.WeightGradientGroupPixels"/>).
    /// </summary>
    private static readonly int TargetGroupPixels = CpuKernelPlan.Current.WeightGradientGroupPixels;
    /// <summary>Rows of dy_g kept hot in L2 while the col tiles run against them (<see cref="CpuKernelPlan.WeightGradientDyBlockBytes"/>).</summary>
    private static readonly int DyBlockBytes = CpuKernelPlan.Current.WeightGradientDyBlockBytes;
    /// <summary>
    /// The col_g rows a worker builds at once (whole tiles) and runs against every block of dy_g's rows, beside the dy block in
    /// L2, so that im2col runs once per tile however many blocks dy_g takes (<see cref="CpuKernelPlan.WeightGradientColumnBlockBytes"/>).
    /// </summary>
    private static readonly int ColumnBlockBytes = CpuKernelPlan.Current.WeightGradientColumnBlockBytes;

    private readonly CpuScratch _dyGathered = new();
    private readonly MaskedTaps _taps = new();

    /// <summary>Frees the scratch blocks now (see <see cref="CpuScratch.Dispose"/>).</summary>
    public void Dispose()
    {
        _dyGathered.Dispose();
        _taps.Dispose();
    }

    public void Run(ConvShape s, float* x, float* dy, float* dw)
    {
        int kk = s.K * s.K, rows = s.Cin * kk, p = s.OutH * s.OutW;
        // When an image's P pixels are whole vectors, dy is read where it lies (one summed segment per image); otherwise
        // dy_g is gathered into rows of whole vectors (one segment per group).
        // Pieces shorter than 256 would cost the kernel more in setting up its ten row pointers than in FMAs.
        bool direct = p % 16 == 0 && p >= 256;
        int imagesPerGroup = Math.Clamp((TargetGroupPixels + p - 1) / p, 1, s.N);
        int strideMax = (imagesPerGroup * p + 15) / 16 * 16;
        int groups = (s.N + imagesPerGroup - 1) / imagesPerGroup;
        // col rows by masked loads: from x in place (a "same" stride-1 convolution) or from x's phases (stride 2), split by
        // each worker for the channels and images of the col rows it builds
        bool phased = StrideTwoPhases.ForWeightGradient(s);
        var taps = phased ? _taps.ForStrideTwoPhases(s) : _taps.ForSame(s.H, s.W, s.K, s.Stride, s.Pad);
        int dyBlock = Math.Max(TileRowsDy, DyBlockBytes / (strideMax * 4) / TileRowsDy * TileRowsDy);
        int tilesPerBlock = Math.Max(1, ColumnBlockBytes / (TileRowsCol * strideMax * 4));
        int colTiles = (rows + TileRowsCol - 1) / TileRowsCol;
        int chunks = Math.Min(colTiles, CpuParallel.Workers * 4);

        // dy_g of group g (Cout rows of strideMax) at dyg + g Cout strideMax, gathered for all groups in one parallel pass
        float* dyg = direct ? null : _dyGathered.Get((long)groups * s.Cout * strideMax);
        if (!direct)
        {
            int items = groups * s.Cout, parts = Math.Min(items, CpuParallel.Workers * 8);
            CpuParallel.For(parts, part =>
            {
                for (int item = (int)((long)items * part / parts); item < (int)((long)items * (part + 1) / parts); item++)
                {
                    int g = item / s.Cout, co = item % s.Cout;
                    int first = g * imagesPerGroup, count = Math.Min(imagesPerGroup, s.N - first);
                    float* d = dyg + ((long)g * s.Cout + co) * strideMax;
                    for (int n = 0; n < count; n++)
                        new ReadOnlySpan<float>(dy + ((long)(first + n) * s.Cout + co) * p, p).CopyTo(new Span<float>(d + n * p, p));
                    for (int t = count * p; t < strideMax; t++) d[t] = 0f;
                }
            });
        }

        new Span<float>(dw, rows * s.Cout).Clear();
        // dw += dy_g col_g^T over the groups, each worker owning a range of dw's columns (col tiles) throughout, so that the
        // groups need no barrier between them; col tiles built a block at a time
        long plane = (long)s.H * s.W, imageLength = s.InputLength / s.N;
        CpuParallel.For(chunks, chunk =>
        {
            int tile0 = (int)((long)colTiles * chunk / chunks), tile1 = (int)((long)colTiles * (chunk + 1) / chunks);
            float* tileSums = stackalloc float[TileRowsDy * TileRowsCol];
            float* colBlock = CpuScratch.ThreadColumns.Get((long)tilesPerBlock * TileRowsCol * strideMax);
            for (int first = 0, g = 0; first < s.N; first += imagesPerGroup, g++)
            {
                int count = Math.Min(imagesPerGroup, s.N - first);
                int stride = (count * p + 15) / 16 * 16;
                // the A operand (dy rows): rows co, summed over `segments` pieces of `segmentLength`
                float* a = direct ? dy + (long)first * s.Cout * p : dyg + (long)g * s.Cout * strideMax;
                long aRowStride = direct ? p : strideMax, aSegmentStride = direct ? (long)s.Cout * p : 0;
                int segments = direct ? count : 1, segmentLength = direct ? p : stride;
                for (int block0 = tile0; block0 < tile1; block0 += tilesPerBlock)
                {
                    int block1 = Math.Min(tile1, block0 + tilesPerBlock);
                    // col_g rows of tiles block0 .. block1, zero past the last row, so that a partial tile runs the same kernel; read
                    // from x, or from the phases of the rows' channels c0 .. c1 of the group's images, split into this worker's
                    // buffer (count, c1 - c0, 4, OH, OW) just before
                    int rowFirst = block0 * TileRowsCol, rowEnd = Math.Min(rows, block1 * TileRowsCol);
                    float* source = x + first * imageLength;
                    long sourceImageLength = imageLength;
                    int c0 = 0;
                    if (phased)
                    {
                        c0 = rowFirst / kk;
                        int c1 = (rowEnd + kk - 1) / kk;
                        source = CpuScratch.ThreadPhases.Get(count * (c1 - c0) * plane);
                        sourceImageLength = (c1 - c0) * plane;
                        for (int n = 0; n < count; n++)
                            StrideTwoPhases.Split(x + (first + n) * imageLength + c0 * plane, 1, c1 - c0, s.H, s.W, source + n * sourceImageLength);
                    }
                    for (int r = rowFirst; r < block1 * TileRowsCol; r++)
                    {
                        float* dst = colBlock + (long)(r - rowFirst) * stride;
                        if (r < rows) Im2colRow(s, source, sourceImageLength, c0, count, r, dst, taps);
                        else new Span<float>(dst, stride).Clear();
                    }
                    for (int co0 = 0; co0 < s.Cout; co0 += dyBlock)
                    {
                        int co1 = Math.Min(s.Cout, co0 + dyBlock);
                        for (int tile = block0; tile < block1; tile++)
                        {
                            int r0 = tile * TileRowsCol, rCount = Math.Min(TileRowsCol, rows - r0);
                            float* colTile = colBlock + (long)(tile - block0) * TileRowsCol * stride;
                            AccumulateTile(a + co0 * aRowStride, aRowStride, aSegmentStride, co1 - co0, colTile, stride, rCount,
                                segments, segmentLength, dw + (long)co0 * rows + r0, rows, tileSums);
                        }
                    }
                }
            }
        });
        GC.KeepAlive(this); // dyg and the taps point into native blocks only this instance holds (see CpuWinogradWeightGradient.Run)
    }

    /// <summary>
    /// out (aRows, bRows) += a (aRows, L) b (bRows, L)^T for one tile of at most six rows of b (bRows &lt;= 6), by
    /// <see cref="Kernel4x6"/> on whole 4 x 6 tiles, into <paramref name="tileSums"/> (24 floats) for a partial tile of b,
    /// by single dot products for the last rows of a. The summed index L runs over <paramref name="segments"/> pieces of
    /// <paramref name="segmentLength"/> (a multiple of 16; see <see cref="Kernel4x6"/>). All six rows of b's tile must be
    /// readable (rows past <paramref name="bRows"/> are read and their sums dropped).
    /// </summary>
    internal static void AccumulateTile(float* a, long aRowStride, long aSegmentStride, int aRows, float* b, long bStride, int bRows,
        int segments, int segmentLength, float* output, long outStride, float* tileSums)
    {
        for (int i0 = 0; i0 < aRows; i0 += TileRowsDy)
        {
            int iCount = Math.Min(TileRowsDy, aRows - i0);
            float* aTile = a + i0 * aRowStride;
            float* outTile = output + i0 * outStride;
            if (bRows == TileRowsCol && iCount == TileRowsDy)
                Kernel4x6(aTile, aRowStride, aSegmentStride, b, bStride, segments, segmentLength, outTile, outStride);
            else if (iCount == TileRowsDy)
            {
                // the last, partial tile of b's rows: the kernel into a small tile
                new Span<float>(tileSums, TileRowsDy * TileRowsCol).Clear();
                Kernel4x6(aTile, aRowStride, aSegmentStride, b, bStride, segments, segmentLength, tileSums, TileRowsCol);
                for (int i = 0; i < TileRowsDy; i++)
                    for (int j = 0; j < bRows; j++) outTile[i * outStride + j] += tileSums[i * TileRowsCol + j];
            }
            else
                for (int i = 0; i < iCount; i++)
                    for (int j = 0; j < bRows; j++)
                        outTile[i * outStride + j] += Dot(aTile + i * aRowStride, aSegmentStride, b + (long)j * bStride, segments, segmentLength);
        }
    }

    /// <summary>
    /// col row (ci, kh, kw) for count images: x[n, ci, oh s - p + kh, ow s - p + kw], zero padded to whole vectors. The images
    /// lie at <paramref name="x"/> + n <paramref name="imageLength"/>, from channel <paramref name="firstChannel"/> on. By
    /// masked loads when <paramref name="taps"/> is a table (<see cref="MaskedTaps"/>: the images themselves for a "same"
    /// stride-1 convolution, their phases for a stride-2 one).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Im2colRow(ConvShape s, float* x, long imageLength, int firstChannel, int count, int row, float* dst, MaskedTapSource taps)
    {
        int kk = s.K * s.K, ci = row / kk, kh = row % kk / s.K, kw = row % s.K;
        int p = s.OutH * s.OutW;
        if (!taps.IsNone)
        {
            // pixels q .. q + 15 of image n from the source's channel ci at the tap's offset, the padding's lanes masked off
            float* image0 = x + (ci - firstChannel) * taps.ChannelStride + taps.Offsets[row % kk];
            var masks = taps.Masks + row % kk * taps.Vectors;
            for (int q = 0; q < p; q += 16)
            {
                var inside = masks[q / 16];
                for (int n = 0; n < count; n++)
                    Vector512.Store(Avx512F.MaskLoad(image0 + n * imageLength + q, inside, Vector512<float>.Zero), dst + n * p + q);
            }
            return; // count p is a whole number of vectors: no padding at the end
        }
        int ow0 = CpuConv.FirstInside(kw - s.Pad, s.Stride), ow1 = CpuConv.EndInside(kw - s.Pad, s.Stride, s.W, s.OutW);
        for (int n = 0; n < count; n++)
        {
            float* plane = x + n * imageLength + (long)(ci - firstChannel) * s.H * s.W;
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
        float* o0 = output, o1 = output + outStride, o2 = output + 2 * outStride, o3 = output + 3 * outStride;
        // out[i, 0 .. 3] four sums at a time, then out[i, 4 .. 5] of two rows at a time
        AddSums(o0, Sums(c00, c01, c02, c03));
        AddSums(o1, Sums(c10, c11, c12, c13));
        AddSums(o2, Sums(c20, c21, c22, c23));
        AddSums(o3, Sums(c30, c31, c32, c33));
        var s = Sums(c04, c05, c14, c15);
        o0[4] += s[0]; o0[5] += s[1]; o1[4] += s[2]; o1[5] += s[3];
        s = Sums(c24, c25, c34, c35);
        o2[4] += s[0]; o2[5] += s[1]; o3[4] += s[2]; o3[5] += s[3];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddSums(float* o, Vector128<float> sums) => Vector128.Store(Vector128.Load(o) + sums, o);

    /// <summary>
    /// [sum of a's lanes, of b's, of c's, of d's]. With AVX-512 the four are halved together (512-bit vectors of 128-bit blocks
    /// a0..a3: [a0 + a2, a1 + a3, b0 + b2, b1 + b3], then [a, b, c, d] each the sum of its four blocks, then the four lanes
    /// of each block transposed and added): 14 instructions where four separate horizontal sums take about 100.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Sums(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d)
    {
        if (!Avx512F.IsSupported) return Vector128.Create(Vector512.Sum(a), Vector512.Sum(b), Vector512.Sum(c), Vector512.Sum(d));
        var ab = Avx512F.Shuffle4x128(a, b, 0b01_00_01_00) + Avx512F.Shuffle4x128(a, b, 0b11_10_11_10);
        var cd = Avx512F.Shuffle4x128(c, d, 0b01_00_01_00) + Avx512F.Shuffle4x128(c, d, 0b11_10_11_10);
        var blocks = Avx512F.Shuffle4x128(ab, cd, 0b10_00_10_00) + Avx512F.Shuffle4x128(ab, cd, 0b11_01_11_01);
        // lane l of block i to block l, lane i: then the four blocks summed are [sum a, sum b, sum c, sum d]
        var t = Vector512.Shuffle(blocks, Vector512.Create(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
        var half = t.GetLower() + t.GetUpper();
        return half.GetLower() + half.GetUpper();
    }
}
