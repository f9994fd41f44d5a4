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
/// The input and output transforms work on 16 tiles of one tile row at a time, one Vector512 lane per tile.
/// </summary>
internal static unsafe class WinogradF2x3
{
    /// <summary>Tiles per vector: one lane each.</summary>
    public const int Lanes = 16;

    /// <summary>
    /// U (16 floats, ξ = 4 i + j) = G g Gᵀ of one 3x3 filter g, g[kh, kw] at g + kh * 3 + kw, or, when <paramref name="flipped"/>,
    /// at g + (2 - kh) * 3 + (2 - kw) (the backward-input convolution's rotated filter).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void FilterTransform(float* g, bool flipped, float* u)
    {
        float g00, g01, g02, g10, g11, g12, g20, g21, g22;
        if (!flipped)
        {
            g00 = g[0]; g01 = g[1]; g02 = g[2]; g10 = g[3]; g11 = g[4]; g12 = g[5]; g20 = g[6]; g21 = g[7]; g22 = g[8];
        }
        else
        {
            g00 = g[8]; g01 = g[7]; g02 = g[6]; g10 = g[5]; g11 = g[4]; g12 = g[3]; g20 = g[2]; g21 = g[1]; g22 = g[0];
        }
        // t = G g (4x3): rows g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2
        float t00 = g00, t01 = g01, t02 = g02;
        float t10 = 0.5f * (g00 + g10 + g20), t11 = 0.5f * (g01 + g11 + g21), t12 = 0.5f * (g02 + g12 + g22);
        float t20 = 0.5f * (g00 - g10 + g20), t21 = 0.5f * (g01 - g11 + g21), t22 = 0.5f * (g02 - g12 + g22);
        float t30 = g20, t31 = g21, t32 = g22;
        // U = t Gᵀ (4x4): columns t0, (t0 + t1 + t2) / 2, (t0 - t1 + t2) / 2, t2 of each row
        FilterRow(t00, t01, t02, u);
        FilterRow(t10, t11, t12, u + 4);
        FilterRow(t20, t21, t22, u + 8);
        FilterRow(t30, t31, t32, u + 12);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FilterRow(float a, float b, float c, float* u)
    {
        u[0] = a;
        u[1] = 0.5f * (a + b + c);
        u[2] = 0.5f * (a - b + c);
        u[3] = c;
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
    {
        float* p = r + 2 * tc0; // column 2 tc0 - 1
        Deinterleave(Vector512.Load(p), Vector512.Load(p + Lanes), out var a, out var b);
        Deinterleave(Vector512.Load(p + 2), Vector512.Load(p + 2 + Lanes), out var c, out var d);
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
