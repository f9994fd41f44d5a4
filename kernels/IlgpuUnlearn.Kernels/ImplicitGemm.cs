using ILGPU;

namespace IlgpuUnlearn.Kernels;

/// <summary>
/// A matrix product C (M, N) = A (M, K) B (K, N) whose operands are never materialised: A and B are read
/// element by element from the tensors they stand for (an im2col view of an image, a weight seen as a matrix),
/// and each result element is handed back to be stored where it belongs. The convolutions are three of these.
/// <typeparamref name="TColumn"/> is what B needs to know about one column (its decoded tensor coordinates): the kernel
/// computes it once per thread rather than once per element, which halves the integer division in the inner loads.
/// </summary>
public interface IGemmOperands<TColumn> where TColumn : struct
{
    int M { get; }
    int N { get; }
    int K { get; }

    /// <summary>True when B's neighbouring elements in memory lie along k (then tiles of B are read along k to coalesce).</summary>
    bool BContiguousAlongK { get; }

    /// <summary>A[m, k], for 0 &lt;= m &lt; M, 0 &lt;= k &lt; K.</summary>
    float A(int m, int k);

    /// <summary>The coordinates behind column n of B, for 0 &lt;= n &lt; N.</summary>
    TColumn Column(int n);

    /// <summary>B[k, n] for 0 &lt;= k &lt; K, with <paramref name="column"/> = Column(n).</summary>
    float B(int k, TColumn column);

    /// <summary>Stores C[m, n] (the partial sum over split <paramref name="split"/> of K when K is split).</summary>
    void Store(int m, int n, int split, float value);
}

/// <summary>
/// The tiled implicit GEMM. One group of 256 threads computes a 64 x 64 tile of C: it walks K in steps of 16,
/// staging a 64 x 16 slice of A and a 16 x 64 slice of B in shared memory, and each thread (tx, ty) of the
/// 16 x 16 thread grid accumulates a 4 x 4 register block, rows ty + 16 i and columns tx + 16 j
/// (strided so that a warp reads consecutive shared addresses and writes consecutive output columns).
/// Grid: (ceil(N / 64), ceil(M / 64), splits); group z sums k in [z kPerSplit, (z + 1) kPerSplit).
/// The multiply-adds are written a * b + c: ILGPU emits mul.f32 and add.f32 without rounding modifiers,
/// which ptxas contracts to fma (MathF.FusedMultiplyAdd would become a call to an unresolved extern function).
/// </summary>
public static class ImplicitGemm
{
    public const int TileM = 64;
    public const int TileN = 64;
    public const int TileK = 16;
    public const int Threads = 256;
    /// <summary>Row pitch of the shared tiles: one more than the tile width, so that column-wise stores do not collide in one bank.</summary>
    private const int Pitch = 65;

    public static void Tiled<TOperands, TColumn>(TOperands op, int kPerSplit)
        where TOperands : struct, IGemmOperands<TColumn>
        where TColumn : struct
    {
        var aTile = SharedMemory.Allocate<float>(TileK * Pitch);   // aTile[k * Pitch + m]
        var bTile = SharedMemory.Allocate<float>(TileK * Pitch);   // bTile[k * Pitch + n]

        int t = Group.IdxX;
        int tx = t % 16, ty = t / 16;
        int m0 = Grid.IdxY * TileM, n0 = Grid.IdxX * TileN;
        int split = Grid.IdxZ;
        int kBegin = split * kPerSplit;
        int kEnd = Math.Min(op.K, kBegin + kPerSplit);
        int rows = op.M, cols = op.N;
        bool bAlongK = op.BContiguousAlongK;

        // The B columns this thread loads, the same for every k: along k, columns ty + 16 r; along n, column t % 64.
        // (Clamped into range; loads from columns past N are masked below.)
        int bk = bAlongK ? tx : t / TileN;
        int bn0 = bAlongK ? ty : t % TileN;
        int bnStep = bAlongK ? 16 : 0;
        int bkStep = bAlongK ? 0 : 4;
        var col0 = op.Column(Math.Min(n0 + bn0, cols - 1));
        var col1 = op.Column(Math.Min(n0 + bn0 + bnStep, cols - 1));
        var col2 = op.Column(Math.Min(n0 + bn0 + 2 * bnStep, cols - 1));
        var col3 = op.Column(Math.Min(n0 + bn0 + 3 * bnStep, cols - 1));

        float c00 = 0f, c01 = 0f, c02 = 0f, c03 = 0f;
        float c10 = 0f, c11 = 0f, c12 = 0f, c13 = 0f;
        float c20 = 0f, c21 = 0f, c22 = 0f, c23 = 0f;
        float c30 = 0f, c31 = 0f, c32 = 0f, c33 = 0f;

        for (int k0 = kBegin; k0 < kEnd; k0 += TileK)
        {
            // A slice (64 x 16): thread loads k = k0 + tx for rows ty + 16 r (neighbouring threads along k).
            for (int r = 0; r < 4; r++)
            {
                int m = m0 + ty + 16 * r, k = k0 + tx;
                aTile[tx * Pitch + ty + 16 * r] = m < rows && k < kEnd ? op.A(m, k) : 0f;
            }

            // B slice (16 x 64), read along whichever index is contiguous in memory: element r of this thread is
            // (k0 + bk + r bkStep, n0 + bn0 + r bnStep).
            LoadB(op, bTile, k0, bk, bkStep, n0 + bn0, bn0, bnStep, kEnd, cols, col0, 0);
            LoadB(op, bTile, k0, bk, bkStep, n0 + bn0, bn0, bnStep, kEnd, cols, col1, 1);
            LoadB(op, bTile, k0, bk, bkStep, n0 + bn0, bn0, bnStep, kEnd, cols, col2, 2);
            LoadB(op, bTile, k0, bk, bkStep, n0 + bn0, bn0, bnStep, kEnd, cols, col3, 3);
            Group.Barrier();

            for (int kk = 0; kk < TileK; kk++)
            {
                int aRow = kk * Pitch + ty, bRow = kk * Pitch + tx;
                float a0 = aTile[aRow], a1 = aTile[aRow + 16], a2 = aTile[aRow + 32], a3 = aTile[aRow + 48];
                float b0 = bTile[bRow], b1 = bTile[bRow + 16], b2 = bTile[bRow + 32], b3 = bTile[bRow + 48];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            Group.Barrier();
        }

        StoreRow<TOperands, TColumn>(op, m0 + ty, n0 + tx, split, c00, c01, c02, c03);
        StoreRow<TOperands, TColumn>(op, m0 + ty + 16, n0 + tx, split, c10, c11, c12, c13);
        StoreRow<TOperands, TColumn>(op, m0 + ty + 32, n0 + tx, split, c20, c21, c22, c23);
        StoreRow<TOperands, TColumn>(op, m0 + ty + 48, n0 + tx, split, c30, c31, c32, c33);
    }

    /// <summary>bTile[kk, nn] = B[k0 + kk, n0 + nn] for element r of this thread, zero past the ends.</summary>
    private static void LoadB<TOperands, TColumn>(TOperands op, ArrayView<float> bTile, int k0, int bk, int bkStep,
        int firstColumn, int bn0, int bnStep, int kEnd, int cols, TColumn column, int r)
        where TOperands : struct, IGemmOperands<TColumn>
        where TColumn : struct
    {
        int kk = bk + r * bkStep, nn = bn0 + r * bnStep;
        int k = k0 + kk, n = firstColumn + r * bnStep;
        bTile[kk * Pitch + nn] = k < kEnd && n < cols ? op.B(k, column) : 0f;
    }

    /// <summary>Stores C[m, n + 16 j] = v_j for the columns that exist.</summary>
    private static void StoreRow<TOperands, TColumn>(TOperands op, int m, int n, int split, float v0, float v1, float v2, float v3)
        where TOperands : struct, IGemmOperands<TColumn>
        where TColumn : struct
    {
        if (m >= op.M)
            return;
        int cols = op.N;
        if (n < cols) op.Store(m, n, split, v0);
        if (n + 16 < cols) op.Store(m, n + 16, split, v1);
        if (n + 32 < cols) op.Store(m, n + 32, split, v2);
        if (n + 48 < cols) op.Store(m, n + 48, split, v3);
    }
}
