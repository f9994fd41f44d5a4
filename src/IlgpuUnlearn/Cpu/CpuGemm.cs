using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace IlgpuUnlearn.Cpu;

/// <summary>
/// Where the GEMM's output columns go. The columns of C are numbered across a batch of images: column j is pixel
/// j % ColumnsPerImage of image j / ColumnsPerImage, and C[row, j] lives at
/// Base + image * ImageStride + row * RowStride + pixel (NCHW output: RowStride = OH OW, ImageStride = Cout OH OW).
/// </summary>
internal readonly unsafe struct GemmOutput(float* @base, long rowStride, long columnsPerImage, long imageStride)
{
    public float* Base { get; } = @base;
    public long RowStride { get; } = rowStride;
    public long ColumnsPerImage { get; } = columnsPerImage;
    public long ImageStride { get; } = imageStride;

    /// <summary>The address of C[0, j].</summary>
    public float* ColumnAddress(long j) => Base + j / ColumnsPerImage * ImageStride + j % ColumnsPerImage;

    /// <summary>Whether columns [j, j + count) are pixels of one image (and so contiguous).</summary>
    public bool WithinOneImage(long j, int count) => j % ColumnsPerImage + count <= ColumnsPerImage;

    /// <summary>A plain row-major matrix with <paramref name="rowStride"/> floats between rows.</summary>
    public static GemmOutput RowMajor(float* c, long rowStride) => new(c, rowStride, long.MaxValue, 0);
}

/// <summary>Packs the B operand of the GEMM: a micro-panel of kc rows by <see cref="CpuGemm.NR"/> columns.</summary>
internal unsafe interface IGemmPanelSource
{
    /// <summary>
    /// dst[kk, jj] = B[k0 + kk, j0 + jj] for kk &lt; kc, jj &lt; cols; zero for cols &lt;= jj &lt; NR. dst is kc rows of NR floats.
    /// </summary>
    void Pack(long j0, int cols, int k0, int kc, float* dst);
}

/// <summary>
/// Single-precision GEMM, C (M, Ncols) = A (M, K) B (K, Ncols), BLIS-style: A packed once into panels of MR rows,
/// B packed micro-panel by micro-panel (kc x NR) from whatever it really is (an image for im2col-free convolution),
/// and an MR x NR register-blocked Vector512 FMA micro-kernel: 8 rows x 48 columns = 24 zmm accumulators.
/// </summary>
internal static unsafe class CpuGemm
{
    /// <summary>Rows of a micro-tile (broadcast from packed A).</summary>
    public const int MR = 8;
    /// <summary>Columns of a micro-tile (three Vector512 of packed B).</summary>
    public const int NR = 48;
    /// <summary>The most rows of K one pass of the micro-kernel takes (<see cref="CpuKernelPlan.GemmKBlock"/>).</summary>
    public static readonly int MaxKc = CpuKernelPlan.Current.GemmKBlock;
    /// <summary>The most micro-panels of columns one worker takes at a time (<see cref="CpuKernelPlan.GemmPanelsPerChunk"/>).</summary>
    private static readonly int PanelsPerChunk = CpuKernelPlan.Current.GemmPanelsPerChunk;
    /// <summary>Work items per worker a GEMM aims at, so that a core slowed by other work leaves little for the others to wait on.</summary>
    private const int ChunksPerWorker = 8;

    /// <summary>
    /// Micro-panels per work item for a GEMM of <paramref name="panels"/> column panels: the plan's N block, fewer when that
    /// would give a worker fewer than <see cref="ChunksPerWorker"/> items (layer4 at batch 64 has 22 panels: 22 items, not 6).
    /// </summary>
    public static int PanelsPerChunkFor(long panels) => (int)Math.Clamp(panels / (CpuParallel.Workers * ChunksPerWorker), 1, PanelsPerChunk);

    public static int PaddedRows(int m) => (m + MR - 1) / MR * MR;

    /// <summary>How K is cut into passes: equal blocks of at most <see cref="MaxKc"/>.</summary>
    public static int KBlock(int k) => (k + (k + MaxKc - 1) / MaxKc - 1) / ((k + MaxKc - 1) / MaxKc);

    /// <summary>
    /// Packs A (M, K), A[m, k] at a[m * rowStride + k * colStride], into K blocks of <see cref="KBlock"/> rows, each block
    /// holding ceil(M / MR) panels of kc x MR (row m of the panel is column m % MR), zero past M.
    /// Block starting at k0 begins at k0 * PaddedRows(M); its panel i at i * MR * kc within the block.
    /// </summary>
    public static void PackA(float* a, long rowStride, long colStride, int m, int k, float* packed)
    {
        int kcMax = KBlock(k);
        int mPad = PaddedRows(m);
        CpuParallel.For((mPad / MR) * ((k + kcMax - 1) / kcMax), item =>
        {
            int panel = item % (mPad / MR), block = item / (mPad / MR);
            int k0 = block * kcMax, kc = Math.Min(kcMax, k - k0);
            float* dst = packed + (long)k0 * mPad + (long)panel * MR * kc;
            int rows = Math.Min(MR, m - panel * MR);
            for (int kk = 0; kk < kc; kk++)
            {
                float* src = a + (long)(k0 + kk) * colStride + (long)panel * MR * rowStride;
                for (int r = 0; r < rows; r++) dst[kk * MR + r] = src[r * rowStride];
                for (int r = rows; r < MR; r++) dst[kk * MR + r] = 0f;
            }
        });
    }

    /// <summary>
    /// Where <see cref="PackA"/> puts A[row, col] of an (M, K) matrix: the index in the packed array, with mPad = PaddedRows(M)
    /// and kcMax = KBlock(K) passed in so that a loop over many elements computes them once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long PackedIndex(int mPad, int k, int kcMax, int row, int col)
    {
        int k0 = col / kcMax * kcMax, kc = Math.Min(kcMax, k - k0);
        return (long)k0 * mPad + (long)(row / MR) * MR * kc + (col - k0) * MR + row % MR;
    }

    /// <summary>C = A B over all columns, spread over the cores in chunks of micro-panels.</summary>
    public static void Multiply<TSource>(int m, long ncols, int k, float* packedA, TSource source, GemmOutput c)
        where TSource : struct, IGemmPanelSource
    {
        long panels = (ncols + NR - 1) / NR;
        int perChunk = PanelsPerChunkFor(panels);
        long chunks = (panels + perChunk - 1) / perChunk;
        CpuParallel.For((int)chunks, chunk =>
        {
            long j0 = chunk * perChunk * (long)NR;
            MultiplyColumns(m, k, packedA, source, c, j0, Math.Min(perChunk * (long)NR, ncols - j0));
        });
    }

    /// <summary>C[:, j0 .. j0 + count) = A B[:, j0 .. j0 + count), on this thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MultiplyColumns<TSource>(int m, int k, float* packedA, TSource source, GemmOutput c, long j0, long count)
        where TSource : struct, IGemmPanelSource
    {
        int kcMax = KBlock(k);
        int mPad = PaddedRows(m);
        float* panel = CpuScratch.ThreadPanel.Get((long)kcMax * NR);
        for (int k0 = 0; k0 < k; k0 += kcMax)
        {
            int kc = Math.Min(kcMax, k - k0);
            float* aBlock = packedA + (long)k0 * mPad;
            bool accumulate = k0 > 0;
            for (long j = j0; j < j0 + count; j += NR)
            {
                int cols = (int)Math.Min(NR, j0 + count - j);
                source.Pack(j, cols, k0, kc, panel);
                // Each 16-column third of the tile goes to one place when it lies within one image (always for a panel
                // inside one image; for small images when their pixel count is a multiple of 16: 8x8, 4x4 outputs).
                float* c0 = c.ColumnAddress(j), c1 = c.ColumnAddress(j + 16), c2 = c.ColumnAddress(j + 32);
                bool vectorsWhole = cols == NR && c.WithinOneImage(j, 16) && c.WithinOneImage(j + 16, 16) && c.WithinOneImage(j + 32, 16);
                for (int i = 0; i < m; i += MR)
                {
                    int rows = Math.Min(MR, m - i);
                    float* aPanel = aBlock + (long)i * kc;
                    long rowOffset = i * c.RowStride;
                    if (vectorsWhole && rows == MR)
                        Kernel8x48(aPanel, panel, kc, c0 + rowOffset, c1 + rowOffset, c2 + rowOffset, c.RowStride, accumulate);
                    else
                        KernelEdge(aPanel, panel, kc, c, i, rows, j, cols, accumulate);
                }
            }
        }
    }

    /// <summary>A partial or image-straddling tile: the micro-kernel into a stack tile, then row by row, column by column.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KernelEdge(float* aPanel, float* bPanel, int kc, GemmOutput c, int row0, int rows, long j0, int cols, bool accumulate)
    {
        float* tile = stackalloc float[MR * NR];
        Kernel8x48(aPanel, bPanel, kc, tile, tile + 16, tile + 32, NR, accumulate: false);
        for (int jj = 0; jj < cols;)
        {
            long j = j0 + jj;
            long image = j / c.ColumnsPerImage, pixel = j % c.ColumnsPerImage;
            int run = (int)Math.Min(cols - jj, c.ColumnsPerImage - pixel);
            for (int r = 0; r < rows; r++)
            {
                float* dst = c.Base + image * c.ImageStride + (row0 + r) * c.RowStride + pixel;
                float* src = tile + r * NR + jj;
                if (accumulate) for (int t = 0; t < run; t++) dst[t] += src[t];
                else for (int t = 0; t < run; t++) dst[t] = src[t];
            }
            jj += run;
        }
    }

    /// <summary>
    /// C (8 x 48, row stride ldc) (+)= A panel (kc x 8) times B panel (kc x 48): 24 accumulators in zmm registers,
    /// per k three loads of B, eight broadcasts of A, 24 FMAs. Columns 0-15, 16-31 and 32-47 of C start at c0, c1 and c2
    /// (c0 + 16 and c0 + 32 for one contiguous tile), so a tile may span images of 16 pixels or any multiple of 16.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel8x48(float* a, float* b, int kc, float* c0, float* c1, float* c2, long ldc, bool accumulate)
    {
        Vector512<float> c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c30 = default, c31 = default, c32 = default;
        Vector512<float> c40 = default, c41 = default, c42 = default, c50 = default, c51 = default, c52 = default;
        Vector512<float> c60 = default, c61 = default, c62 = default, c70 = default, c71 = default, c72 = default;
        for (int k = 0; k < kc; k++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var b2 = Vector512.Load(b + 32);
            var a0 = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(a0, b0, c00); c01 = Vector512.FusedMultiplyAdd(a0, b1, c01); c02 = Vector512.FusedMultiplyAdd(a0, b2, c02);
            var a1 = Vector512.Create(a[1]);
            c10 = Vector512.FusedMultiplyAdd(a1, b0, c10); c11 = Vector512.FusedMultiplyAdd(a1, b1, c11); c12 = Vector512.FusedMultiplyAdd(a1, b2, c12);
            var a2 = Vector512.Create(a[2]);
            c20 = Vector512.FusedMultiplyAdd(a2, b0, c20); c21 = Vector512.FusedMultiplyAdd(a2, b1, c21); c22 = Vector512.FusedMultiplyAdd(a2, b2, c22);
            var a3 = Vector512.Create(a[3]);
            c30 = Vector512.FusedMultiplyAdd(a3, b0, c30); c31 = Vector512.FusedMultiplyAdd(a3, b1, c31); c32 = Vector512.FusedMultiplyAdd(a3, b2, c32);
            var a4 = Vector512.Create(a[4]);
            c40 = Vector512.FusedMultiplyAdd(a4, b0, c40); c41 = Vector512.FusedMultiplyAdd(a4, b1, c41); c42 = Vector512.FusedMultiplyAdd(a4, b2, c42);
            var a5 = Vector512.Create(a[5]);
            c50 = Vector512.FusedMultiplyAdd(a5, b0, c50); c51 = Vector512.FusedMultiplyAdd(a5, b1, c51); c52 = Vector512.FusedMultiplyAdd(a5, b2, c52);
            var a6 = Vector512.Create(a[6]);
            c60 = Vector512.FusedMultiplyAdd(a6, b0, c60); c61 = Vector512.FusedMultiplyAdd(a6, b1, c61); c62 = Vector512.FusedMultiplyAdd(a6, b2, c62);
            var a7 = Vector512.Create(a[7]);
            c70 = Vector512.FusedMultiplyAdd(a7, b0, c70); c71 = Vector512.FusedMultiplyAdd(a7, b1, c71); c72 = Vector512.FusedMultiplyAdd(a7, b2, c72);
            a += MR;
            b += NR;
        }
        StoreRow(c0, c1, c2, c00, c01, c02, accumulate);
        StoreRow(c0 + ldc, c1 + ldc, c2 + ldc, c10, c11, c12, accumulate);
        StoreRow(c0 + 2 * ldc, c1 + 2 * ldc, c2 + 2 * ldc, c20, c21, c22, accumulate);
        StoreRow(c0 + 3 * ldc, c1 + 3 * ldc, c2 + 3 * ldc, c30, c31, c32, accumulate);
        StoreRow(c0 + 4 * ldc, c1 + 4 * ldc, c2 + 4 * ldc, c40, c41, c42, accumulate);
        StoreRow(c0 + 5 * ldc, c1 + 5 * ldc, c2 + 5 * ldc, c50, c51, c52, accumulate);
        StoreRow(c0 + 6 * ldc, c1 + 6 * ldc, c2 + 6 * ldc, c60, c61, c62, accumulate);
        StoreRow(c0 + 7 * ldc, c1 + 7 * ldc, c2 + 7 * ldc, c70, c71, c72, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* c0, float* c1, float* c2, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, bool accumulate)
    {
        if (accumulate)
        {
            v0 += Vector512.Load(c0);
            v1 += Vector512.Load(c1);
            v2 += Vector512.Load(c2);
        }
        Vector512.Store(v0, c0);
        Vector512.Store(v1, c1);
        Vector512.Store(v2, c2);
    }

    /// <summary>
    /// C (M, N) = A (M, K) B (K, N), all row-major and dense. For tests and the micro-benchmark; the convolutions call
    /// <see cref="PackA"/> and <see cref="Multiply{TSource}"/> with their own B sources.
    /// </summary>
    public static void Multiply(int m, int n, int k, float* a, float* b, float* c, CpuScratch packedAScratch)
    {
        float* packedA = packedAScratch.Get((long)PaddedRows(m) * k);
        PackA(a, k, 1, m, k, packedA);
        Multiply(m, n, k, packedA, new RowMajorPanelSource(b, n), GemmOutput.RowMajor(c, n));
        GC.KeepAlive(packedAScratch); // only its array's address is used above: the caller's scratch may be otherwise dead
    }

    /// <summary>B as a dense row-major matrix with <c>RowStride</c> floats between rows.</summary>
    internal readonly struct RowMajorPanelSource(float* b, long rowStride) : IGemmPanelSource
    {
        public void Pack(long j0, int cols, int k0, int kc, float* dst)
        {
            for (int kk = 0; kk < kc; kk++)
            {
                float* src = b + (k0 + kk) * rowStride + j0;
                float* d = dst + kk * NR;
                if (cols == NR)
                {
                    Vector512.Store(Vector512.Load(src), d);
                    Vector512.Store(Vector512.Load(src + 16), d + 16);
                    Vector512.Store(Vector512.Load(src + 32), d + 32);
                }
                else
                {
                    for (int jj = 0; jj < cols; jj++) d[jj] = src[jj];
                    for (int jj = cols; jj < NR; jj++) d[jj] = 0f;
                }
            }
        }
    }
}
