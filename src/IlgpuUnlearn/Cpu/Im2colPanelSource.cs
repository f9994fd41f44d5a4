using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace IlgpuUnlearn.Cpu;

/// <summary>
/// The B operand of the forward convolution read straight from the image: B[(ci, kh, kw), j] = x[n, ci, oh s - p + kh, ow s - p + kw]
/// for column j = (n, oh, ow), zero in the padding. Given a table of masked taps (<see cref="MaskedTaps"/>: a "same" stride-1
/// convolution read from the image, or a stride-2 one read from its phases, <paramref name="x"/> then being the phases), each
/// 16-column third of a panel row is one masked load; otherwise (<see cref="MaskedTapSource.None"/>) a panel's NR columns are a
/// few runs along output rows, copied run by run (for stride 1 each run is a contiguous piece of an input row). With a table, the
/// rows are (channel, tap of the table) and the columns the table's planes of whole vectors: only x, cin and the table are read.
/// </summary>
internal readonly unsafe struct Im2colPanelSource(float* x, int cin, int h, int w, int k, int stride, int pad, MaskedTapSource taps)
    : IGemmPanelSource
{
    private readonly int _outH = (h + 2 * pad - k) / stride + 1;
    private readonly int _outW = (w + 2 * pad - k) / stride + 1;

    public void Pack(long j0, int cols, int k0, int kc, float* dst)
    {
        if (!taps.IsNone) PackMasked(j0, cols, k0, kc, dst);
        else PackRuns(j0, cols, k0, kc, dst);
    }

    /// <summary>
    /// A panel by masked loads: per row one load per 16-column third (cols is a multiple of 16, since the columns are whole
    /// images of whole vectors), zeros in the thirds past cols.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PackMasked(long j0, int cols, int k0, int kc, float* dst)
    {
        int vectors = taps.Vectors, kk = taps.Taps;
        long p = 16L * vectors, channelStride = taps.ChannelStride, imageStride = cin * channelStride;
        // Third t holds pixels q .. q + 15 of one image: they start at s_t for channel 0 and offset 0, tap tp masks them with
        // m_t[tp vectors] (mask q / 16 of the tap). A third past cols reads third 0 again and stores zeros.
        long j1 = cols > 16 ? j0 + 16 : j0, j2 = cols > 32 ? j0 + 32 : j0;
        float* s0 = x + j0 / p * imageStride + j0 % p, s1 = x + j1 / p * imageStride + j1 % p, s2 = x + j2 / p * imageStride + j2 % p;
        Vector512<float>* m0 = taps.Masks + j0 % p / 16, m1 = taps.Masks + j1 % p / 16, m2 = taps.Masks + j2 % p / 16;
        int* offsets = taps.Offsets;
        var zero = Vector512<float>.Zero;
        int tap = k0 % kk;
        long channel = k0 / kk * channelStride;
        if (cols == CpuGemm.NR)
        {
            for (float* d = dst, end = dst + kc * CpuGemm.NR; d < end; d += CpuGemm.NR)
            {
                long offset = channel + offsets[tap];
                int mask = tap * vectors;
                Vector512.Store(Avx512F.MaskLoad(s0 + offset, m0[mask], zero), d);
                Vector512.Store(Avx512F.MaskLoad(s1 + offset, m1[mask], zero), d + 16);
                Vector512.Store(Avx512F.MaskLoad(s2 + offset, m2[mask], zero), d + 32);
                if (++tap == kk)
                {
                    tap = 0;
                    channel += channelStride;
                }
            }
            return;
        }
        var keep1 = cols > 16 ? Vector512<float>.AllBitsSet : zero;
        var keep2 = cols > 32 ? Vector512<float>.AllBitsSet : zero;
        for (float* d = dst, end = dst + kc * CpuGemm.NR; d < end; d += CpuGemm.NR)
        {
            long offset = channel + offsets[tap];
            int mask = tap * vectors;
            Vector512.Store(Avx512F.MaskLoad(s0 + offset, m0[mask], zero), d);
            Vector512.Store(Avx512F.MaskLoad(s1 + offset, m1[mask] & keep1, zero), d + 16);
            Vector512.Store(Avx512F.MaskLoad(s2 + offset, m2[mask] & keep2, zero), d + 32);
            if (++tap == kk)
            {
                tap = 0;
                channel += channelStride;
            }
        }
    }

    /// <summary>Any panel: its columns as runs within one output row, copied row by row of the panel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PackRuns(long j0, int cols, int k0, int kc, float* dst)
    {
        // The panel's columns as runs within one output row: (image start, oh, first ow, length, offset in the panel).
        int* runImage = stackalloc int[CpuGemm.NR], runOh = stackalloc int[CpuGemm.NR], runOw = stackalloc int[CpuGemm.NR];
        int* runLength = stackalloc int[CpuGemm.NR], runOffset = stackalloc int[CpuGemm.NR];
        int runs = 0;
        long p = (long)_outH * _outW;
        for (int jj = 0; jj < cols;)
        {
            long j = j0 + jj;
            long image = j / p;
            int pixel = (int)(j - image * p);
            int oh = pixel / _outW, ow = pixel - oh * _outW;
            int length = Math.Min(cols - jj, _outW - ow);
            runImage[runs] = (int)image; runOh[runs] = oh; runOw[runs] = ow; runLength[runs] = length; runOffset[runs] = jj;
            runs++;
            jj += length;
        }

        int kk = k * k;
        int ci = k0 / kk, kh = k0 % kk / k, kw = k0 % k;
        long planeLength = (long)h * w;
        for (int row = 0; row < kc; row++)
        {
            float* d = dst + row * CpuGemm.NR;
            for (int r = 0; r < runs; r++)
            {
                float* dRun = d + runOffset[r];
                int length = runLength[r];
                int ih = runOh[r] * stride - pad + kh;
                if ((uint)ih >= (uint)h)
                {
                    ClearRun(dRun, length);
                    continue;
                }
                float* xRow = x + ((long)runImage[r] * cin + ci) * planeLength + (long)ih * w;
                int iw0 = runOw[r] * stride - pad + kw;
                if (stride == 1)
                {
                    int lo = Math.Clamp(-iw0, 0, length), hi = Math.Clamp(w - iw0, lo, length);
                    for (int t = 0; t < lo; t++) dRun[t] = 0f;
                    CopyRun(xRow + iw0 + lo, dRun + lo, hi - lo);
                    for (int t = hi; t < length; t++) dRun[t] = 0f;
                }
                else
                {
                    for (int t = 0; t < length; t++)
                    {
                        int iw = iw0 + t * stride;
                        dRun[t] = (uint)iw < (uint)w ? xRow[iw] : 0f;
                    }
                }
            }
            for (int t = cols; t < CpuGemm.NR; t++) d[t] = 0f;
            if (++kw == k)
            {
                kw = 0;
                if (++kh == k) { kh = 0; ci++; }
            }
        }
    }

    /// <summary>dst[0 .. n) = src[0 .. n): whole vectors, the last one overlapping the one before; no call for short runs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void CopyRun(float* src, float* dst, int n)
    {
        if (n >= 16)
        {
            int t = 0;
            for (; t + 16 <= n; t += 16) Vector512.Store(Vector512.Load(src + t), dst + t);
            if (t < n) Vector512.Store(Vector512.Load(src + n - 16), dst + n - 16);
        }
        else
            for (int t = 0; t < n; t++) dst[t] = src[t];
    }

    /// <summary>dst[0 .. n) = 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ClearRun(float* dst, int n)
    {
        if (n >= 16)
        {
            int t = 0;
            for (; t + 16 <= n; t += 16) Vector512.Store(Vector512<float>.Zero, dst + t);
            if (t < n) Vector512.Store(Vector512<float>.Zero, dst + n - 16);
        }
        else
            for (int t = 0; t < n; t++) dst[t] = 0f;
    }
}
