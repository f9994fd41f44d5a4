using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace IlgpuUnlearn.Kernels;

/// <summary>
/// The implicit GEMM of <see cref="ImplicitGemm"/> on the tensor cores, TF32 inputs and fp32 accumulation, through inline PTX
/// (<c>mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32</c>, sm_80 and later). TF32 keeps 10 bits of mantissa, so results differ
/// from fp32 by about 1e-3 relative (the self-test allows 1e-2).
/// The two tensor-core instructions (TF32 rounding and the mma) sit behind <see cref="ITf32Mma{TSelf}"/>: <see cref="Tf32"/> is the kernel
/// with the inline PTX (<see cref="PtxMma"/>, CUDA only: ILGPU's CPU accelerator cannot run inline PTX); <see cref="Tf32Emulated"/>
/// is the same kernel, the same fragments in the same registers, with <see cref="EmulatedMma"/>, which forms the m16n8k8 product
/// by exchanging those registers across the warp and rounds to TF32 in integer arithmetic, so the fragment bookkeeping runs (and is
/// tested) on the CPU accelerator.
/// One group of 256 threads (8 warps) computes a 64 x 64 tile of C, staging 64 x 16 of A and 16 x 64 of B in shared memory
/// as the fp32 kernel does; warp w owns rows 32 (w mod 2) .. +32 and columns 16 (w / 2) .. +16 of the tile, that is 2 x 2
/// m16n8 accumulator fragments, and each k-slice of 16 is two k8 mma steps.
/// Fragment layout of m16n8k8 (lane = 4 g + q): A (16 x 8, row) a0 = (g, q), a1 = (g + 8, q), a2 = (g, q + 4), a3 = (g + 8, q + 4);
/// B (8 x 8, col) b0 = (q, g), b1 = (q + 4, g); C (16 x 8) c0 = (g, 2q), c1 = (g, 2q + 1), c2 = (g + 8, 2q), c3 = (g + 8, 2q + 1).
/// Grid: (ceil(N / 64), ceil(M / 64), splits), as <see cref="ImplicitGemm.Tiled"/>.
/// </summary>
public static class ImplicitGemmTensorCore
{
    public const int TileM = 64;
    public const int TileN = 64;
    public const int TileK = 16;
    public const int Threads = 256;
    /// <summary>Row pitch: 72 = 8 mod 32, so a fragment load (rows q, columns g: bank 8q + g) touches 32 distinct banks.</summary>
    private const int Pitch = 72;

    /// <summary>The kernel on the tensor cores (inline PTX; CUDA, sm_80 and later).</summary>
    public static void Tf32<TOperands, TColumn>(TOperands op, int kPerSplit)
        where TOperands : struct, IGemmOperands<TColumn>
        where TColumn : struct
        => Tiled<TOperands, TColumn, PtxMma>(op, kPerSplit);

    /// <summary>The same kernel with the mma emulated (<see cref="EmulatedMma"/>): runs on any accelerator.</summary>
    public static void Tf32Emulated<TOperands, TColumn>(TOperands op, int kPerSplit)
        where TOperands : struct, IGemmOperands<TColumn>
        where TColumn : struct
        => Tiled<TOperands, TColumn, EmulatedMma>(op, kPerSplit);

    private static void Tiled<TOperands, TColumn, TMma>(TOperands op, int kPerSplit)
        where TOperands : struct, IGemmOperands<TColumn>
        where TColumn : struct
        where TMma : struct, ITf32Mma<TMma>
    {
        var mma = default(TMma).Begin();
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

        // Slice loads as in ImplicitGemm.Tiled: A at (m0 + ty + 16 r, k0 + tx); B at (k0 + bk + r bkStep, n0 + bn + r bnStep).
        int bk = bAlongK ? tx : t / TileN;
        int bn = bAlongK ? ty : t % TileN;
        int bnStep = bAlongK ? 16 : 0;
        int bkStep = bAlongK ? 0 : 4;
        var col0 = op.Column(Math.Min(n0 + bn, cols - 1));
        var col1 = op.Column(Math.Min(n0 + bn + bnStep, cols - 1));
        var col2 = op.Column(Math.Min(n0 + bn + 2 * bnStep, cols - 1));
        var col3 = op.Column(Math.Min(n0 + bn + 3 * bnStep, cols - 1));

        int warp = t / 32, lane = t % 32;
        int g = lane / 4, q = lane % 4;
        int wm = 32 * (warp % 2), wn = 16 * (warp / 2);

        Accumulator d00 = default, d01 = default, d10 = default, d11 = default;   // d[mi][ni]: rows wm + 16 mi, columns wn + 8 ni
        for (int k0 = kBegin; k0 < kEnd; k0 += TileK)
        {
            for (int r = 0; r < 4; r++)
            {
                int m = m0 + ty + 16 * r, k = k0 + tx;
                aTile[tx * Pitch + ty + 16 * r] = m < rows && k < kEnd ? op.A(m, k) : 0f;
            }
            // (One call per element, not a loop choosing among the columns: a chosen struct would live in local memory.)
            LoadB<TOperands, TColumn>(op, bTile, k0 + bk, n0 + bn, bk * Pitch + bn, kEnd, cols, col0);
            LoadB<TOperands, TColumn>(op, bTile, k0 + bk + bkStep, n0 + bn + bnStep, (bk + bkStep) * Pitch + bn + bnStep, kEnd, cols, col1);
            LoadB<TOperands, TColumn>(op, bTile, k0 + bk + 2 * bkStep, n0 + bn + 2 * bnStep, (bk + 2 * bkStep) * Pitch + bn + 2 * bnStep, kEnd, cols, col2);
            LoadB<TOperands, TColumn>(op, bTile, k0 + bk + 3 * bkStep, n0 + bn + 3 * bnStep, (bk + 3 * bkStep) * Pitch + bn + 3 * bnStep, kEnd, cols, col3);
            Group.Barrier();

            for (int k8 = 0; k8 < TileK; k8 += 8)
            {
                var a0 = AFragment.Load(mma, aTile, k8, wm, g, q);
                var a1 = AFragment.Load(mma, aTile, k8, wm + 16, g, q);
                var b0 = BFragment.Load(mma, bTile, k8, wn, g, q);
                var b1 = BFragment.Load(mma, bTile, k8, wn + 8, g, q);
                d00 = mma.Mma(d00, a0, b0);
                d01 = mma.Mma(d01, a0, b1);
                d10 = mma.Mma(d10, a1, b0);
                d11 = mma.Mma(d11, a1, b1);
            }
            Group.Barrier();
        }

        StoreFragment<TOperands, TColumn>(op, m0 + wm + g, n0 + wn + 2 * q, split, d00);
        StoreFragment<TOperands, TColumn>(op, m0 + wm + g, n0 + wn + 8 + 2 * q, split, d01);
        StoreFragment<TOperands, TColumn>(op, m0 + wm + 16 + g, n0 + wn + 2 * q, split, d10);
        StoreFragment<TOperands, TColumn>(op, m0 + wm + 16 + g, n0 + wn + 8 + 2 * q, split, d11);
    }

    /// <summary>bTile[at] = B[k, n] (column decoded as <paramref name="column"/>), zero past the ends.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoadB<TOperands, TColumn>(TOperands op, ArrayView<float> bTile, int k, int n, int at, int kEnd, int cols, TColumn column)
        where TOperands : struct, IGemmOperands<TColumn>
        where TColumn : struct
        => bTile[at] = k < kEnd && n < cols ? op.B(k, column) : 0f;

    /// <summary>Stores C[m, n] = c0, C[m, n + 1] = c1, C[m + 8, n] = c2, C[m + 8, n + 1] = c3 where they exist.</summary>
    private static void StoreFragment<TOperands, TColumn>(TOperands op, int m, int n, int split, Accumulator d)
        where TOperands : struct, IGemmOperands<TColumn>
        where TColumn : struct
    {
        int rows = op.M, cols = op.N;
        if (m < rows)
        {
            if (n < cols) op.Store(m, n, split, d.C0);
            if (n + 1 < cols) op.Store(m, n + 1, split, d.C1);
        }
        if (m + 8 < rows)
        {
            if (n < cols) op.Store(m + 8, n, split, d.C2);
            if (n + 1 < cols) op.Store(m + 8, n + 1, split, d.C3);
        }
    }

    /// <summary>One lane's four fp32 values of a 16 x 8 accumulator tile.</summary>
    public readonly struct Accumulator
    {
        public Accumulator(float c0, float c1, float c2, float c3)
        {
            C0 = c0; C1 = c1; C2 = c2; C3 = c3;
        }

        public float C0 { get; }
        public float C1 { get; }
        public float C2 { get; }
        public float C3 { get; }
    }

    /// <summary>One lane's four TF32 values of a 16 x 8 slice of A, rows r0 .. r0 + 16 and k8 .. k8 + 8 of the shared tile.</summary>
    public readonly struct AFragment
    {
        public AFragment(uint a0, uint a1, uint a2, uint a3)
        {
            A0 = a0; A1 = a1; A2 = a2; A3 = a3;
        }

        public uint A0 { get; }
        public uint A1 { get; }
        public uint A2 { get; }
        public uint A3 { get; }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static AFragment Load<TMma>(TMma mma, ArrayView<float> aTile, int k8, int r0, int g, int q) where TMma : struct, ITf32Mma<TMma>
        {
            int low = (k8 + q) * Pitch + r0 + g, high = low + 4 * Pitch;
            return new AFragment(mma.ToTf32(aTile[low]), mma.ToTf32(aTile[low + 8]), mma.ToTf32(aTile[high]), mma.ToTf32(aTile[high + 8]));
        }
    }

    /// <summary>One lane's two TF32 values of an 8 x 8 slice of B, k8 .. k8 + 8 and columns c0 .. c0 + 8 of the shared tile.</summary>
    public readonly struct BFragment
    {
        public BFragment(uint b0, uint b1)
        {
            B0 = b0; B1 = b1;
        }

        public uint B0 { get; }
        public uint B1 { get; }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static BFragment Load<TMma>(TMma mma, ArrayView<float> bTile, int k8, int c0, int g, int q) where TMma : struct, ITf32Mma<TMma>
        {
            int low = (k8 + q) * Pitch + c0 + g;
            return new BFragment(mma.ToTf32(bTile[low]), mma.ToTf32(bTile[low + 4 * Pitch]));
        }
    }

    /// <summary>The two tensor-core steps of the kernel: rounding to TF32, and d = a b + c for one m16n8k8 tile (the whole warp).</summary>
    public interface ITf32Mma<TSelf> where TSelf : struct, ITf32Mma<TSelf>
    {
        /// <summary>The instance a kernel uses, made once at its start (with whatever shared memory it needs).</summary>
        TSelf Begin();

        /// <summary>x rounded to TF32 (to nearest, ties away from zero), as the 32-bit pattern mma reads.</summary>
        uint ToTf32(float x);

        /// <summary>d = a b + c for the warp's 16 x 8 x 8 tile, each lane holding its fragments (layout in the class summary).</summary>
        Accumulator Mma(Accumulator c, AFragment a, BFragment b);
    }

    /// <summary>The tensor cores through inline PTX (cvt.rna.tf32.f32, mma.sync m16n8k8 TF32): CUDA, sm_80 and later.</summary>
    public readonly struct PtxMma : ITf32Mma<PtxMma>
    {
        public PtxMma Begin() => default;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public uint ToTf32(float x)
        {
            CudaAsm.Emit("cvt.rna.tf32.f32 %0, %1;", out uint bits, x);
            return bits;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Accumulator Mma(Accumulator c, AFragment a, BFragment b)
        {
            Ref<float> c0 = c.C0, c1 = c.C1, c2 = c.C2, c3 = c.C3;
            Input<uint> a0 = a.A0, a1 = a.A1, a2 = a.A2, a3 = a.A3, b0 = b.B0, b1 = b.B1;
            CudaAsm.EmitRef(
                "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};",
                ref c0, ref c1, ref c2, ref c3, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1);
            return new Accumulator(c0.Value, c1.Value, c2.Value, c3.Value);
        }
    }

    /// <summary>
    /// The same two steps in plain arithmetic, for any accelerator. TF32 rounding: add half of the 13 dropped mantissa bits to the
    /// magnitude and clear them (to nearest, ties away from zero, as cvt.rna; Inf and NaN kept). The product: every lane publishes
    /// the six fragment registers the PTX mma would read (a0..a3, b0, b1) in its warp's slice of shared memory, the warp
    /// synchronises, and lane (g, q) reads what it needs: for each k &lt; 8, A[g, k] and A[g + 8, k] are a0/a1 (k &lt; 4) or a2/a3 of
    /// lane 4 g + k mod 4, and B[k, n] is b0 (k &lt; 4) or b1 of lane 4 n + k mod 4 (n = 2q, 2q + 1): the exchange a warp shuffle
    /// would make, in two warp barriers instead of 32 shuffles (each a barrier on ILGPU's CPU accelerator). Sums in fp32 in k order
    /// (the tensor cores' order and internal precision are not specified; on TF32 inputs the two agree to fp32 rounding).
    /// </summary>
    public readonly struct EmulatedMma : ITf32Mma<EmulatedMma>
    {
        private const int PerWarp = 6 * 32;
        private readonly ArrayView<float> exchange;   // exchange[warp * PerWarp + register * 32 + lane]

        private EmulatedMma(ArrayView<float> exchange) => this.exchange = exchange;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public EmulatedMma Begin() => new(SharedMemory.Allocate<float>(Threads / 32 * PerWarp));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public uint ToTf32(float x)
        {
            uint bits = Interop.FloatAsInt(x);
            return (bits & 0x7F800000u) == 0x7F800000u ? bits : (bits + 0x1000u) & 0xFFFFE000u;
        }

        public Accumulator Mma(Accumulator c, AFragment a, BFragment b)
        {
            int lane = Warp.LaneIdx;
            int at = Group.IdxX / 32 * PerWarp;
            exchange[at + lane] = Interop.IntAsFloat(a.A0);
            exchange[at + 32 + lane] = Interop.IntAsFloat(a.A1);
            exchange[at + 64 + lane] = Interop.IntAsFloat(a.A2);
            exchange[at + 96 + lane] = Interop.IntAsFloat(a.A3);
            exchange[at + 128 + lane] = Interop.IntAsFloat(b.B0);
            exchange[at + 160 + lane] = Interop.IntAsFloat(b.B1);
            Warp.Barrier();
            int g = lane / 4, q = lane % 4;
            float d0 = c.C0, d1 = c.C1, d2 = c.C2, d3 = c.C3;
            for (int k = 0; k < 8; k++)
            {
                int kq = k % 4, high = k < 4 ? 0 : 1;
                float aRow = exchange[at + 64 * high + 4 * g + kq];          // A[g, k]: a0 or a2 of lane 4g + k mod 4
                float aRow8 = exchange[at + 32 + 64 * high + 4 * g + kq];    // A[g + 8, k]: a1 or a3
                float bCol = exchange[at + 128 + 32 * high + 8 * q + kq];    // B[k, 2q]: b0 or b1 of lane 4 (2q) + k mod 4
                float bCol1 = exchange[at + 128 + 32 * high + 8 * q + 4 + kq];   // B[k, 2q + 1]
                d0 += aRow * bCol;
                d1 += aRow * bCol1;
                d2 += aRow8 * bCol;
                d3 += aRow8 * bCol1;
            }
            Warp.Barrier();   // every lane has read before the next Mma writes
            return new Accumulator(d0, d1, d2, d3);
        }
    }
}
