using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace IlgpuUnlearn.Cpu;

/// <summary>
/// The three transforms of Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural
/// Networks", 2016): a 2x2 tile of a stride-1 3x3 correlation's output from the 4x4 input tile d under it and the filter g,
/// <code>
///   Y (2x2) = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
///   Bᵀ = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]      (4x4)
///   G  = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]       (4x3)
///   Aᵀ = [[1, 1, 1, 0], [0, 1, -1, -1]]                                  (2x4)
/// </code>
/// 16 multiplications per tile instead of 36. The 16 products are numbered ξ = 4 i + j (row i, column j of the 4x4 array).
/// Summed over input channels, the ⊙ becomes 16 independent GEMMs (one per ξ), which <see cref="CpuWinogradConv"/> runs.
/// Tile (tr, tc) of an image covers output rows 2 tr, 2 tr + 1 and columns 2 tc, 2 tc + 1, and reads input rows 2 tr - 1 ..
/// 2 tr + 2, columns 2 tc - 1 .. 2 tc + 2 (padding 1; zero outside the image).
/// The input and output transforms work on 16 tiles at a time, one Vector512 lane per tile: 16 of one tile row, or whole short
/// tile rows side by side (tW = 1, 2, 4 or 8 tiles); the filter transform on 8 filters at a time, one Vector256 lane each.
/// <para>
/// The weight gradient (<see cref="CpuWinogradWeightGradient"/>) uses the transposed pair: M = A dY Aᵀ (4x4) of a 2x2 output
/// gradient dY and dg = Gᵀ dU G (3x3) of a 4x4 sum dU. Every one of these two-sided transforms is a one-sided step applied
/// down the columns and along the rows (<see cref="InputStep"/> for Bᵀ, <see cref="FilterStep"/> for G,
/// <see cref="OutputStep"/> for Aᵀ, <see cref="OutputGradientStep"/> for A, <see cref="FilterGradientStep"/> for Gᵀ): the
/// coefficients live in those five, and each caller keeps its own order, which fixes its rounding bit for bit (the forward
/// input transform takes Bᵀ d first and then (Bᵀ d) B, the weight gradient's d B first and then Bᵀ (d B)).
/// </para>
/// </summary>
internal static unsafe class WinogradF2x3
{
    /// <summary>Tiles per vector: one lane each.</summary>
    public const int Lanes = 16;

    /// <summary>Positions ξ = 4 i + j of a 4x4 transformed tile: the 16 products, and the 16 GEMMs over channels.</summary>
    public const int Positions = 16;

    /// <summary>
    /// Bᵀ x of one column (or row) x = (a, b, c, d) of 16 tiles' 4x4 input tiles: (a - c, b + c, c - b, b - d). The overloads
    /// below are the same for narrower vectors and single floats (overloads, as the vector types give their operators to no
    /// generic constraint).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void InputStep(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d,
        out Vector512<float> r0, out Vector512<float> r1, out Vector512<float> r2, out Vector512<float> r3)
        => (r0, r1, r2, r3) = (a - c, b + c, c - b, b - d);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputStep(Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d,
        out Vector256<float> r0, out Vector256<float> r1, out Vector256<float> r2, out Vector256<float> r3)
        => (r0, r1, r2, r3) = (a - c, b + c, c - b, b - d);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputStep(Vector128<float> a, Vector128<float> b, Vector128<float> c, Vector128<float> d,
        out Vector128<float> r0, out Vector128<float> r1, out Vector128<float> r2, out Vector128<float> r3)
        => (r0, r1, r2, r3) = (a - c, b + c, c - b, b - d);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputStep(float a, float b, float c, float d, out float r0, out float r1, out float r2, out float r3)
        => (r0, r1, r2, r3) = (a - c, b + c, c - b, b - d);

    /// <summary>G x of one column (or row) x = (a, b, c) of 8 filters' 3x3 taps: (a, (a + b + c) / 2, (a - b + c) / 2, c).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void FilterStep(Vector256<float> a, Vector256<float> b, Vector256<float> c,
        out Vector256<float> u0, out Vector256<float> u1, out Vector256<float> u2, out Vector256<float> u3)
    {
        var half = Vector256.Create(0.5f);
        u0 = a;
        u1 = half * (a + b + c);
        u2 = half * (a - b + c);
        u3 = c;
    }

    /// <summary>Aᵀ x of one column (or row) x = (a, b, c, d) of 16 tiles' 4x4 products: (a + b + c, b - c - d).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void OutputStep(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d,
        out Vector512<float> s0, out Vector512<float> s1)
    {
        s0 = a + b + c;
        s1 = b - c - d;
    }

    /// <summary>
    /// A x of one column (or row) x = (a, b) of 16 tiles' 2x2 output gradients (the transpose of <see cref="OutputStep"/>):
    /// (a, a + b, a - b, -b).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void OutputGradientStep(Vector512<float> a, Vector512<float> b,
        out Vector512<float> q0, out Vector512<float> q1, out Vector512<float> q2, out Vector512<float> q3)
    {
        q0 = a;
        q1 = a + b;
        q2 = a - b;
        q3 = -b;
    }

    /// <summary>
    /// Gᵀ x of one column (or row) x = (u0, u1, u2, u3) of 16 lanes' 4x4 sums (the transpose of <see cref="FilterStep"/>):
    /// (u0 + (u1 + u2) / 2, (u1 - u2) / 2, (u1 + u2) / 2 + u3).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void FilterGradientStep(Vector512<float> u0, Vector512<float> u1, Vector512<float> u2, Vector512<float> u3,
        out Vector512<float> p0, out Vector512<float> p1, out Vector512<float> p2)
    {
        var half = Vector512.Create(0.5f);
        var sum = (u1 + u2) * half;
        p0 = u0 + sum;
        p1 = (u1 - u2) * half;
        p2 = sum + u3;
    }

    /// <summary>
    /// U = G g Gᵀ of 8 filters at once (lane l = filter l): g[kh, kw] of filter l at g + l * filterStride + kh * 3 + kw, or,
    /// when <paramref name="flipped"/>, at g + l * filterStride + (2 - kh) * 3 + (2 - kw) (the backward-input convolution's
    /// rotated filter). U[ξ] (8 lanes, ξ = 4 i + j) is stored at u + ξ * uStride. First t = G g (4x3: rows g0,
    /// (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2), then U = t Gᵀ (the same combination of each row's three columns).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void FilterTransform(float* g, long filterStride, bool flipped, float* u, long uStride)
    {
        Vector256<float> g00 = Tap(g, filterStride, flipped, 0), g01 = Tap(g, filterStride, flipped, 1), g02 = Tap(g, filterStride, flipped, 2);
        Vector256<float> g10 = Tap(g, filterStride, flipped, 3), g11 = Tap(g, filterStride, flipped, 4), g12 = Tap(g, filterStride, flipped, 5);
        Vector256<float> g20 = Tap(g, filterStride, flipped, 6), g21 = Tap(g, filterStride, flipped, 7), g22 = Tap(g, filterStride, flipped, 8);
        // t = G g (4x3) down the columns, then U row i = G applied to t's row i
        FilterStep(g00, g10, g20, out var t00, out var t10, out var t20, out var t30);
        FilterStep(g01, g11, g21, out var t01, out var t11, out var t21, out var t31);
        FilterStep(g02, g12, g22, out var t02, out var t12, out var t22, out var t32);
        FilterRow(t00, t01, t02, u, uStride);
        FilterRow(t10, t11, t12, u + 4 * uStride, uStride);
        FilterRow(t20, t21, t22, u + 8 * uStride, uStride);
        FilterRow(t30, t31, t32, u + 12 * uStride, uStride);
    }

    /// <summary>Tap k = 3 kh + kw of 8 filters filterStride apart (tap 8 - k when flipped).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Tap(float* g, long filterStride, bool flipped, int k)
    {
        float* p = g + (flipped ? 8 - k : k);
        return Vector256.Create(p[0], p[filterStride], p[2 * filterStride], p[3 * filterStride],
            p[4 * filterStride], p[5 * filterStride], p[6 * filterStride], p[7 * filterStride]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FilterRow(Vector256<float> a, Vector256<float> b, Vector256<float> c, float* u, long uStride)
    {
        FilterStep(a, b, c, out var u0, out var u1, out var u2, out var u3);
        Vector256.Store(u0, u);
        Vector256.Store(u1, u + uStride);
        Vector256.Store(u2, u + 2 * uStride);
        Vector256.Store(u3, u + 3 * uStride);
    }

    /// <summary>
    /// The row half of Bᵀ d B for a whole tile row: with x0 .. x3 the four input rows 2 tr - 1 .. 2 tr + 2 of one channel
    /// (each <paramref name="w"/> floats; pass a zero row for a row outside the image), r_i = (Bᵀ [x0; x1; x2; x3])_i:
    /// r0 = x0 - x2, r1 = x1 + x2, r2 = x2 - x1, r3 = x1 - x3. Each r_i[c] is written at r_i + 1 + c, for c in [0, w),
    /// so that column -1 of the padding is r_i[0]; the caller keeps r_i[0] and r_i[1 + w ..] zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void InputRows(float* x0, float* x1, float* x2, float* x3, int w, float* r0, float* r1, float* r2, float* r3)
    {
        r0++; r1++; r2++; r3++;
        int c = 0;
        for (; c + Lanes <= w; c += Lanes)
        {
            InputStep(Vector512.Load(x0 + c), Vector512.Load(x1 + c), Vector512.Load(x2 + c), Vector512.Load(x3 + c),
                out var a, out var b, out var d, out var e);
            Vector512.Store(a, r0 + c);
            Vector512.Store(b, r1 + c);
            Vector512.Store(d, r2 + c);
            Vector512.Store(e, r3 + c);
        }
        if (c + 8 <= w)
        {
            InputStep(Vector256.Load(x0 + c), Vector256.Load(x1 + c), Vector256.Load(x2 + c), Vector256.Load(x3 + c),
                out var a, out var b, out var d, out var e);
            Vector256.Store(a, r0 + c);
            Vector256.Store(b, r1 + c);
            Vector256.Store(d, r2 + c);
            Vector256.Store(e, r3 + c);
            c += 8;
        }
        if (c + 4 <= w)
        {
            InputStep(Vector128.Load(x0 + c), Vector128.Load(x1 + c), Vector128.Load(x2 + c), Vector128.Load(x3 + c),
                out var a, out var b, out var d, out var e);
            Vector128.Store(a, r0 + c);
            Vector128.Store(b, r1 + c);
            Vector128.Store(d, r2 + c);
            Vector128.Store(e, r3 + c);
            c += 4;
        }
        for (; c < w; c++)
        {
            InputStep(x0[c], x1[c], x2[c], x3[c], out r0[c], out r1[c], out r2[c], out r3[c]);
        }
    }

    /// <summary>
    /// The column half of Bᵀ d B for 16 tiles tc0 .. tc0 + 15 of a tile row, from one row r (written by <see cref="InputRows"/>,
    /// column c at r + 1 + c, at least 2 tc0 + 34 floats readable): with a, b, c, d the columns 2 tc - 1, 2 tc, 2 tc + 1, 2 tc + 2
    /// of tile tc, V[i, 0] = a - c, V[i, 1] = b + c, V[i, 2] = c - b, V[i, 3] = b - d, lane tc - tc0 of v0 .. v3; column a kept
    /// only in the lanes of <paramref name="keepLeft"/> and column d only in those of <paramref name="keepRight"/> (all lanes
    /// for one long tile row). Several short tile rows side by side (tile row g's column c at r + g 2 tW + 1 + c, so that its
    /// column -1 and column 2 tW share their places with its neighbours' columns 2 tW - 1 and 0) drop a in each row's first
    /// tile and d in each row's last.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void InputColumns(float* r, int tc0, Vector512<float> keepLeft, Vector512<float> keepRight,
        out Vector512<float> v0, out Vector512<float> v1, out Vector512<float> v2, out Vector512<float> v3)
    {
        float* p = r + 2 * tc0; // column 2 tc0 - 1
        Deinterleave(Vector512.Load(p), Vector512.Load(p + Lanes), out var a, out var b);
        Deinterleave(Vector512.Load(p + 2), Vector512.Load(p + 2 + Lanes), out var c, out var d);
        InputStep(a & keepLeft, b, c, d & keepRight, out v0, out v1, out v2, out v3);
    }

    /// <summary>
    /// Aᵀ m A for 16 tiles (lane = tile): m[ξ] the 16 sums of products, element ξ = 4 i + j at m + ξ * stride (16 lanes each).
    /// y_ab (lanes = tiles) is output pixel (2 tr + a, 2 tc + b):
    /// s_i0 = m_i0 + m_i1 + m_i2, s_i1 = m_i1 - m_i2 - m_i3 (the column half), then y_0b = s_0b + s_1b + s_2b,
    /// y_1b = s_1b - s_2b - s_3b (the row half).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void OutputTile(float* m, long stride, out Vector512<float> y00, out Vector512<float> y01,
        out Vector512<float> y10, out Vector512<float> y11)
    {
        OutputRow(m, stride, out var s00, out var s01);
        OutputRow(m + 4 * stride, stride, out var s10, out var s11);
        OutputRow(m + 8 * stride, stride, out var s20, out var s21);
        OutputRow(m + 12 * stride, stride, out var s30, out var s31);
        OutputStep(s00, s10, s20, s30, out y00, out y10);
        OutputStep(s01, s11, s21, s31, out y01, out y11);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputRow(float* m, long stride, out Vector512<float> s0, out Vector512<float> s1)
        => OutputStep(Vector512.Load(m), Vector512.Load(m + stride), Vector512.Load(m + 2 * stride), Vector512.Load(m + 3 * stride),
            out s0, out s1);

    /// <summary>
    /// dg = Gᵀ dU G (3x3) of 16 lanes: dU[ξ] (16 lanes, ξ = 4 i + j) at du + ξ stride; dg[k, l] (16 lanes) stored at
    /// dg + (3 k + l) 16. First P = Gᵀ dU (3x4) down the columns, then dg = P G along P's rows (the same step on each row).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void FilterGradientTile(float* du, long stride, float* dg)
    {
        FilterGradientColumn(du, stride, 0, out var p00, out var p10, out var p20);
        FilterGradientColumn(du, stride, 1, out var p01, out var p11, out var p21);
        FilterGradientColumn(du, stride, 2, out var p02, out var p12, out var p22);
        FilterGradientColumn(du, stride, 3, out var p03, out var p13, out var p23);
        FilterGradientRow(p00, p01, p02, p03, dg);
        FilterGradientRow(p10, p11, p12, p13, dg + 3 * Lanes);
        FilterGradientRow(p20, p21, p22, p23, dg + 6 * Lanes);
    }

    /// <summary>Column j of P = Gᵀ dU: Gᵀ applied to dU[j], dU[4 + j], dU[8 + j], dU[12 + j].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FilterGradientColumn(float* du, long stride, int j,
        out Vector512<float> p0, out Vector512<float> p1, out Vector512<float> p2)
        => FilterGradientStep(Vector512.Load(du + j * stride), Vector512.Load(du + (4 + j) * stride),
            Vector512.Load(du + (8 + j) * stride), Vector512.Load(du + (12 + j) * stride), out p0, out p1, out p2);

    /// <summary>Row k of dg = P G: G's step (transposed) on P's row, three lanes' vectors to dg, dg + 16, dg + 32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FilterGradientRow(Vector512<float> p0, Vector512<float> p1, Vector512<float> p2, Vector512<float> p3, float* dg)
    {
        FilterGradientStep(p0, p1, p2, p3, out var g0, out var g1, out var g2);
        Vector512.Store(g0, dg);
        Vector512.Store(g1, dg + Lanes);
        Vector512.Store(g2, dg + 2 * Lanes);
    }

    /// <summary>
    /// Writes one output row of 16 tiles: columns 2 l, 2 l + 1 (l the lane) get left[l], right[l]; only the first
    /// <paramref name="count"/> of those 32 columns are written (the row's end, the image's odd last column).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreOutputRow(Vector512<float> left, Vector512<float> right, float* y, int count)
    {
        Interleave(left, right, out var lo, out var hi);
        if (count >= 2 * Lanes)
        {
            Vector512.Store(lo, y);
            Vector512.Store(hi, y + Lanes);
            return;
        }
        if (count >= Lanes)
        {
            Vector512.Store(lo, y);
            StoreFirst(hi, y + Lanes, count - Lanes);
        }
        else StoreFirst(lo, y, count);
    }

    /// <summary>
    /// Writes output rows of several short tile rows side by side (lanes g tW .. (g + 1) tW - 1 are tile row g): after
    /// interleaving, tile row g's 2 tW columns are floats g 2 tW .. (g + 1) 2 tW of the 32; its first <paramref name="width"/>
    /// go to rows[g] (the image's width: an odd last column is dropped). <paramref name="tilesW"/> divides 16.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreOutputRows(Vector512<float> left, Vector512<float> right, float** rows, int groups, int tilesW, int width)
    {
        Interleave(left, right, out var lo, out var hi);
        int perVector = Lanes / (2 * tilesW);
        for (int g = 0; g < groups; g++)
        {
            var v = g < perVector ? lo : hi;
            int first = (g < perVector ? g : g - perVector) * 2 * tilesW;
            float* dst = rows[g];
            if (Avx512F.IsSupported)
            {
                // lanes first .. first + width - 1 land on dst[0 .. width); the masked-off lanes touch no memory
                var lane = Vector512<int>.Indices;
                var mask = (Vector512.GreaterThanOrEqual(lane, Vector512.Create(first)) & Vector512.LessThan(lane, Vector512.Create(first + width))).AsSingle();
                Avx512F.MaskStore(dst - first, mask, v);
            }
            else
                for (int l = 0; l < width; l++) dst[l] = v.GetElement(first + l);
        }
    }

    /// <summary>dst[0 .. count) = v[0 .. count) for count up to 16 (the whole vector from 16 on; nothing at 0 or less).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreFirst(Vector512<float> v, float* dst, int count)
    {
        if (count >= Lanes)
        {
            Vector512.Store(v, dst);
            return;
        }
        if (count <= 0) return;
        if (Avx512F.IsSupported)
        {
            var mask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();
            Avx512F.MaskStore(dst, mask, v);
        }
        else
            for (int l = 0; l < count; l++) dst[l] = v.GetElement(l);
    }

    /// <summary>even[l] = (p ++ q)[2 l], odd[l] = (p ++ q)[2 l + 1]: the 32 floats of p then q, split by parity.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Deinterleave(Vector512<float> p, Vector512<float> q, out Vector512<float> even, out Vector512<float> odd)
    {
        // index vectors written out: constants of the JIT wherever this is inlined (a static readonly field is a load from
        // memory in a method compiled before this class's initializer ran, as AggressiveOptimization ones are)
        even = Permute2(p, q, Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30));
        odd = Permute2(p, q, Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31));
    }

    /// <summary>lo ++ hi = left[0], right[0], left[1], right[1], ..., left[15], right[15].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Interleave(Vector512<float> left, Vector512<float> right, out Vector512<float> lo, out Vector512<float> hi)
    {
        lo = Permute2(left, right, Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23));
        hi = Permute2(left, right, Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31));
    }

    /// <summary>r[l] = (p ++ q)[indices[l]] for indices in [0, 32): AVX-512's two-source permute where there is one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Permute2(Vector512<float> p, Vector512<float> q, Vector512<int> indices)
        => Avx512F.IsSupported ? Avx512F.PermuteVar16x32x2(p, indices, q) : Select2(p, q, indices);

    /// <summary>r[l] = (p ++ q)[indices[l]] for indices in [0, 32), without AVX-512's two-source permute.</summary>
    private static Vector512<float> Select2(Vector512<float> p, Vector512<float> q, Vector512<int> indices)
    {
        var within = indices & Vector512.Create(15);
        var fromQ = Vector512.GreaterThan(indices, Vector512.Create(15)).AsSingle();
        return Vector512.ConditionalSelect(fromQ, Vector512.Shuffle(q, within), Vector512.Shuffle(p, within));
    }
}
