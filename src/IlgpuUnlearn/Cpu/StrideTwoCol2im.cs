using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Cpu;

/// <summary>
/// col2im of the stride-2 convolutions that halve an even-sized image (ResNet18's 3x3 pad-1 block convolutions and 1x1
/// downsample shortcuts): dx[n, ci, ih, iw] = sum of dcol[(ci, kh, kw), (n - first) P + oh OW + ow] over ih = 2 oh - p + kh,
/// iw = 2 ow - p + kw. Each output pixel is written once, gathered from the taps that reach it (its parity picks them), 16
/// columns of dcol at a time with masked loads and interleaved into 32 pixels of a row, instead of clearing dx and adding nine
/// strided rows into it one value at a time. The terms are added to +0 in the order (kh, kw) of the scatter loop
/// (CpuConv.Col2im), and a missing term adds +0 (a partial sum that starts at +0 is never -0), so the result is the same bits.
/// </summary>
internal static unsafe class StrideTwoCol2im
{
    /// <summary>Whether <see cref="Run"/> takes this convolution: stride 2, K = 3 with pad 1 or K = 1 with pad 0, H = 2 OH, W = 2 OW
    /// (vectorised under AVX-512, value by value otherwise).</summary>
    public static bool Handles(ConvShape s) =>
        s.Stride == 2 && ((s.K == 3 && s.Pad == 1) || (s.K == 1 && s.Pad == 0))
        && s.H == 2 * s.OutH && s.W == 2 * s.OutW;

    private static readonly Vector512<int> Lanes = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    private static readonly Vector512<int> InterleaveLow = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    private static readonly Vector512<int> InterleaveHigh = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);

    /// <summary>
    /// dx of images [first, first + count) (N, Cin, H, W) from dcol (Cin K K rows of <paramref name="columns"/> = count P values),
    /// as CpuConv.Col2im computes it (which clears dx first; here every value is written). Requires <see cref="Handles"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(ConvShape s, float* dcol, long columns, int first, int count, float* dx)
    {
        if (!Handles(s)) throw new ArgumentException($"not a stride-2 convolution of an even-sized image with K = 3, pad 1 or K = 1, pad 0: {s}");
        int oh = s.OutH, ow = s.OutW, p = oh * ow, kk = s.K * s.K;
        long plane = (long)s.H * s.W;
        for (int n = 0; n < count; n++)
            for (int ci = 0; ci < s.Cin; ci++)
            {
                float* taps = dcol + (long)ci * kk * columns + (long)n * p; // tap t's plane (OH, OW) at taps + t columns
                float* image = dx + ((long)(first + n) * s.Cin + ci) * plane;
                for (int i = 0; i < oh; i++)
                {
                    float* even = image + (long)(2 * i) * s.W, odd = even + s.W;
                    if (!Avx512F.IsSupported)
                    {
                        RowPairOneByOne(s.K, taps, columns, oh, ow, i, even, odd);
                        continue;
                    }
                    for (int j = 0; j < ow; j += 16)
                    {
                        var here = Vector512.LessThan(Lanes, Vector512.Create(ow - j)).AsSingle();
                        var next = Vector512.LessThan(Lanes, Vector512.Create(ow - j - 1)).AsSingle();
                        int pairs = Math.Min(16, ow - j);
                        if (s.K == 1)
                        {
                            var value = Vector512<float>.Zero + Avx512F.MaskLoad(taps + (long)i * ow + j, here, Vector512<float>.Zero);
                            Interleave(value, Vector512<float>.Zero, even + 2 * j, pairs);
                            Interleave(Vector512<float>.Zero, Vector512<float>.Zero, odd + 2 * j, pairs);
                            continue;
                        }
                        // Load(tap (kh, kw), output row r, first column c, mask): 16 values of that tap's plane.
                        Vector512<float> Load(int kh, int kw, int r, int c, Vector512<float> mask) =>
                            r < oh ? Avx512F.MaskLoad(taps + (kh * 3 + kw) * columns + (long)r * ow + c, mask, Vector512<float>.Zero) : Vector512<float>.Zero;
                        // Row 2i: kh = 1 (oh = i). Even columns kw = 1 (ow = j); odd columns kw = 0 (ow = j + 1), then kw = 2 (ow = j).
                        var evenEven = Vector512<float>.Zero + Load(1, 1, i, j, here);
                        var evenOdd = Vector512<float>.Zero + Load(1, 0, i, j + 1, next) + Load(1, 2, i, j, here);
                        Interleave(evenEven, evenOdd, even + 2 * j, pairs);
                        // Row 2i + 1: kh = 0 (oh = i + 1), then kh = 2 (oh = i).
                        var oddEven = Vector512<float>.Zero + Load(0, 1, i + 1, j, here) + Load(2, 1, i, j, here);
                        var oddOdd = Vector512<float>.Zero + Load(0, 0, i + 1, j + 1, next) + Load(0, 2, i + 1, j, here)
                            + Load(2, 0, i, j + 1, next) + Load(2, 2, i, j, here);
                        Interleave(oddEven, oddOdd, odd + 2 * j, pairs);
                    }
                }
            }
    }

    /// <summary>Rows 2i and 2i + 1 of one plane, value by value in the same order (without AVX-512).</summary>
    private static void RowPairOneByOne(int k, float* taps, long columns, int oh, int ow, int i, float* even, float* odd)
    {
        float At(int kh, int kw, int r, int c) => r < oh && c < ow ? taps[(kh * k + kw) * columns + (long)r * ow + c] : 0f;
        for (int j = 0; j < ow; j++)
        {
            if (k == 1)
            {
                even[2 * j] = 0f + At(0, 0, i, j);
                even[2 * j + 1] = odd[2 * j] = odd[2 * j + 1] = 0f;
                continue;
            }
            even[2 * j] = 0f + At(1, 1, i, j);
            even[2 * j + 1] = 0f + At(1, 0, i, j + 1) + At(1, 2, i, j);
            odd[2 * j] = 0f + At(0, 1, i + 1, j) + At(2, 1, i, j);
            odd[2 * j + 1] = 0f + At(0, 0, i + 1, j + 1) + At(0, 2, i + 1, j) + At(2, 0, i, j + 1) + At(2, 2, i, j);
        }
    }

    /// <summary>dst[2 t] = evens[t], dst[2 t + 1] = odds[t] for t in [0, pairs).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Interleave(Vector512<float> evens, Vector512<float> odds, float* dst, int pairs)
    {
        var low = Avx512F.PermuteVar16x32x2(evens, InterleaveLow, odds);
        var high = Avx512F.PermuteVar16x32x2(evens, InterleaveHigh, odds);
        if (pairs == 16)
        {
            Vector512.Store(low, dst);
            Vector512.Store(high, dst + 16);
            return;
        }
        Avx512F.MaskStore(dst, Vector512.LessThan(Lanes, Vector512.Create(2 * pairs)).AsSingle(), low);
        if (pairs > 8) Avx512F.MaskStore(dst + 16, Vector512.LessThan(Lanes, Vector512.Create(2 * pairs - 16)).AsSingle(), high);
    }
}
