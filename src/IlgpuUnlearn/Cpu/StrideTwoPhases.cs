using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Cpu;

/// <summary>
/// The polyphase split of a stride-2 convolution's input: x (N, C, 2 OH, 2 OW) to phases (N, C, 4, OH, OW) with phase
/// (a, b) = 2 a + b holding x[n, c, 2 i + a, 2 j + b] at (i, j). A stride-2 tap then reads one phase at a shift of at most one
/// row and column, so im2col becomes the masked whole-vector loads of a stride-1 convolution (<see cref="MaskedTaps"/>)
/// instead of a gather of every other value; the split costs one pass over x (even and odd columns parted by AVX-512's
/// two-source permute). Each worker splits just what it is about to read (a few images in the forward, a few channels of a
/// group of images in the weight gradient) into its own buffer, so that the phases are read back from its cache and stay
/// small beside the batch.
/// </summary>
internal static unsafe class StrideTwoPhases
{
    /// <summary>
    /// Whether convolution <paramref name="s"/> can be read through phases: stride 2, the input exactly twice the output
    /// (H = 2 OH, W = 2 OW: ResNet's 3x3 pad-1 and 1x1 pad-0 downsampling of even sizes), an output plane of whole vectors
    /// (OH OW a multiple of 16), and masked loads on this machine (<see cref="MaskedTaps.Available"/>). Which directions
    /// take them: <see cref="ForForward"/>, <see cref="ForWeightGradient"/>.
    /// </summary>
    public static bool Applies(ConvShape s) =>
        s.Stride == 2 && s.H == 2 * s.OutH && s.W == 2 * s.OutW && s.OutH * s.OutW % 16 == 0 && MaskedTaps.Available;

    /// <summary>
    /// The fewest output pixels per image at which a 1x1 shortcut's forward reads x's even phase (split alone,
    /// <see cref="Split"/>'s evenOnly) rather than gathering every other value. Measured on Zen 4 (batch 64, process CPU time
    /// per call over runs of 0.2 s, the two alternated in one process, three runs): layer2 (P 256) 1.47-1.59x, layer3 (P 64)
    /// 1.10-1.20x, layer4 (P 16) 0.86-0.90x.
    /// </summary>
    public const int OneByOneForwardMinPixels = 64;

    /// <summary>
    /// Whether the forward convolution reads phases: every shape that <see cref="Applies"/> with a kernel larger than 1x1 (3x3
    /// pad 1 on ResNet18's three, against gathering: 1.29x, 1.19x, 1.08x at layer2, 3, 4, batch 64, Zen 4, process CPU time,
    /// five rounds alternated with main; bench/results/amd-epyc-family25-model17-2core-stride-two-convs-batch64-2026-12-06.txt),
    /// and 1x1 ones from <see cref="OneByOneForwardMinPixels"/> output pixels.
    /// </summary>
    public static bool ForForward(ConvShape s) => Applies(s) && (s.K > 1 || s.OutH * s.OutW >= OneByOneForwardMinPixels);

    /// <summary>
    /// Whether the weight gradient reads phases: shapes that <see cref="Applies"/> with a kernel larger than 1x1 (3x3 pad 1,
    /// against gathering, same conditions as <see cref="ForForward"/>: layer2 1.12-1.28x, layer3 0.97-1.21x, layer4 0.96-1.13x
    /// over four runs on the shared machine, whose noise floor is about 10%). A 1x1 shortcut's col rows are a quarter of x,
    /// gathered once per group and then used against every dy row, so the split's pass costs as much as it saves: measured
    /// 0.80-1.16x, 0.9x typical.
    /// </summary>
    public static bool ForWeightGradient(ConvShape s) => Applies(s) && s.K > 1;

    /// <summary>The index of phase (row parity a, column parity b) within a channel's four.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Phase(int a, int b) => 2 * a + b;

    private static readonly Vector512<int> Evens = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    private static readonly Vector512<int> Odds = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);

    /// <summary>
    /// phases (count, C, 4, H / 2, W / 2) of images x (count, C, H, W), H and W even, on this thread (callers split the few
    /// images or channels a worker is about to read); with <paramref name="evenOnly"/> phase (0, 0) alone (all that a 1x1
    /// pad-0 convolution reads), the others left as they were. Requires AVX-512 (<see cref="Applies"/>).
    /// </summary>
    public static void Split(float* x, int count, int c, int h, int w, float* phases, bool evenOnly = false)
    {
        if (h % 2 != 0 || w % 2 != 0 || !Avx512F.IsSupported)
            throw new ArgumentException($"phases need an even-sized image and AVX-512: {h}x{w}");
        for (long plane = 0; plane < (long)count * c; plane++)
            SplitPlane(x + plane * h * w, h, w, phases + plane * h * w, evenOnly);
    }

    /// <summary>One plane: row r's even columns to phase (r mod 2, 0), odd ones to (r mod 2, 1), row r / 2; 32 values at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SplitPlane(float* x, int h, int w, float* phases, bool evenOnly)
    {
        int oh = h / 2, ow = w / 2, p = oh * ow;
        for (int r = 0; r < h; r += evenOnly ? 2 : 1)
        {
            float* src = x + (long)r * w;
            float* even = phases + Phase(r & 1, 0) * p + (r >> 1) * ow, odd = even + p;
            int j = 0;
            for (; j + 32 <= w; j += 32)
            {
                var lo = Vector512.Load(src + j);
                var hi = Vector512.Load(src + j + 16);
                Vector512.Store(Avx512F.PermuteVar16x32x2(lo, Evens, hi), even + j / 2);
                if (!evenOnly) Vector512.Store(Avx512F.PermuteVar16x32x2(lo, Odds, hi), odd + j / 2);
            }
            if (j < w)
            {
                int left = w - j; // even, below 32
                var lo = Avx512F.MaskLoad(src + j, FirstLanes(left), Vector512<float>.Zero);
                var hi = left > 16 ? Avx512F.MaskLoad(src + j + 16, FirstLanes(left - 16), Vector512<float>.Zero) : Vector512<float>.Zero;
                var half = FirstLanes(left / 2);
                Avx512F.MaskStore(even + j / 2, half, Avx512F.PermuteVar16x32x2(lo, Evens, hi));
                if (!evenOnly) Avx512F.MaskStore(odd + j / 2, half, Avx512F.PermuteVar16x32x2(lo, Odds, hi));
            }
        }
    }

    /// <summary>All ones in lanes 0 .. n - 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> FirstLanes(int n) => Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(n)).AsSingle();
}
