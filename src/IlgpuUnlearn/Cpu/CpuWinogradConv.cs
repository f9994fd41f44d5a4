using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Cpu;

/// <summary>
/// A 3x3, stride-1, padding-1 convolution by Winograd's F(2x2, 3x3) (<see cref="WinogradF2x3"/>): y (N, Co, H, W) from
/// x (N, Ci, H, W) and filters g (Co, Ci, 3, 3), with tH = ceil(H / 2), tW = ceil(W / 2) tiles per image and T = N tH tW tiles,
/// numbered t = (n tH + tr) tW + tc:
/// <list type="number">
/// <item>U[ξ] (Co, Ci) = (G g[co, ci] Gᵀ)[ξ] for the 16 ξ, once per call, written straight into <see cref="CpuGemm.PackA"/>'s
/// layout (the weights change every step, so nothing is cached);</item>
/// <item>per block of Tb consecutive tiles (whole or partial tile rows of one or several images): V[ξ] (Ci, Tb) =
/// (Bᵀ d[ci, t] B)[ξ], then 16 GEMMs M[ξ] (Co, Tb) = U[ξ] (Co, Ci) x V[ξ] (Ci, Tb) on CpuGemm's micro-kernel, then
/// y[n, co, 2 tr + a, 2 tc + b] = (Aᵀ M[·, co, t] A)[a, b] for the pixels inside the image (odd H or W: the last tile's
/// second row or column is dropped).</item>
/// </list>
/// 16 Ci Co multiply-adds per tile of 4 pixels instead of 36 Ci Co: 2.25x fewer FLOPs for even H and W.
/// The blocks are spread over the cores; each worker transforms, multiplies and writes its own tiles in its own scratch
/// (<see cref="CpuScratch.ThreadColumns"/>: V, M and four padded rows, 16 (Ci + Co) Tb floats and a little more).
/// The backward-input convolution (stride 1, padding 1) is the same with Ci and Co swapped and the filters rotated.
/// Not for concurrent calls: the packed U belongs to the instance.
/// </summary>
internal sealed unsafe class CpuWinogradConv : IDisposable
{
    private const int Xi = WinogradF2x3.Positions; // the 4x4 products ξ
    private const int Lanes = WinogradF2x3.Lanes;
    private readonly CpuScratch _packedU = new();

    /// <summary>Frees the scratch blocks now (see <see cref="CpuScratch.Dispose"/>).</summary>
    public void Dispose() => _packedU.Dispose();

    /// <summary>y (N, Cout, H, W) = conv2d(x (N, Cin, H, W), w (Cout, Cin, 3, 3)), stride 1, padding 1.</summary>
    public void Forward(ConvShape s, float* x, float* w, float* y)
    {
        RequireShape(s);
        Run(s.N, s.Cin, s.H, s.W, s.Cout, x, new Filters(w, s.Cin * 9L, 9, false), y);
    }

    /// <summary>
    /// dx (N, Cin, H, W) = conv2d(dy (N, Cout, H, W), w') with w'[ci, co, kh, kw] = w[co, ci, 2 - kh, 2 - kw], padding 1:
    /// the backward-input of a stride-1, padding-1 3x3 convolution.
    /// </summary>
    public void BackwardInput(ConvShape s, float* dy, float* w, float* dx)
    {
        RequireShape(s);
        Run(s.N, s.Cout, s.H, s.W, s.Cin, dy, new Filters(w, 9, s.Cin * 9L, true), dx);
    }

    private static void RequireShape(ConvShape s)
    {
        if (s.K != 3 || s.Stride != 1 || s.Pad != 1)
            throw new ArgumentException($"Winograd F(2x2, 3x3) needs K 3, stride 1, padding 1, not {s}");
    }

    /// <summary>Filter (o, i) of the convolution as computed: 9 floats at W + o OutputStride + i InputStride, rotated when Flipped.</summary>
    private readonly struct Filters(float* w, long outputStride, long inputStride, bool flipped)
    {
        public float* W { get; } = w;
        public long OutputStride { get; } = outputStride;
        public long InputStride { get; } = inputStride;
        public bool Flipped { get; } = flipped;
    }

    /// <summary>out (N, co, H, W) = conv3x3(in (N, ci, H, W), filters), padding 1.</summary>
    private void Run(int n, int ci, int h, int w, int co, float* input, Filters filters, float* output)
    {
        int mPad = CpuGemm.PaddedRows(co);
        long uStride = (long)mPad * ci;
        float* packedU = _packedU.Get(Xi * uStride);
        TransformFilters(ci, co, filters, packedU);

        int tilesH = (h + 1) / 2, tilesW = (w + 1) / 2;
        long tiles = (long)n * tilesH * tilesW;
        int block = CpuKernelPlan.Current.WinogradTilesPerBlock(ci, co, tiles, CpuParallel.Workers);
        int blocks = checked((int)((tiles + block - 1) / block));
        var shape = new TileShape(n, ci, co, h, w, tilesH, tilesW, block);
        CpuParallel.For(blocks, b =>
        {
            long t0 = (long)b * block;
            int count = (int)Math.Min(block, tiles - t0);
            RunBlock(shape, input, packedU, uStride, output, t0, count);
        });
        GC.KeepAlive(this); // packedU points into _packedU's native block, which only this instance holds (see CpuWinogradWeightGradient.Run)
    }

    /// <summary>The convolution's sizes and a worker's scratch layout: row strides of V and M (Tb + 16, room for a vector's overrun).</summary>
    private readonly record struct TileShape(int N, int Ci, int Co, int H, int W, int TilesH, int TilesW, int Block)
    {
        public int Ld => Block + Lanes;
        /// <summary>A padded row of <see cref="WinogradF2x3.InputRows"/>: column -1, W columns, zeros to the last vector's reach.</summary>
        public int RowLength => (2 * TilesW + 2 * Lanes + 16) / 16 * 16;
        public long VLength => (long)Xi * Ci * Ld;
        public long MLength => (long)Xi * Co * Ld + Lanes;
        public long ScratchLength => VLength + MLength + 4L * RowLength + W;
        /// <summary>
        /// Tile rows shorter than a vector and dividing it (tW 1, 2, 4, 8: images of 8x8, 7x7, 4x4 ...): 16 / tW whole tile
        /// rows share a vector (blocks are whole 48-tile panels, multiples of 16, so they start at a tile row).
        /// </summary>
        public bool ShortRows => TilesW < Lanes && Lanes % TilesW == 0 && Block % Lanes == 0;
    }

    /// <summary>
    /// U[ξ][o, i] = (G g[o, i] Gᵀ)[ξ] in <see cref="CpuGemm.PackA"/>'s layout at packedU + ξ uStride: per K block of kc input
    /// channels, per panel of 8 output channels, kc rows of 8 (the 8 output channels of one input channel, one vector).
    /// Rows o in [co, mPad) are zero. Work items are (K block, panel) pairs, each writing 16 runs of 8 kc floats.
    /// </summary>
    private static void TransformFilters(int ci, int co, Filters f, float* packedU)
    {
        int mPad = CpuGemm.PaddedRows(co), kcMax = CpuGemm.KBlock(ci), panels = mPad / CpuGemm.MR;
        int kBlocks = (ci + kcMax - 1) / kcMax;
        long uStride = (long)mPad * ci;
        CpuParallel.For(panels * kBlocks, item =>
        {
            int panel = item % panels, k0 = item / panels * kcMax, kc = Math.Min(kcMax, ci - k0);
            int o0 = panel * CpuGemm.MR, rows = Math.Min(CpuGemm.MR, co - o0);
            float* dst = packedU + (long)k0 * mPad + (long)o0 * kc;
            // a partial last panel: its filters copied beside zero filters for the rows past Cout
            float* edge = stackalloc float[9 * CpuGemm.MR];
            for (int i = k0; i < k0 + kc; i++, dst += CpuGemm.MR)
            {
                float* g = f.W + o0 * f.OutputStride + i * f.InputStride;
                if (rows == CpuGemm.MR) WinogradF2x3.FilterTransform(g, f.OutputStride, f.Flipped, dst, uStride);
                else
                {
                    for (int l = 0; l < CpuGemm.MR; l++)
                        for (int k = 0; k < 9; k++) edge[l * 9 + k] = l < rows ? g[l * f.OutputStride + k] : 0f;
                    WinogradF2x3.FilterTransform(edge, 9, f.Flipped, dst, uStride);
                }
            }
        });
    }

    /// <summary>Tiles t0 .. t0 + count: input transform, 16 GEMMs, output transform, on this thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunBlock(TileShape s, float* input, float* packedU, long uStride, float* output, long t0, int count)
    {
        float* scratch = CpuScratch.ThreadColumns.Get(s.ScratchLength);
        float* v = scratch, m = v + s.VLength, rows = m + s.MLength, zero = rows + 4L * s.RowLength;
        new Span<float>(rows, 4 * s.RowLength + s.W).Clear();

        TransformInput(s, input, v, rows, zero, t0, count);
        for (int xi = 0; xi < Xi; xi++)
            CpuGemm.MultiplyColumns(s.Co, s.Ci, packedU + xi * uStride,
                new CpuGemm.RowMajorPanelSource(v + (long)xi * s.Ci * s.Ld, s.Ld), GemmOutput.RowMajor(m + (long)xi * s.Co * s.Ld, s.Ld),
                0, count);
        TransformOutput(s, m, output, t0, count);
    }

    /// <summary>
    /// V[ξ][i, t - t0] = (Bᵀ d[i, t] B)[ξ] (ξ-major, rows of Ld floats), run by run of tiles within one tile row: per channel the
    /// row half over whole input rows, then the column half 16 tiles at a time (the last vector of a run writes past it, into the
    /// next run's columns, written after, or the row's 16 spare floats).
    /// </summary>
    private static void TransformInput(TileShape s, float* input, float* v, float* rows, float* zero, long t0, int count)
    {
        if (s.ShortRows)
        {
            TransformInputShortRows(s, input, v, rows, zero, t0, count);
            return;
        }
        long tilesPerImage = (long)s.TilesH * s.TilesW, plane = (long)s.H * s.W, xiStride = (long)s.Ci * s.Ld;
        float* r0 = rows, r1 = rows + s.RowLength, r2 = rows + 2 * s.RowLength, r3 = rows + 3 * s.RowLength;
        for (long t = t0; t < t0 + count;)
        {
            long image = t / tilesPerImage;
            int inImage = (int)(t - image * tilesPerImage), tr = inImage / s.TilesW, tc = inImage % s.TilesW;
            int run = (int)Math.Min(s.TilesW - tc, t0 + count - t);
            long local = t - t0;
            for (int i = 0; i < s.Ci; i++)
            {
                float* x = input + (image * s.Ci + i) * plane;
                int ih = 2 * tr - 1;
                WinogradF2x3.InputRows(Row(x, ih, s, zero), Row(x, ih + 1, s, zero), Row(x, ih + 2, s, zero), Row(x, ih + 3, s, zero),
                    s.W, r0, r1, r2, r3);
                float* vRow = v + i * (long)s.Ld + local;
                for (int c = 0; c < run; c += Lanes)
                    StoreInputColumns(r0, r1, r2, r3, tc + c, Vector512<float>.AllBitsSet, Vector512<float>.AllBitsSet, vRow + c, xiStride);
            }
            t += run;
        }
    }

    /// <summary>
    /// <see cref="TransformInput"/> for short tile rows: per 16 tiles (16 / tW tile rows g, of any images), the row half of tile
    /// row g written at column offset g 2 tW of the padded rows, then one masked column half for all 16 (each row's first tile
    /// reads no column -1, its last no column 2 tW: <see cref="WinogradF2x3.InputColumns"/>).
    /// </summary>
    private static void TransformInputShortRows(TileShape s, float* input, float* v, float* rows, float* zero, long t0, int count)
    {
        long tilesPerImage = (long)s.TilesH * s.TilesW, plane = (long)s.H * s.W, xiStride = (long)s.Ci * s.Ld;
        int tw = s.TilesW;
        float* r0 = rows, r1 = rows + s.RowLength, r2 = rows + 2 * s.RowLength, r3 = rows + 3 * s.RowLength;
        var lane = Vector512<int>.Indices & Vector512.Create(tw - 1); // tw is a power of 2
        var keepLeft = ~Vector512.Equals(lane, Vector512<int>.Zero).AsSingle();
        var keepRight = ~Vector512.Equals(lane, Vector512.Create(tw - 1)).AsSingle();
        long* imageStart = stackalloc long[Lanes];
        int* firstRow = stackalloc int[Lanes];
        for (long t = t0; t < t0 + count; t += Lanes)
        {
            int groups = (int)Math.Min(Lanes, t0 + count - t) / tw;
            for (int g = 0; g < groups; g++)
            {
                long tile = t + g * tw, image = tile / tilesPerImage;
                imageStart[g] = image * s.Ci * plane;
                firstRow[g] = 2 * (int)((tile - image * tilesPerImage) / tw) - 1;
            }
            float* vColumn = v + (t - t0);
            for (int i = 0; i < s.Ci; i++)
            {
                for (int g = 0; g < groups; g++)
                {
                    float* x = input + imageStart[g] + i * plane;
                    int ih = firstRow[g], at = g * 2 * tw;
                    WinogradF2x3.InputRows(Row(x, ih, s, zero), Row(x, ih + 1, s, zero), Row(x, ih + 2, s, zero), Row(x, ih + 3, s, zero),
                        s.W, r0 + at, r1 + at, r2 + at, r3 + at);
                }
                StoreInputColumns(r0, r1, r2, r3, 0, keepLeft, keepRight, vColumn + i * (long)s.Ld, xiStride);
            }
        }
    }

    /// <summary>
    /// The column half of the input transform for 16 tiles from the four row halves r0 .. r3 (<see cref="WinogradF2x3.InputColumns"/>,
    /// masked by keepLeft and keepRight): V[4 i + j] to dst + (4 i + j) xiStride.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreInputColumns(float* r0, float* r1, float* r2, float* r3, int tc0, Vector512<float> keepLeft,
        Vector512<float> keepRight, float* dst, long xiStride)
    {
        WinogradF2x3.InputColumns(r0, tc0, keepLeft, keepRight, out var v00, out var v01, out var v02, out var v03);
        Vector512.Store(v00, dst); Vector512.Store(v01, dst + xiStride); Vector512.Store(v02, dst + 2 * xiStride); Vector512.Store(v03, dst + 3 * xiStride);
        dst += 4 * xiStride;
        WinogradF2x3.InputColumns(r1, tc0, keepLeft, keepRight, out var v10, out var v11, out var v12, out var v13);
        Vector512.Store(v10, dst); Vector512.Store(v11, dst + xiStride); Vector512.Store(v12, dst + 2 * xiStride); Vector512.Store(v13, dst + 3 * xiStride);
        dst += 4 * xiStride;
        WinogradF2x3.InputColumns(r2, tc0, keepLeft, keepRight, out var v20, out var v21, out var v22, out var v23);
        Vector512.Store(v20, dst); Vector512.Store(v21, dst + xiStride); Vector512.Store(v22, dst + 2 * xiStride); Vector512.Store(v23, dst + 3 * xiStride);
        dst += 4 * xiStride;
        WinogradF2x3.InputColumns(r3, tc0, keepLeft, keepRight, out var v30, out var v31, out var v32, out var v33);
        Vector512.Store(v30, dst); Vector512.Store(v31, dst + xiStride); Vector512.Store(v32, dst + 2 * xiStride); Vector512.Store(v33, dst + 3 * xiStride);
    }

    /// <summary>
    /// <see cref="TransformOutput"/> for short tile rows: per 16 tiles and output channel one output transform, then each of the
    /// 16 / tW tile rows' two output rows written (a second row below an odd-height image goes to a discard row).
    /// </summary>
    private static void TransformOutputShortRows(TileShape s, float* m, float* output, long t0, int count)
    {
        long tilesPerImage = (long)s.TilesH * s.TilesW, plane = (long)s.H * s.W, xiStride = (long)s.Co * s.Ld;
        int tw = s.TilesW;
        float** top = stackalloc float*[Lanes];
        float** bottom = stackalloc float*[Lanes];
        long* topStart = stackalloc long[Lanes];
        long* bottomStart = stackalloc long[Lanes];
        float* discard = stackalloc float[2 * Lanes];
        for (long t = t0; t < t0 + count; t += Lanes)
        {
            int groups = (int)Math.Min(Lanes, t0 + count - t) / tw;
            for (int g = 0; g < groups; g++)
            {
                long tile = t + g * tw, image = tile / tilesPerImage;
                int oh = 2 * (int)((tile - image * tilesPerImage) / tw);
                topStart[g] = image * s.Co * plane + (long)oh * s.W;
                bottomStart[g] = oh + 1 < s.H ? topStart[g] + s.W : -1;
            }
            float* mColumn = m + (t - t0);
            for (int o = 0; o < s.Co; o++)
            {
                for (int g = 0; g < groups; g++)
                {
                    top[g] = output + topStart[g] + o * plane;
                    bottom[g] = bottomStart[g] < 0 ? discard : output + bottomStart[g] + o * plane;
                }
                WinogradF2x3.OutputTile(mColumn + o * (long)s.Ld, xiStride, out var y00, out var y01, out var y10, out var y11);
                WinogradF2x3.StoreOutputRows(y00, y01, top, groups, tw, s.W);
                WinogradF2x3.StoreOutputRows(y10, y11, bottom, groups, tw, s.W);
            }
        }
    }

    /// <summary>Input row ih of a channel plane, or the zero row above and below the image.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* Row(float* x, int ih, TileShape s, float* zero) => (uint)ih < (uint)s.H ? x + (long)ih * s.W : zero;

    /// <summary>y[n, o, 2 tr + a, 2 tc + b] = (Aᵀ M[·, o, t - t0] A)[a, b] for the pixels inside the image, 16 tiles of a run at a time.</summary>
    private static void TransformOutput(TileShape s, float* m, float* output, long t0, int count)
    {
        if (s.ShortRows)
        {
            TransformOutputShortRows(s, m, output, t0, count);
            return;
        }
        long tilesPerImage = (long)s.TilesH * s.TilesW, plane = (long)s.H * s.W, xiStride = (long)s.Co * s.Ld;
        for (long t = t0; t < t0 + count;)
        {
            long image = t / tilesPerImage;
            int inImage = (int)(t - image * tilesPerImage), tr = inImage / s.TilesW, tc = inImage % s.TilesW;
            int run = (int)Math.Min(s.TilesW - tc, t0 + count - t);
            long local = t - t0;
            int oh = 2 * tr;
            bool secondRow = oh + 1 < s.H;
            for (int o = 0; o < s.Co; o++)
            {
                float* y = output + (image * s.Co + o) * plane + (long)oh * s.W;
                float* mRow = m + o * (long)s.Ld + local;
                for (int c = 0; c < run; c += Lanes)
                {
                    WinogradF2x3.OutputTile(mRow + c, xiStride, out var y00, out var y01, out var y10, out var y11);
                    int ow = 2 * (tc + c), columns = Math.Min(2 * (run - c), s.W - ow);
                    WinogradF2x3.StoreOutputRow(y00, y01, y + ow, columns);
                    if (secondRow) WinogradF2x3.StoreOutputRow(y10, y11, y + s.W + ow, columns);
                }
            }
            t += run;
        }
    }
}
