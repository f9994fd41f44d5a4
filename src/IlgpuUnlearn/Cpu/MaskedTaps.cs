using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace IlgpuUnlearn.Cpu;

/// <summary>
/// How im2col reads a convolution's operand as one AVX-512 masked load per 16 output pixels and kernel tap: tap t of channel c
/// of image n, for output pixels q .. q + 15 (q a multiple of 16, P = OH OW a multiple of 16), is the 16 floats at
/// <c>source + n Cin ChannelStride + c ChannelStride + Offsets[t] + q</c> with the lanes that fall into the padding masked off by
/// <c>Masks[t Vectors + q / 16]</c>. Two layouts have this form:
/// <list type="bullet">
/// <item>a "same" stride-1 convolution (output as large as the input): the source is the image itself, tap (kh, kw) at offset
/// (kh - pad) W + (kw - pad) of its plane (<see cref="ForSame"/>);</item>
/// <item>a stride-2 convolution of an image twice the output's size, read from its four phases
/// (<see cref="StrideTwoPhases"/>): tap (kh, kw) reads phase (dh mod 2, dw mod 2) shifted by (floor(dh / 2), floor(dw / 2))
/// with dh = kh - pad, dw = kw - pad (<see cref="ForStrideTwoPhases"/>).</item>
/// </list>
/// The tables (offsets and masks, built once per call) belong to the instance.
/// </summary>
internal sealed unsafe class MaskedTaps : IDisposable
{
    private readonly CpuScratch _masks = new();
    private readonly CpuScratch _offsets = new();

    /// <summary>Frees the scratch blocks now (see <see cref="CpuScratch.Dispose"/>).</summary>
    public void Dispose()
    {
        _masks.Dispose();
        _offsets.Dispose();
    }

    /// <summary>Whether this machine reads im2col by masked loads (AVX-512 and the plan's <see cref="Im2colStrategy.MaskedLoads"/>).</summary>
    public static bool Available => Avx512F.IsSupported && CpuKernelPlan.Current.Im2col == Im2colStrategy.MaskedLoads;

    /// <summary>
    /// The taps of a K x K kernel over an h x w image read in place, or <see cref="MaskedTapSource.None"/> when the convolution
    /// is not a "same" stride-1 one on images of whole vectors (or the machine has no masked loads).
    /// </summary>
    public MaskedTapSource ForSame(int h, int w, int k, int stride, int pad)
    {
        int outH = (h + 2 * pad - k) / stride + 1, outW = (w + 2 * pad - k) / stride + 1;
        if (stride != 1 || outH != h || outW != w || h * w % 16 != 0 || !Available) return MaskedTapSource.None;
        return Build(k, h, w, h * w, (kh, kw) => ((kh - pad) * w + (kw - pad), kh - pad, kw - pad));
    }

    /// <summary>
    /// The taps of a stride-2 K x K kernel with padding <paramref name="pad"/> over the phases of an image of 2 outH x 2 outW
    /// (<see cref="StrideTwoPhases"/>: channel stride 4 outH outW). Requires <see cref="StrideTwoPhases.Applies"/>.
    /// </summary>
    public MaskedTapSource ForStrideTwoPhases(Tensors.ConvShape s)
    {
        if (!StrideTwoPhases.Applies(s)) throw new ArgumentException($"not a stride-2 convolution that phases serve: {s}");
        int oh = s.OutH, ow = s.OutW, p = oh * ow;
        return Build(s.K, oh, ow, 4 * p, (kh, kw) =>
        {
            int dh = kh - s.Pad, dw = kw - s.Pad; // input row 2 r + dh: phase row parity dh & 1, shifted by dh >> 1 (floor)
            return (StrideTwoPhases.Phase(dh & 1, dw & 1) * p + (dh >> 1) * ow + (dw >> 1), dh >> 1, dw >> 1);
        });
    }

    /// <summary>
    /// The table of <paramref name="taps"/> shifted reads of (h, w) planes: tap t reads at <paramref name="tap"/>(t).Offset,
    /// its lane for pixel (r, c) valid where (r + ShiftH, c + ShiftW) lies in the plane. For the taps of
    /// <see cref="ForSame"/> and <see cref="ForStrideTwoPhases"/> (tap t = (kh, kw) = (t / K, t mod K)).
    /// </summary>
    private MaskedTapSource Build(int taps, int h, int w, long channelStride, Func<int, (int Offset, int ShiftH, int ShiftW)> tap)
    {
        int vectors = h * w / 16;
        var masks = (Vector512<float>*)_masks.Get((long)taps * vectors * 16);
        var offsets = (int*)_offsets.Get(taps);
        for (int t = 0; t < taps; t++)
        {
            var (offset, dh, dw) = tap(t);
            offsets[t] = offset;
            for (int v = 0; v < vectors; v++) masks[t * vectors + v] = Mask(16 * v, h, w, dh, dw);
        }
        return new MaskedTapSource(masks, offsets, taps, vectors, channelStride);
    }

    private MaskedTapSource Build(int k, int h, int w, long channelStride, Func<int, int, (int, int, int)> tap)
        => Build(k * k, h, w, channelStride, t => tap(t / k, t % k));

    /// <summary>
    /// For pixels q .. q + 15 of an h x w plane (lane l is pixel q + l, at row r, column c): all ones in the lanes where
    /// (r + dh, c + dw) lies inside the plane, zero elsewhere.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Mask(int q, int h, int w, int dh, int dw)
    {
        var pixel = Vector512.Create(q) + Vector512<int>.Indices;
        // r = floor(pixel / w), exact in single precision for any plane below 2^22 pixels
        var r = Vector512.ConvertToInt32(Vector512.Floor((Vector512.ConvertToSingle(pixel) + Vector512.Create(0.5f)) / w));
        var c = pixel - r * w;
        var insideRows = Vector512.LessThan((r + Vector512.Create(dh)).AsUInt32(), Vector512.Create((uint)h));
        var insideColumns = Vector512.LessThan((c + Vector512.Create(dw)).AsUInt32(), Vector512.Create((uint)w));
        return (insideRows & insideColumns).AsSingle();
    }
}

/// <summary>
/// A table of <see cref="MaskedTaps"/>: per tap an offset and a mask per 16 pixels of a plane of <see cref="Vectors"/> 16
/// pixels, planes <see cref="ChannelStride"/> floats apart. Valid while the <see cref="MaskedTaps"/> that built it is alive
/// and builds no other table.
/// </summary>
internal readonly unsafe struct MaskedTapSource(Vector512<float>* masks, int* offsets, int taps, int vectors, long channelStride)
{
    public static MaskedTapSource None => default;

    public Vector512<float>* Masks { get; } = masks;
    public int* Offsets { get; } = offsets;
    /// <summary>Taps per channel: the rows of the im2col operand are (channel, tap).</summary>
    public int Taps { get; } = taps;
    /// <summary>16-pixel vectors per plane of the output (P / 16).</summary>
    public int Vectors { get; } = vectors;
    /// <summary>Floats from one channel's plane (or group of phase planes) to the next.</summary>
    public long ChannelStride { get; } = channelStride;
    public bool IsNone => Masks == null;
}
