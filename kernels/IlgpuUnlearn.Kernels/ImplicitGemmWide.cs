using System.Runtime.CompilerServices;
using ILGPU;

namespace IlgpuUnlearn.Kernels;

/// <summary>
/// The implicit GEMM of <see cref="ImplicitGemm"/> (same operands, same result) with a 128 x 128 tile and four times the work per
/// thread: each of the 256 threads (tx, ty) of the 16 x 16 grid accumulates an 8 x 8 register block, rows ty + 16 i and columns
/// tx + 16 j, so every value it reads from shared memory feeds 8 multiply-adds (4 in the 64 x 64 kernel).
/// K is walked in steps of 8 through two shared-memory buffers: before multiplying out the current slice each thread issues
/// its global loads of the next slice into registers (their latency hides behind the arithmetic) and stores them into the other
/// buffer afterwards, so a step needs one barrier instead of two.
/// Grid: (ceil(N / 128), ceil(M / 128), splits); group z sums k in [z kPerSplit, (z + 1) kPerSplit), kPerSplit a multiple of 8.
/// </summary>
public static class ImplicitGemmWide
{
    public const int TileM = 128;
    public const int TileN = 128;
    public const int TileK = 8;
    public const int Threads = 256;
    /// <summary>Row pitch of the shared tiles: 132 = 4 mod 32, so the slice stores (8 k by 4 m or n per warp) hit 32 distinct banks.</summary>
    private const int Pitch = 132;
    private const int BufferSize = TileK * Pitch;

    public static void Tiled128<TOperands, TColumn>(TOperands op, int kPerSplit)
        where TOperands : struct, IGemmOperands<TColumn>
        where TColumn : struct
    {
        var aTiles = SharedMemory.Allocate<float>(2 * BufferSize);   // aTiles[buffer * BufferSize + k * Pitch + m]
        var bTiles = SharedMemory.Allocate<float>(2 * BufferSize);   // bTiles[buffer * BufferSize + k * Pitch + n]

        int t = Group.IdxX;
        int tx = t % 16, ty = t / 16;
        int m0 = Grid.IdxY * TileM, n0 = Grid.IdxX * TileN;
        int split = Grid.IdxZ;
        int kBegin = split * kPerSplit;
        int kEnd = Math.Min(op.K, kBegin + kPerSplit);
        int rows = op.M, cols = op.N;
        bool bAlongK = op.BContiguousAlongK;

        // This thread's share of a slice, the same every step: A[m0 + am + 32 r, k0 + ak] and B[k0 + bk + r bkStep, n0 + bn + r bnStep]
        // for r < 4 (along k for B when its memory runs along k, else along n).
        int ak = t % TileK, am = t / TileK;
        int bk = bAlongK ? t % TileK : t / TileN;
        int bn = bAlongK ? t / TileK : t % TileN;
        int bkStep = bAlongK ? 0 : 2, bnStep = bAlongK ? 32 : 0;
        var col0 = op.Column(Math.Min(n0 + bn, cols - 1));
        var col1 = op.Column(Math.Min(n0 + bn + bnStep, cols - 1));
        var col2 = op.Column(Math.Min(n0 + bn + 2 * bnStep, cols - 1));
        var col3 = op.Column(Math.Min(n0 + bn + 3 * bnStep, cols - 1));
        int aStore = ak * Pitch + am, bStore = bk * Pitch + bn, bStoreStep = bkStep * Pitch + bnStep;

        if (kBegin < kEnd)
        {
            Store(aTiles, aStore, 32, LoadA<TOperands, TColumn>(op, m0 + am, kBegin + ak, rows, kEnd));
            Store(bTiles, bStore, bStoreStep, LoadB<TOperands, TColumn>(op, kBegin + bk, bkStep, n0 + bn, bnStep, kEnd, cols, col0, col1, col2, col3));
        }
        Group.Barrier();

        Vec8 c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        int buffer = 0;
        for (int k0 = kBegin; k0 < kEnd; k0 += TileK)
        {
            int next = k0 + TileK;
            bool more = next < kEnd;   // the same for the whole group
            Vec4 aNext = default, bNext = default;
            if (more)
            {
                aNext = LoadA<TOperands, TColumn>(op, m0 + am, next + ak, rows, kEnd);
                bNext = LoadB<TOperands, TColumn>(op, next + bk, bkStep, n0 + bn, bnStep, kEnd, cols, col0, col1, col2, col3);
            }

            int offset = buffer * BufferSize;
            for (int kk = 0; kk < TileK; kk++)
            {
                int row = offset + kk * Pitch;
                var a = Vec8.Load(aTiles, row + ty);   // A[m0 + ty + 16 i, k0 + kk]
                var b = Vec8.Load(bTiles, row + tx);   // B[k0 + kk, n0 + tx + 16 j]
                c0 = c0.MultiplyAdd(a.V0, b); c1 = c1.MultiplyAdd(a.V1, b);
                c2 = c2.MultiplyAdd(a.V2, b); c3 = c3.MultiplyAdd(a.V3, b);
                c4 = c4.MultiplyAdd(a.V4, b); c5 = c5.MultiplyAdd(a.V5, b);
                c6 = c6.MultiplyAdd(a.V6, b); c7 = c7.MultiplyAdd(a.V7, b);
            }

            if (more)
            {
                // The other buffer was last read in the previous step, which every thread finished before the last barrier.
                buffer = 1 - buffer;
                Store(aTiles, buffer * BufferSize + aStore, 32, aNext);
                Store(bTiles, buffer * BufferSize + bStore, bStoreStep, bNext);
            }
            Group.Barrier();
        }

        StoreRow<TOperands, TColumn>(op, m0 + ty, n0 + tx, split, c0);
        StoreRow<TOperands, TColumn>(op, m0 + ty + 16, n0 + tx, split, c1);
        StoreRow<TOperands, TColumn>(op, m0 + ty + 32, n0 + tx, split, c2);
        StoreRow<TOperands, TColumn>(op, m0 + ty + 48, n0 + tx, split, c3);
        StoreRow<TOperands, TColumn>(op, m0 + ty + 64, n0 + tx, split, c4);
        StoreRow<TOperands, TColumn>(op, m0 + ty + 80, n0 + tx, split, c5);
        StoreRow<TOperands, TColumn>(op, m0 + ty + 96, n0 + tx, split, c6);
        StoreRow<TOperands, TColumn>(op, m0 + ty + 112, n0 + tx, split, c7);
    }

    /// <summary>A[m + 32 r, k] for r &lt; 4, zero past the ends.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vec4 LoadA<TOperands, TColumn>(TOperands op, int m, int k, int rows, int kEnd)
        where TOperands : struct, IGemmOperands<TColumn>
        where TColumn : struct
    {
        bool kIn = k < kEnd;
        return new Vec4(
            kIn && m < rows ? op.A(m, k) : 0f,
            kIn && m + 32 < rows ? op.A(m + 32, k) : 0f,
            kIn && m + 64 < rows ? op.A(m + 64, k) : 0f,
            kIn && m + 96 < rows ? op.A(m + 96, k) : 0f);
    }

    /// <summary>B[k + r kStep, n + r nStep] for r &lt; 4 (column r decoded as <paramref name="c0"/>..<paramref name="c3"/>), zero past the ends.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vec4 LoadB<TOperands, TColumn>(TOperands op, int k, int kStep, int n, int nStep, int kEnd, int cols,
        TColumn c0, TColumn c1, TColumn c2, TColumn c3)
        where TOperands : struct, IGemmOperands<TColumn>
        where TColumn : struct
        => new(
            k < kEnd && n < cols ? op.B(k, c0) : 0f,
            k + kStep < kEnd && n + nStep < cols ? op.B(k + kStep, c1) : 0f,
            k + 2 * kStep < kEnd && n + 2 * nStep < cols ? op.B(k + 2 * kStep, c2) : 0f,
            k + 3 * kStep < kEnd && n + 3 * nStep < cols ? op.B(k + 3 * kStep, c3) : 0f);

    /// <summary>tile[offset + r step] = v_r.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(ArrayView<float> tile, int offset, int step, Vec4 v)
    {
        tile[offset] = v.V0;
        tile[offset + step] = v.V1;
        tile[offset + 2 * step] = v.V2;
        tile[offset + 3 * step] = v.V3;
    }

    /// <summary>Stores C[m, n + 16 j] = v_j for the columns that exist.</summary>
    private static void StoreRow<TOperands, TColumn>(TOperands op, int m, int n, int split, Vec8 v)
        where TOperands : struct, IGemmOperands<TColumn>
        where TColumn : struct
    {
        if (m >= op.M)
            return;
        int cols = op.N;
        if (n < cols) op.Store(m, n, split, v.V0);
        if (n + 16 < cols) op.Store(m, n + 16, split, v.V1);
        if (n + 32 < cols) op.Store(m, n + 32, split, v.V2);
        if (n + 48 < cols) op.Store(m, n + 48, split, v.V3);
        if (n + 64 < cols) op.Store(m, n + 64, split, v.V4);
        if (n + 80 < cols) op.Store(m, n + 80, split, v.V5);
        if (n + 96 < cols) op.Store(m, n + 96, split, v.V6);
        if (n + 112 < cols) op.Store(m, n + 112, split, v.V7);
    }
}

/// <summary>Four floats held in registers (a thread's share of one slice of a tile).</summary>
public readonly struct Vec4
{
    public Vec4(float v0, float v1, float v2, float v3)
    {
        V0 = v0; V1 = v1; V2 = v2; V3 = v3;
    }

    public float V0 { get; }
    public float V1 { get; }
    public float V2 { get; }
    public float V3 { get; }
}

/// <summary>Eight floats held in registers: one row of a thread's 8 x 8 block, or the 8 values it reads from one shared row.</summary>
public readonly struct Vec8
{
    public Vec8(float v0, float v1, float v2, float v3, float v4, float v5, float v6, float v7)
    {
        V0 = v0; V1 = v1; V2 = v2; V3 = v3; V4 = v4; V5 = v5; V6 = v6; V7 = v7;
    }

    public float V0 { get; }
    public float V1 { get; }
    public float V2 { get; }
    public float V3 { get; }
    public float V4 { get; }
    public float V5 { get; }
    public float V6 { get; }
    public float V7 { get; }

    /// <summary>(tile[offset + 16 j]) for j &lt; 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec8 Load(ArrayView<float> tile, int offset) => new(
        tile[offset], tile[offset + 16], tile[offset + 32], tile[offset + 48],
        tile[offset + 64], tile[offset + 80], tile[offset + 96], tile[offset + 112]);

    /// <summary>this + a b, element by element (written a * b + c: ptxas contracts it to fma).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vec8 MultiplyAdd(float a, Vec8 b) => new(
        V0 + a * b.V0, V1 + a * b.V1, V2 + a * b.V2, V3 + a * b.V3,
        V4 + a * b.V4, V5 + a * b.V5, V6 + a * b.V6, V7 + a * b.V7);
}
