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
/// </summary>
internal static unsafe class WinogradF2x3
{
    /// <summary>Tiles per vector: one lane each.</summary>
    public const int Lanes = 16;

    /// <summary>
    /// U = G g Gᵀ of 8 filters at once (lane l = filter l): g[kh, kw] of filter l at g + l * filterStride + kh * 3 + kw, or,
    /// when <paramref name="flipped"/>, at g + l * filterStride + (2 - kh) * 3 + (2 - kw) (the backward-input convolution's
    /// rotated filter). U[ξ] (8 lanes, ξ = 4 i + j) is stored at u + ξ * uStride. First t = G g (4x3: rows g0,
    /// (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2), then U = t Gᵀ (the same combination of each row's three columns).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void FilterTransform(float* g, long filterStride, bool flipped, float* u, long uStride)
    {
        var half = Vector256.Create(0.5f);
        Vector256<float> g00 = Tap(g, filterStride, flipped, 0), g01 = Tap(g, filterStride, flipped, 1), g02 = Tap(g, filterStride, flipped, 2);
        Vector256<float> g10 = Tap(g, filterStride, flipped, 3), g11 = Tap(g, filterStride, flipped, 4), g12 = Tap(g, filterStride, flipped, 5);
        Vector256<float> g20 = Tap(g, filterStride, flipped, 6), g21 = Tap(g, filterStride, flipped, 7), g22 = Tap(g, filterStride, flipped, 8);
        // t = G g (4x3), then U row i = (t_i0, (t_i0 + t_i1 + t_i2) / 2, (t_i0 - t_i1 + t_i2) / 2, t_i2)
        FilterRow(g00, g01, g02, u, uStride, half);
        FilterRow(half * (g00 + g10 + g20), half * (g01 + g11 + g21), half * (g02 + g12 + g22), u + 4 * uStride, uStride, half);
        FilterRow(half * (g00 - g10 + g20), half * (g01 - g11 + g21), half * (g02 - g12 + g22), u + 8 * uStride, uStride, half);
        FilterRow(g20, g21, g22, u + 12 * uStride, uStride, half);
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
    private static void FilterRow(Vector256<float> a, Vector256<float> b, Vector256<float> c, float* u, long uStride, Vector256<float> half)
    {
        Vector256.Store(a, u);
        Vector256.Store(half * (a + b + c), u + uStride);
        Vector256.Store(half * (a - b + c), u + 2 * uStride);
        Vector256.Store(c, u + 3 * uStride);
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
            var a = Vector512.Load(x0 + c);
            var b = Vector512.Load(x1 + c);
            var d = Vector512.Load(x2 + c);
            var e = Vector512.Load(x3 + c);
            Vector512.Store(a - d, r0 + c);
            Vector512.Store(b + d, r1 + c);
            Vector512.Store(d - b, r2 + c);
            Vector512.Store(b - e, r3 + c);
        }
        if (c + 8 <= w)
        {
            var a = Vector256.Load(x0 + c);
            var b = Vector256.Load(x1 + c);
            var d = Vector256.Load(x2 + c);
            var e = Vector256.Load(x3 + c);
            Vector256.Store(a - d, r0 + c);
            Vector256.Store(b + d, r1 + c);
            Vector256.Store(d - b, r2 + c);
            Vector256.Store(b - e, r3 + c);
            c += 8;
        }
        if (c + 4 <= w)
        {
            var a = Vector128.Load(x0 + c);
            var b = Vector128.Load(x1 + c);
            var d = Vector128.Load(x2 + c);
            var e = Vector128.Load(x3 + c);
            Vector128.Store(a - d, r0 + c);
            Vector128.Store(b + d, r1 + c);
            Vector128.Store(d - b, r2 + c);
            Vector128.Store(b - e, r3 + c);
            c += 4;
        }
        for (; c < w; c++)
        {
            float a = x0[c], b = x1[c], d = x2[c], e = x3[c];
            r0[c] = a - d;
            r1[c] = b + d;
            r2[c] = d - b;
            r3[c] = b - e;
        }
    }

    /// <summary>
    /// The column half of Bᵀ d B for 16 tiles tc0 .. tc0 + 15 of a tile row, from one row r (written by <see cref="InputRows"/>,
    /// column c at r + 1 + c, at least 2 tc0 + 34 floats readable): with a, b, c, d the columns 2 tc - 1, 2 tc, 2 tc + 1, 2 tc + 2
    /// of tile tc, V[i, 0] = a - c, V[i, 1] = b + c, V[i, 2] = c - b, V[i, 3] = b - d, lane tc - tc0 of v0 .. v3.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void InputColumns(float* r, int tc0, out Vector512<float> v0, out Vector512<float> v1, out Vector512<float> v2,
        out Vector512<float> v3)
        => InputColumns(r, tc0, Vector512<float>.AllBitsSet, Vector512<float>.AllBitsSet, out v0, out v1, out v2, out v3);

    /// <summary>
    /// <see cref="InputColumns(float*, int, out Vector512{float}, out Vector512{float}, out Vector512{float}, out Vector512{float})"/>
    /// for several short tile rows side by side (tile row g's column c at r + g 2 tW + 1 + c, so that its column -1 and column 2 tW
    /// share their places with its neighbours' columns 2 tW - 1 and 0): column a kept only in the lanes of <paramref name="keepLeft"/>
    /// (zero in each row's first tile), column d only in those of <paramref name="keepRight"/> (zero in each row's last tile).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void InputColumns(float* r, int tc0, Vector512<float> keepLeft, Vector512<float> keepRight,
        out Vector512<float> v0, out Vector512<float> v1, out Vector512<float> v2, out Vector512<float> v3)
    {
        float* p = r + 2 * tc0; // column 2 tc0 - 1
        Deinterleave(Vector512.Load(p), Vector512.Load(p + Lanes), out var a, out var b);
        Deinterleave(Vector512.Load(p + 2), Vector512.Load(p + 2 + Lanes), out var c, out var d);
        a &= keepLeft;
        d &= keepRight;
        v0 = a - c;
        v1 = b + c;
        v2 = c - b;
        v3 = b - d;
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
        y00 = s00 + s10 + s20;
        y01 = s01 + s11 + s21;
        y10 = s10 - s20 - s30;
        y11 = s11 - s21 - s31;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputRow(float* m, long stride, out Vector512<float> s0, out Vector512<float> s1)
    {
        var m0 = Vector512.Load(m);
        var m1 = Vector512.Load(m + stride);
        var m2 = Vector512.Load(m + 2 * stride);
        var m3 = Vector512.Load(m + 3 * stride);
        s0 = m0 + m1 + m2;
        s1 = m1 - m2 - m3;
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
            StorePartial(hi, y + Lanes, count - Lanes);
        }
        else StorePartial(lo, y, count);
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

    /// <summary>dst[0 .. count) = v[0 .. count), count &lt; 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StorePartial(Vector512<float> v, float* dst, int count)
    {
        if (count <= 0) return;
        if (Avx512F.IsSupported)
        {
            var mask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();
            Avx512F.MaskStore(dst, mask, v);
        }
        else
            for (int l = 0; l < count; l++) dst[l] = v.GetElement(l);
    }

    private static readonly Vector512<int> EvenIndices = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    private static readonly Vector512<int> OddIndices = EvenIndices + Vector512<int>.One;
    private static readonly Vector512<int> LowInterleave = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    private static readonly Vector512<int> HighInterleave = LowInterleave + Vector512.Create(8);

    /// <summary>even[l] = (p ++ q)[2 l], odd[l] = (p ++ q)[2 l + 1]: the 32 floats of p then q, split by parity.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Deinterleave(Vector512<float> p, Vector512<float> q, out Vector512<float> even, out Vector512<float> odd)
    {
        if (Avx512F.IsSupported)
        {
            even = Avx512F.PermuteVar16x32x2(p, EvenIndices, q);
            odd = Avx512F.PermuteVar16x32x2(p, OddIndices, q);
        }
        else
        {
            even = Select2(p, q, EvenIndices);
            odd = Select2(p, q, OddIndices);
        }
    }

    /// <summary>lo ++ hi = left[0], right[0], left[1], right[1], ..., left[15], right[15].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Interleave(Vector512<float> left, Vector512<float> right, out Vector512<float> lo, out Vector512<float> hi)
    {
        if (Avx512F.IsSupported)
        {
            lo = Avx512F.PermuteVar16x32x2(left, LowInterleave, right);
            hi = Avx512F.PermuteVar16x32x2(left, HighInterleave, right);
        }
        else
        {
            lo = Select2(left, right, LowInterleave);
            hi = Select2(left, right, HighInterleave);
        }
    }

    /// <summary>r[l] = (p ++ q)[indices[l]] for indices in [0, 32), without AVX-512's two-source permute.</summary>
    private static Vector512<float> Select2(Vector512<float> p, Vector512<float> q, Vector512<int> indices)
    {
        var within = indices & Vector512.Create(15);
        var fromQ = Vector512.GreaterThan(indices, Vector512.Create(15)).AsSingle();
        return Vector512.ConditionalSelect(fromQ, Vector512.Shuffle(q, within), Vector512.Shuffle(p, within));
    }
}
