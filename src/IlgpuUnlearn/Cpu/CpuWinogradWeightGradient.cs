using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Cpu;

/// <summary>
/// The weight gradient of a 3x3, stride-1, pad-1 convolution by Winograd's F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for
/// Convolutional Neural Networks", 2016): 16 multiplications per 2x2 output tile and (co, ci) where the direct sum takes 36.
/// <para>
/// The forward convolution of one 2x2 output tile is Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, with g (3, 3) = w[co, ci], d (4, 4) the input
/// tile x[n, ci, 2 th - 1 .. 2 th + 2, 2 tw - 1 .. 2 tw + 2] (zero outside the image) and
/// <code>
///      Bᵀ = [ 1  0 -1  0 ]      G = [  1    0    0  ]      Aᵀ = [ 1  1  1  0 ]
///           [ 0  1  1  0 ]          [ 1/2  1/2  1/2 ]           [ 0  1 -1 -1 ]
///           [ 0 -1  1  0 ]          [ 1/2 -1/2  1/2 ]
///           [ 0  1  0 -1 ]          [  0    0    1  ]
/// </code>
/// Y is linear in g, so the gradient of a loss L with respect to g, given dY = ∂L/∂Y (2, 2) = dy[n, co, 2 th .. 2 th + 1,
/// 2 tw .. 2 tw + 1] (zero past the image's edge, where a tile overhangs an odd size), summed over every tile t of every image:
/// <code>
///   dg (3, 3) = Gᵀ dU G,   dU (4, 4) = Σ_t (A dY_t Aᵀ) ⊙ (Bᵀ d_t B)
/// </code>
/// For each of the 16 positions ξ of the 4x4 tile this is one GEMM over the tiles,
/// <code>
///   dU[ξ] (Cout, Cin) = M[ξ] (Cout, T) · V[ξ] (Cin, T)ᵀ,   M[ξ][co, t] = (A dY_t Aᵀ)[ξ],  V[ξ][ci, t] = (Bᵀ d_t B)[ξ]
/// </code>
/// with both operands contiguous along the summed tiles: the form of the direct weight gradient's dot-product micro-kernel
/// (<see cref="CpuConvWeightGradient.AccumulateTile"/>), which runs it. The transforms' coefficients are
/// <see cref="WinogradF2x3"/>'s (its one-sided steps A, Bᵀ and Gᵀ); this class lays out the tiles and sums.
/// </para>
/// <para>
/// Work: the tiles are taken a block of whole images at a time (about <see cref="CpuKernelPlan.WeightGradientGroupPixels"/>
/// tiles, so that a micro-kernel's six rows of V stay in L1): the block's V (16, Cin, L) and M (16, Cout, L) are built in one
/// parallel pass (one channel per work item), then each work item takes a rectangle of dw (32 co x 36 ci), runs the 16
/// GEMMs for it into its own dU (16, 32, 36) and adds dw[co, ci] += Gᵀ dU[·, co, ci] G for the block. Each number of dw
/// has one owner and is summed in the same order run after run (bit-for-bit reproducible), and dU is never held whole
/// (16 MiB at 512 x 512 channels).
/// </para>
/// Not for concurrent calls: the scratch buffers belong to the instance.
/// </summary>
internal sealed unsafe class CpuWinogradWeightGradient : IDisposable
{
    private const int Positions = WinogradF2x3.Positions, Lanes = WinogradF2x3.Lanes;
    private const int TileRowsCol = CpuConvWeightGradient.TileRowsCol;

    /// <summary>Tiles per block the summed length aims at (as the direct path's group, <see cref="CpuKernelPlan.WeightGradientGroupPixels"/>).</summary>
    private static readonly int TargetBlockTiles = CpuKernelPlan.Current.WeightGradientGroupPixels;
    /// <summary>
    /// The most bytes of V and M one block takes (blocks of fewer tiles for wide layers), so that the scratch this path keeps
    /// stays small beside the activations (the step's peak memory is held under 0.8x PyTorch's): 8 MiB is 1024 tiles at
    /// 64 + 64 channels, 256 at 256 + 256, 128 at 512 + 512; at least <see cref="MinBlockTiles"/> tiles. Measured on Zen 4
    /// (one thread, batch 64), against 32 MiB: 256 -> 256 at 8x8 9% slower and 512 -> 512 at 4x4 16% slower (shorter sums
    /// for the micro-kernel), about 2 ms of a step's 1.2 s; 16 MiB added 8 MiB to the step's peak.
    /// </summary>
    private const long BlockBytes = 8L << 20;
    private const int MinBlockTiles = 128;

    /// <summary>
    /// The rectangle of dw (Cout rows x Cin columns) one work item owns: each tile of six rows of V (in L1) runs against the 32
    /// rows of M (8 micro-kernel calls; 128 KiB at 1024 tiles, in L2), and each item reads its V and M once per block.
    /// Four items at 64 x 64 channels, 240 at 512 x 512; the item's dU (16 x 32 x 48 floats) lives on its stack.
    /// </summary>
    private const int ItemRows = 8 * CpuConvWeightGradient.TileRowsDy, ItemColumns = 6 * TileRowsCol, DuStride = 48;

    /// <summary>
    /// The widest rows of tiles gathered rather than transformed along the rows. Measured on Zen 4, one thread, in ns per tile
    /// (input transform / output-gradient transform): 32x32 images (16 tiles across) 5.2 / 5.4 along rows against 12.5 / 5.9
    /// gathered; 16x16 (8 across) 12.6 / 11.2 against about the same gathered; 8x8 26.6 / 22.5 against 12.5 / 5.9 (rows of
    /// few tiles leave most of a vector's lanes empty).
    /// </summary>
    private const int GatherMostTilesW = 8;

    private readonly CpuScratch _tiles = new(), _offsets = new();

    /// <summary>Frees the scratch blocks now (see <see cref="CpuScratch.Dispose"/>).</summary>
    public void Dispose()
    {
        _tiles.Dispose();
        _offsets.Dispose();
    }

    /// <summary>Whether this path computes the convolution's weight gradient: 3x3 kernels, stride 1, padding 1.</summary>
    public static bool Applies(ConvShape s) => s.K == 3 && s.Stride == 1 && s.Pad == 1;

    /// <summary>
    /// dw (Cout, Cin, 3, 3) = Σ over n, oh, ow of dy[n, co, oh, ow] x[n, ci, oh - 1 + kh, ow - 1 + kw], from x (N, Cin, H, W)
    /// and dy (N, Cout, H, W). <paramref name="s"/> must satisfy <see cref="Applies"/>.
    /// </summary>
    public void Run(ConvShape s, float* x, float* dy, float* dw)
    {
        if (!Applies(s)) throw new ArgumentException($"Winograd F(2x2, 3x3) needs a 3x3 stride-1 pad-1 convolution, not {s}", nameof(s));
        int tilesH = (s.H + 1) / 2, tilesW = (s.W + 1) / 2, tilesPerImage = tilesH * tilesW;
        // the block's tiles: the plan's target, fewer where V and M (16 (Cin + Cout) floats a tile) would pass BlockBytes
        int blockTiles = (int)Math.Clamp(BlockBytes / (Positions * sizeof(float) * ((long)s.Cin + s.Cout)), MinBlockTiles, TargetBlockTiles);
        int imagesPerBlock = Math.Clamp(blockTiles / tilesPerImage, 1, s.N);
        int stride = (imagesPerBlock * tilesPerImage + Lanes - 1) / Lanes * Lanes; // floats per row of V[ξ] and M[ξ]
        int cinStride = (s.Cin + Lanes - 1) / Lanes * Lanes;                       // floats per row of dU[ξ]
        // V[ξ][ci, t] at v + (ξ Cin + ci) stride + t; six rows more, read (and their sums dropped) by the last partial tile of rows
        // M[ξ][co, t] at m + (ξ Cout + co) stride + t, after V. One buffer of at least BlockBytes and six rows of the longest
        // block, so that every layer of a network fits the first one allocated (no regrowth, no garbage of the old one)
        long tileFloats = ((long)Positions * (s.Cin + s.Cout) + TileRowsCol) * stride;
        float* v = _tiles.Get(Math.Max(tileFloats, BlockBytes / sizeof(float) + TileRowsCol * (TargetBlockTiles + Lanes)));
        float* m = v + ((long)Positions * s.Cin + TileRowsCol) * stride;
        new Span<float>(v + (long)Positions * s.Cin * stride, TileRowsCol * stride).Clear();
        ClearParallel(dw, (long)s.Cout * s.Cin * 9);
        int rowChunks = (s.Cout + ItemRows - 1) / ItemRows, columnChunks = (s.Cin + ItemColumns - 1) / ItemColumns;

        // Images whose rows hold more than GatherMostTilesW tiles are transformed a row of tiles at a time (whole vectors
        // along the rows); narrower ones 16 tiles at a time wherever they lie, gathered by tables of offsets (TileOffsets):
        // 16 input positions and 4 output-gradient ones per tile
        bool byRows = tilesW > GatherMostTilesW;
        int* inputOffsets = byRows ? null : (int*)_offsets.Get(20L * stride), gradientOffsets = inputOffsets + 16L * stride;
        int tableImages = 0;
        for (int first = 0; first < s.N; first += imagesPerBlock)
        {
            int count = Math.Min(imagesPerBlock, s.N - first), length = count * tilesPerImage;
            int segmentLength = (length + Lanes - 1) / Lanes * Lanes;
            if (!byRows && count != tableImages)
            {
                TileOffsets(s, count, stride, inputOffsets, gradientOffsets);
                tableImages = count;
            }
            // V and M of this block's tiles, one channel (all the block's images) per work item; the rows' ends zeroed to
            // segmentLength so that the kernel's whole vectors add nothing
            CpuParallel.For(s.Cin + s.Cout, channel =>
            {
                bool input = channel < s.Cin;
                int c = input ? channel : channel - s.Cin, channels = input ? s.Cin : s.Cout;
                float* plane = (input ? x : dy) + ((long)first * channels + c) * s.H * s.W;
                float* output = (input ? v : m) + (long)c * stride;
                long positionStride = (long)channels * stride;
                if (byRows)
                {
                    float* rows = Scratch(tilesH, tilesW);
                    for (int n = 0; n < count; n++, plane += (long)channels * s.H * s.W)
                    {
                        if (input) InputTilesByRows(plane, s.H, s.W, tilesH, tilesW, output + n * tilesPerImage, positionStride, rows);
                        else OutputGradientTilesByRows(plane, s.H, s.W, tilesH, tilesW, output + n * tilesPerImage, positionStride, rows);
                    }
                    for (int xi = 0; xi < Positions; xi++)
                        new Span<float>(output + xi * positionStride + length, segmentLength - length).Clear();
                }
                else if (input) InputTilesGathered(plane, inputOffsets, stride, segmentLength, output, positionStride);
                else OutputGradientTilesGathered(plane, gradientOffsets, stride, segmentLength, output, positionStride);
            });
            // per rectangle of dw (rows co0 .. co0 + ItemRows, columns ci0 .. ci0 + ItemColumns; one work item, so that each
            // number of dw has one owner): for each ξ, dU[ξ] (rows, columns) = M[ξ] (rows, L) V[ξ] (columns, L)ᵀ, the rows of M
            // in L2 against each tile of six rows of V in L1; then dw[co, ci] += Gᵀ dU[·, co, ci] G for the block's tiles
            CpuParallel.For(rowChunks * columnChunks, item =>
            {
                float* tileSums = stackalloc float[CpuConvWeightGradient.TileRowsDy * TileRowsCol];
                int co0 = item / columnChunks * ItemRows, rows = Math.Min(ItemRows, s.Cout - co0);
                int ci0 = item % columnChunks * ItemColumns, columns = Math.Min(ItemColumns, s.Cin - ci0);
                // dU[ξ][co - co0, ci - ci0] at du + (ξ ItemRows + co - co0) DuStride + ci - ci0, zero past the columns
                float* du = stackalloc float[Positions * ItemRows * DuStride];
                new Span<float>(du, Positions * ItemRows * DuStride).Clear();
                for (int xi = 0; xi < Positions; xi++)
                {
                    float* mRows = m + ((long)xi * s.Cout + co0) * stride, vRows = v + ((long)xi * s.Cin + ci0) * stride;
                    for (int j = 0; j < columns; j += TileRowsCol)
                        CpuConvWeightGradient.AccumulateTile(mRows, stride, 0, rows, vRows + (long)j * stride, stride,
                            Math.Min(TileRowsCol, columns - j), 1, segmentLength, du + xi * ItemRows * DuStride + j, DuStride, tileSums);
                }
                for (int co = 0; co < rows; co++)
                    AddFilterGradient(du + co * DuStride, ItemRows * DuStride, columns, dw + ((long)(co0 + co) * s.Cin + ci0) * 9);
            });
        }
        // v, m and the offsets are raw pointers into _tiles' and _offsets' native blocks, which only this instance holds: without
        // this, optimised code (full opts, tier 1) lets the GC collect the instance mid-call once `this` is no longer read, and
        // CpuScratch's finalizer frees the blocks while the transforms still write into them (seen, as pinned arrays then:
        // heap corruption, crashes with DOTNET_TieredCompilation=0)
        GC.KeepAlive(this);
    }

    private static void ClearParallel(float* p, long length)
        => CpuParallel.ForRanges(length, 1 << 16, (start, count) => new Span<float>(p + start, checked((int)count)).Clear());

    /// <summary>
    /// A worker's rows of one plane's row-transformed tiles: 4 arrays of (2 tilesH + 2) rows of whole vectors of tiles, and
    /// two more rows (the plane's row split into even and odd columns).
    /// </summary>
    private static float* Scratch(int tilesH, int tilesW)
    {
        int rowLength = RowLength(tilesW);
        return CpuScratch.ThreadColumns.Get((4L * (2 * tilesH + 2) + 2) * rowLength);
    }

    /// <summary>Floats of one row of tiles in <see cref="Scratch"/>: whole vectors and one more, for the neighbour at tw + 1.</summary>
    private static int RowLength(int tilesW) => (tilesW + Lanes - 1) / Lanes * Lanes + Lanes;

    /// <summary>
    /// V = Bᵀ d B of every tile of one plane x (H, W), d (4, 4) = x[2 th - 1 + i, 2 tw - 1 + j] (zero outside the image):
    /// V[ξ = 4 i + j] of tile (th, tw) at <paramref name="output"/> + ξ <paramref name="positionStride"/> + th tilesW + tw.
    /// In two passes: along each row, h = d_row B (4 numbers per tile and row, for tw across a vector), then down the
    /// columns, V = Bᵀ h. With u[c] the row's value at column c, d_row = u[2 tw - 1 .. 2 tw + 2] and
    /// <code>
    ///   h = d_row B = [ u[2tw-1] - u[2tw+1],  u[2tw] + u[2tw+1],  u[2tw+1] - u[2tw],  u[2tw] - u[2tw+2] ]
    /// </code>
    /// which, with the row split into even E[k] = u[2k] and odd O[k] = u[2k-1] columns, is [O[tw] - O[tw+1], E[tw] + O[tw+1],
    /// O[tw+1] - E[tw], E[tw] - E[tw+1]]: whole vectors over tw.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputTilesByRows(float* x, int h, int w, int tilesH, int tilesW, float* output, long positionStride, float* scratch)
    {
        int rowLength = RowLength(tilesW), paddedRows = 2 * tilesH + 2; // rows r = -1 .. 2 tilesH of the image, zero outside it
        float* even = scratch + 4L * paddedRows * rowLength, odd = even + rowLength;
        float* h0 = scratch, h1 = h0 + (long)paddedRows * rowLength, h2 = h1 + (long)paddedRows * rowLength, h3 = h2 + (long)paddedRows * rowLength;
        for (int row = 0; row < paddedRows; row++)
        {
            int r = row - 1;
            long at = (long)row * rowLength;
            if ((uint)r >= (uint)h)
            {
                new Span<float>(h0 + at, rowLength).Clear();
                new Span<float>(h1 + at, rowLength).Clear();
                new Span<float>(h2 + at, rowLength).Clear();
                new Span<float>(h3 + at, rowLength).Clear();
                continue;
            }
            // E[k] = u[2k] at even[k], O[k] = u[2k - 1] at odd[k] (the odd columns one place on, O[0] the padding), for k up
            // to rowLength - 16, the last one read as a neighbour (zero: 2 (rowLength - 16) >= 2 tilesW >= w)
            SplitEvenOdd(x + (long)r * w, w, even, odd + 1, rowLength - Lanes);
            odd[0] = 0f;
            even[rowLength - Lanes] = 0f;
            for (int k = 0; k < rowLength - Lanes; k += Lanes) // loads up to k + 16 < rowLength
            {
                // d_row = (O[tw], E[tw], O[tw + 1], E[tw + 1])
                WinogradF2x3.InputStep(Vector512.Load(odd + k), Vector512.Load(even + k), Vector512.Load(odd + k + 1),
                    Vector512.Load(even + k + 1), out var a, out var b, out var c, out var d);
                a.Store(h0 + at + k);
                b.Store(h1 + at + k);
                c.Store(h2 + at + k);
                d.Store(h3 + at + k);
            }
        }
        // V = Bᵀ h down the columns: rows 2 th - 1 .. 2 th + 2 of the image are rows 2 th .. 2 th + 3 of h
        float** hj = stackalloc float*[4] { h0, h1, h2, h3 };
        for (int th = 0; th < tilesH; th++)
            for (int j = 0; j < 4; j++)
            {
                float* r0 = hj[j] + (long)(2 * th) * rowLength;
                float* r1 = r0 + rowLength, r2 = r1 + rowLength, r3 = r2 + rowLength;
                float* o = output + th * tilesW;
                for (int tw = 0; tw < tilesW; tw += Lanes)
                {
                    WinogradF2x3.InputStep(Vector512.Load(r0 + tw), Vector512.Load(r1 + tw), Vector512.Load(r2 + tw), Vector512.Load(r3 + tw),
                        out var v0, out var v1, out var v2, out var v3);
                    int valid = Math.Min(Lanes, tilesW - tw);
                    WinogradF2x3.StoreFirst(v0, o + (0 * 4 + j) * positionStride + tw, valid);
                    WinogradF2x3.StoreFirst(v1, o + (1 * 4 + j) * positionStride + tw, valid);
                    WinogradF2x3.StoreFirst(v2, o + (2 * 4 + j) * positionStride + tw, valid);
                    WinogradF2x3.StoreFirst(v3, o + (3 * 4 + j) * positionStride + tw, valid);
                }
            }
    }

    /// <summary>
    /// M = A dY Aᵀ (4, 4) of every tile of one plane dy (H, W), dY (2, 2) = dy[2 th + a, 2 tw + b] (zero past the edge):
    /// M[ξ = 4 i + j] of tile (th, tw) at <paramref name="output"/> + ξ <paramref name="positionStride"/> + th tilesW + tw.
    /// Along each row, q = dY_row Aᵀ with dY_row = [E[tw], O[tw]] (the row's even and odd columns):
    /// q = [E, E + O, E - O, -O]; then down the columns, M = A q over the tile's rows q_0, q_1: [q_0, q_0 + q_1, q_0 - q_1, -q_1].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OutputGradientTilesByRows(float* dy, int h, int w, int tilesH, int tilesW, float* output, long positionStride, float* scratch)
    {
        int rowLength = RowLength(tilesW), paddedRows = 2 * tilesH; // rows 0 .. 2 tilesH - 1, zero past the image
        float* even = scratch + 4L * paddedRows * rowLength, odd = even + rowLength;
        float* q0 = scratch, q1 = q0 + (long)paddedRows * rowLength, q2 = q1 + (long)paddedRows * rowLength, q3 = q2 + (long)paddedRows * rowLength;
        for (int r = 0; r < paddedRows; r++)
        {
            long at = (long)r * rowLength;
            // E[k] = dy[r, 2k], O[k] = dy[r, 2k + 1], zero past the image
            if (r < h) SplitEvenOdd(dy + (long)r * w, w, even, odd, rowLength - Lanes);
            else
            {
                new Span<float>(even, rowLength).Clear();
                new Span<float>(odd, rowLength).Clear();
            }
            for (int k = 0; k < rowLength - Lanes; k += Lanes)
            {
                WinogradF2x3.OutputGradientStep(Vector512.Load(even + k), Vector512.Load(odd + k), out var a, out var b, out var c, out var d);
                a.Store(q0 + at + k);
                b.Store(q1 + at + k);
                c.Store(q2 + at + k);
                d.Store(q3 + at + k);
            }
        }
        float** qj = stackalloc float*[4] { q0, q1, q2, q3 };
        for (int th = 0; th < tilesH; th++)
            for (int j = 0; j < 4; j++)
            {
                float* r0 = qj[j] + (long)(2 * th) * rowLength, r1 = r0 + rowLength;
                float* o = output + th * tilesW;
                for (int tw = 0; tw < tilesW; tw += Lanes)
                {
                    WinogradF2x3.OutputGradientStep(Vector512.Load(r0 + tw), Vector512.Load(r1 + tw), out var m0, out var m1, out var m2, out var m3);
                    int valid = Math.Min(Lanes, tilesW - tw);
                    WinogradF2x3.StoreFirst(m0, o + (0 * 4 + j) * positionStride + tw, valid);
                    WinogradF2x3.StoreFirst(m1, o + (1 * 4 + j) * positionStride + tw, valid);
                    WinogradF2x3.StoreFirst(m2, o + (2 * 4 + j) * positionStride + tw, valid);
                    WinogradF2x3.StoreFirst(m3, o + (3 * 4 + j) * positionStride + tw, valid);
                }
            }
    }

    /// <summary>
    /// even[k] = u[2k], odd[k] = u[2k + 1] for k in [0, <paramref name="length"/>) (a multiple of 16 at least ceil(w / 2)),
    /// zero past the row's <paramref name="w"/> values: by AVX-512, 32 values at a time as two masked loads and
    /// <see cref="WinogradF2x3.Deinterleave"/>'s two two-vector permutes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SplitEvenOdd(float* u, int w, float* even, float* odd, int length)
    {
        if (Avx512F.IsSupported)
        {
            var lanes = Vector512<int>.Indices;
            var end = Vector512.Create(w);
            for (int k = 0; k < length; k += Lanes)
            {
                int c = 2 * k;
                var low = Avx512F.MaskLoad(u + c, Vector512.LessThan(lanes + Vector512.Create(c), end).AsSingle(), Vector512<float>.Zero);
                var high = Avx512F.MaskLoad(u + c + Lanes, Vector512.LessThan(lanes + Vector512.Create(c + Lanes), end).AsSingle(), Vector512<float>.Zero);
                WinogradF2x3.Deinterleave(low, high, out var e, out var o);
                e.Store(even + k);
                o.Store(odd + k);
            }
            return;
        }
        for (int k = 0; k < length; k++)
        {
            even[k] = 2 * k < w ? u[2 * k] : 0f;
            odd[k] = 2 * k + 1 < w ? u[2 * k + 1] : 0f;
        }
    }

    /// <summary>
    /// The tables of where each tile's values lie, for a block of <paramref name="count"/> images, tile t = n T + th tilesW + tw
    /// (T tiles per image) of the summed index: the input tile's d[i, j] = x[n, ci, 2 th - 1 + i, 2 tw - 1 + j] at
    /// <c>inputOffsets[(4 i + j) stride + t]</c> and the output gradient's dY[a, b] = dy[n, co, 2 th + a, 2 tw + b] at
    /// <c>gradientOffsets[(2 a + b) stride + t]</c>, as offsets from the channel's plane in the block's first image; -1 where the
    /// value lies outside the image (the padding, or past the edge of an odd size) and for t past the block's tiles.
    /// </summary>
    private static void TileOffsets(ConvShape s, int count, int stride, int* inputOffsets, int* gradientOffsets)
    {
        int tilesH = (s.H + 1) / 2, tilesW = (s.W + 1) / 2, tilesPerImage = tilesH * tilesW, plane = s.H * s.W;
        for (int t = 0; t < stride; t++)
        {
            int n = t / tilesPerImage, th = t % tilesPerImage / tilesW, tw = t % tilesW;
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++)
                {
                    int r = 2 * th - 1 + i, c = 2 * tw - 1 + j;
                    bool inside = n < count && (uint)r < (uint)s.H && (uint)c < (uint)s.W;
                    inputOffsets[(4 * i + j) * stride + t] = inside ? n * s.Cin * plane + r * s.W + c : -1;
                }
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++)
                {
                    int r = 2 * th + a, c = 2 * tw + b;
                    bool inside = n < count && r < s.H && c < s.W;
                    gradientOffsets[(2 * a + b) * stride + t] = inside ? n * s.Cout * plane + r * s.W + c : -1;
                }
        }
    }

    /// <summary>
    /// V = Bᵀ d B of tiles 0 .. <paramref name="length"/> (a multiple of 16) of one input channel, d (4, 4) gathered from
    /// <paramref name="x"/> (the channel's plane in the block's first image) by <paramref name="offsets"/> (see
    /// <see cref="TileOffsets"/>), 16 tiles across a vector (whatever images and rows they lie in): V[ξ = 4 i + j] of tile t at <paramref name="output"/> +
    /// ξ <paramref name="positionStride"/> + t. First along the rows, h = d B:
    /// <code>
    ///   h[i] = [ d[i,0] - d[i,2],  d[i,1] + d[i,2],  d[i,2] - d[i,1],  d[i,1] - d[i,3] ]
    /// </code>
    /// then down the columns, V = Bᵀ h: V[0] = h[0] - h[2], V[1] = h[1] + h[2], V[2] = h[2] - h[1], V[3] = h[1] - h[3].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputTilesGathered(float* x, int* offsets, int stride, int length, float* output, long positionStride)
    {
        var h = stackalloc Vector512<float>[16]; // h (4, 4) of 16 tiles
        for (int t = 0; t < length; t += Lanes)
        {
            for (int i = 0; i < 4; i++)
            {
                WinogradF2x3.InputStep(Gather(x, offsets + (4 * i + 0) * stride + t), Gather(x, offsets + (4 * i + 1) * stride + t),
                    Gather(x, offsets + (4 * i + 2) * stride + t), Gather(x, offsets + (4 * i + 3) * stride + t),
                    out h[4 * i + 0], out h[4 * i + 1], out h[4 * i + 2], out h[4 * i + 3]);
            }
            for (int j = 0; j < 4; j++)
            {
                WinogradF2x3.InputStep(h[0 * 4 + j], h[1 * 4 + j], h[2 * 4 + j], h[3 * 4 + j], out var v0, out var v1, out var v2, out var v3);
                v0.Store(output + (0 * 4 + j) * positionStride + t);
                v1.Store(output + (1 * 4 + j) * positionStride + t);
                v2.Store(output + (2 * 4 + j) * positionStride + t);
                v3.Store(output + (3 * 4 + j) * positionStride + t);
            }
        }
    }

    /// <summary>
    /// M = A dY Aᵀ (4, 4) of tiles 0 .. <paramref name="length"/> of one output-gradient channel, dY (2, 2) gathered from
    /// <paramref name="dy"/> by <paramref name="offsets"/> (see <see cref="TileOffsets"/>): M[ξ = 4 i + j] of tile t at
    /// <paramref name="output"/> + ξ <paramref name="positionStride"/> + t. Along the rows, q[a] = dY[a] Aᵀ =
    /// [dY[a,0], dY[a,0] + dY[a,1], dY[a,0] - dY[a,1], -dY[a,1]]; down the columns, M = A q = [q[0], q[0] + q[1], q[0] - q[1], -q[1]].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OutputGradientTilesGathered(float* dy, int* offsets, int stride, int length, float* output, long positionStride)
    {
        var q = stackalloc Vector512<float>[8]; // q (2, 4) of 16 tiles
        for (int t = 0; t < length; t += Lanes)
        {
            for (int a = 0; a < 2; a++)
            {
                WinogradF2x3.OutputGradientStep(Gather(dy, offsets + (2 * a + 0) * stride + t), Gather(dy, offsets + (2 * a + 1) * stride + t),
                    out q[4 * a + 0], out q[4 * a + 1], out q[4 * a + 2], out q[4 * a + 3]);
            }
            for (int j = 0; j < 4; j++)
            {
                WinogradF2x3.OutputGradientStep(q[j], q[4 + j], out var m0, out var m1, out var m2, out var m3);
                m0.Store(output + (0 * 4 + j) * positionStride + t);
                m1.Store(output + (1 * 4 + j) * positionStride + t);
                m2.Store(output + (2 * 4 + j) * positionStride + t);
                m3.Store(output + (3 * 4 + j) * positionStride + t);
            }
        }
    }

    /// <summary>plane[offsets[l]] for the 16 lanes l, 0 where the offset is -1 (by two masked AVX2 gathers where there are).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Gather(float* plane, int* offsets)
    {
        if (Avx2.IsSupported)
        {
            var low = Vector256.Load(offsets);
            var high = Vector256.Load(offsets + 8);
            var lowInside = Vector256.GreaterThanOrEqual(low, Vector256<int>.Zero).AsSingle();
            var highInside = Vector256.GreaterThanOrEqual(high, Vector256<int>.Zero).AsSingle();
            return Vector512.Create(
                Avx2.GatherMaskVector256(Vector256<float>.Zero, plane, low, lowInside, 4),
                Avx2.GatherMaskVector256(Vector256<float>.Zero, plane, high, highInside, 4));
        }
        var lanes = Vector512<float>.Zero;
        for (int l = 0; l < Lanes; l++)
            if (offsets[l] >= 0) lanes = lanes.WithElement(l, plane[offsets[l]]);
        return lanes;
    }

    /// <summary>
    /// dw[co, ci] (3, 3) += Gᵀ dU[·, co, ci] G for every ci of one co, 16 ci at a time (<see cref="WinogradF2x3.FilterGradientTile"/>).
    /// dU[ξ][co, ci] at <paramref name="du"/> + ξ <paramref name="positionStride"/> + ci, each row whole vectors (zero past cin);
    /// dw[co, ci, kh, kw] at <paramref name="dw"/> + 9 ci + 3 kh + kw.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddFilterGradient(float* du, long positionStride, int cin, float* dw)
    {
        var g = stackalloc float[9 * Lanes]; // dg (3, 3) of 16 ci, position-major
        for (int ci0 = 0; ci0 < cin; ci0 += Lanes)
        {
            WinogradF2x3.FilterGradientTile(du + ci0, positionStride, g);
            int valid = Math.Min(Lanes, cin - ci0);
            for (int l = 0; l < valid; l++)
                for (int t = 0; t < 9; t++) dw[(ci0 + l) * 9 + t] += g[t * Lanes + l];
        }
    }
}
