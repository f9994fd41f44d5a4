using System.Runtime.CompilerServices;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Cpu;

/// <summary>
/// 2-D convolution without bias, NCHW, as GEMMs (<see cref="CpuGemm"/>), with KK = K * K, P = OH * OW:
/// <list type="bullet">
/// <item>forward: y_n (Cout, P) = w (Cout, Cin KK) x col_n (Cin KK, P), all images side by side as the GEMM's columns;
/// col is never stored: the GEMM packs its B panels straight from x (<see cref="Im2colPanelSource"/>), for stride-2
/// downsampling from x's phases, split by each worker for the few images it runs (<see cref="StrideTwoPhases"/>); 3x3 stride-1
/// padding-1 convolutions with enough channels by Winograd F(2x2, 3x3) instead (<see cref="CpuWinogradConv"/>,
/// <see cref="CpuKernelPlan.UsesWinograd"/>);</item>
/// <item>backward-input, stride 1: the forward convolution of dy with the flipped, transposed weights and padding K - 1 - pad
/// (by Winograd where the forward would be);
/// other strides: dcol (Cin KK, G P) = w^T (Cin KK, Cout) x dy_g (Cout, G P) for groups of G images, then col2im;</item>
/// <item>backward-weight: dw (Cout, Cin KK) = sum over groups of images of dy_g (Cout, P_g) x col_g (Cin KK, P_g)^T, with both
/// operands contiguous along the summed pixels, by a dot-product micro-kernel (<see cref="CpuConvWeightGradient"/>); for 3x3
/// stride-1 pad-1 convolutions with enough channels, by Winograd F(2x2, 3x3) with the same micro-kernel on the 16 transformed
/// positions (<see cref="CpuWinogradWeightGradient"/>).</item>
/// </list>
/// Not for concurrent calls: the scratch buffers belong to the instance (and per-thread ones to the threads).
/// </summary>
internal sealed unsafe class CpuConv : IDisposable
{
    private readonly CpuScratch _packedWeights = new();
    private readonly CpuScratch _flippedWeights = new();
    private readonly CpuConvWeightGradient _weightGradient = new();
    private readonly CpuWinogradWeightGradient _winogradWeightGradient = new();
    private readonly MaskedTaps _taps = new();
    private readonly CpuWinogradConv _winograd = new();

    /// <summary>y (N, Cout, OH, OW) = conv2d(x (N, Cin, H, W), w (Cout, Cin, K, K)).</summary>
    public void Forward(ConvShape s, Slice<float> xs, Slice<float> ws, Slice<float> ys)
    {
        float* x = CpuOps.Pointer(xs), w = CpuOps.Pointer(ws), y = CpuOps.Pointer(ys);
        if (CpuKernelPlan.Current.UsesWinograd(s.K, s.Stride, s.Pad, s.Cin, s.Cout))
        {
            _winograd.Forward(s, x, w, y);
            return;
        }
        int kdim = s.Cin * s.K * s.K, p = s.OutH * s.OutW;
        float* packedW = _packedWeights.Get((long)CpuGemm.PaddedRows(s.Cout) * kdim);
        CpuGemm.PackA(w, kdim, 1, s.Cout, kdim, packedW);
        if (StrideTwoPhases.ForForward(s))
        {
            ForwardByPhases(s, x, packedW, _taps.ForStrideTwoPhases(s), y);
            return;
        }
        var source = new Im2colPanelSource(x, s.Cin, s.H, s.W, s.K, s.Stride, s.Pad, _taps.ForSame(s.H, s.W, s.K, s.Stride, s.Pad));
        CpuGemm.Multiply(s.Cout, (long)s.N * p, kdim, packedW, source, new GemmOutput(y, p, p, (long)s.Cout * p));
        GC.KeepAlive(this);
    }

    /// <summary>
    /// A stride-2 convolution of an image twice the output's size (<see cref="StrideTwoPhases.ForForward"/>), a few images per
    /// work item: the worker splits them into its own buffer (four phases, or the even one alone for 1x1) and runs the GEMM
    /// over their columns with B panels read from it by masked loads (<paramref name="taps"/>), so the phases are read back
    /// from the worker's own cache. An item is the fewest images whose columns are whole GEMM panels (P a multiple of 16: at
    /// most 3; ResNet18: 3 images, 768, 192 and 48 columns). Measured on Zen 4 (batch 64, CPU time, alternated in one process)
    /// against splitting 4 MB of images on all cores and then running the GEMM: 1.01-1.08x (3x3), up to 1.19x (1x1).
    /// </summary>
    private void ForwardByPhases(ConvShape s, float* x, float* packedW, MaskedTapSource taps, float* y)
    {
        int kdim = s.Cin * s.K * s.K, p = s.OutH * s.OutW;
        long imageIn = s.InputLength / s.N, imageOut = (long)s.Cout * p;
        int perItem = 1;
        while ((long)perItem * p % CpuGemm.NR != 0 && perItem < 3) perItem++;
        CpuParallel.For((s.N + perItem - 1) / perItem, item =>
        {
            int first = item * perItem, count = Math.Min(perItem, s.N - first);
            float* phases = CpuScratch.ThreadColumns.Get(count * imageIn);
            StrideTwoPhases.Split(x + first * imageIn, count, s.Cin, s.H, s.W, phases, evenOnly: s.K == 1);
            var source = new Im2colPanelSource(phases, s.Cin, s.H, s.W, s.K, s.Stride, s.Pad, taps);
            CpuGemm.MultiplyColumns(s.Cout, kdim, packedW, source, new GemmOutput(y + first * imageOut, p, p, imageOut), 0, (long)count * p);
        });
        GC.KeepAlive(this); // the taps and packed weights are raw pointers into scratch only this instance holds
    }

    /// <summary>dx (N, Cin, H, W): dx[n,ci,ih,iw] = sum of dy[n,co,oh,ow] w[co,ci,kh,kw] over ih = oh s - p + kh, iw = ow s - p + kw.</summary>
    public void BackwardInput(ConvShape s, Slice<float> dys, Slice<float> ws, Slice<float> dxs)
    {
        float* dy = CpuOps.Pointer(dys), w = CpuOps.Pointer(ws), dx = CpuOps.Pointer(dxs);
        // The transposed convolution is a GEMM with M = Cin rows: worth it only when those fill several micro-tiles
        // (the stem's Cin = 3 would waste 5 of 8 rows and reuse each packed panel once).
        if (s.Stride == 1 && s.Pad <= s.K - 1 && s.Cin >= 4 * CpuGemm.MR) BackwardInputAsConvolution(s, dy, w, dx);
        else BackwardInputByCol2im(s, dy, w, dx);
        GC.KeepAlive(this); // the paths hold raw pointers into scratch only this instance holds
    }

    /// <summary>
    /// Stride 1: dx = conv2d(dy, w') with w'[ci, co, kh, kw] = w[co, ci, K-1-kh, K-1-kw] and padding K - 1 - pad,
    /// so (OH + 2 (K - 1 - pad) - K) + 1 = H.
    /// </summary>
    private void BackwardInputAsConvolution(ConvShape s, float* dy, float* w, float* dx)
    {
        if (CpuKernelPlan.Current.UsesWinograd(s.K, 1, s.K - 1 - s.Pad, s.Cout, s.Cin))
        {
            _winograd.BackwardInput(s, dy, w, dx);
            return;
        }
        int kk = s.K * s.K, kdim = s.Cout * kk, hw = s.H * s.W;
        float* flipped = _flippedWeights.Get((long)s.Cin * kdim); // (Cin, Cout, K, K)
        CpuParallel.For(s.Cin, ci =>
        {
            for (int co = 0; co < s.Cout; co++)
                for (int t = 0; t < kk; t++)
                    flipped[((long)ci * s.Cout + co) * kk + t] = w[((long)co * s.Cin + ci) * kk + (kk - 1 - t)];
        });
        float* packedW = _packedWeights.Get((long)CpuGemm.PaddedRows(s.Cin) * kdim);
        CpuGemm.PackA(flipped, kdim, 1, s.Cin, kdim, packedW);
        var source = new Im2colPanelSource(dy, s.Cout, s.OutH, s.OutW, s.K, 1, s.K - 1 - s.Pad,
            _taps.ForSame(s.OutH, s.OutW, s.K, 1, s.K - 1 - s.Pad));
        CpuGemm.Multiply(s.Cin, (long)s.N * hw, kdim, packedW, source, new GemmOutput(dx, hw, hw, (long)s.Cin * hw));
    }

    /// <summary>
    /// Any stride: per group of images, dcol (Cin KK, G P) = w^T dy_g, then dx_g = col2im(dcol) (a sum where windows overlap).
    /// Groups are whole images, so each worker owns the dx it writes.
    /// </summary>
    private void BackwardInputByCol2im(ConvShape s, float* dy, float* w, float* dx)
    {
        int kk = s.K * s.K, rows = s.Cin * kk, p = s.OutH * s.OutW;
        float* packedWt = _packedWeights.Get((long)CpuGemm.PaddedRows(rows) * s.Cout);
        CpuGemm.PackA(w, 1, rows, rows, s.Cout, packedWt); // A[m, co] = w[co, m]
        int imagesPerGroup = Col2imImagesPerGroup(p, s.N);
        int groups = (s.N + imagesPerGroup - 1) / imagesPerGroup;
        var dySource = new Im2colPanelSource(dy, s.Cout, s.OutH, s.OutW, 1, 1, 0, _taps.ForSame(s.OutH, s.OutW, 1, 1, 0)); // dy as a (Cout, N P) matrix
        CpuParallel.For(groups, group =>
        {
            int first = group * imagesPerGroup, count = Math.Min(imagesPerGroup, s.N - first);
            long columns = (long)count * p;
            float* dcol = CpuScratch.ThreadColumns.Get(rows * columns);
            // the output's column j is dcol[:, j - first P]
            CpuGemm.MultiplyColumns(rows, s.Cout, packedWt, dySource, GemmOutput.RowMajor(dcol - (long)first * p, columns),
                (long)first * p, columns);
            if (StrideTwoCol2im.Handles(s)) StrideTwoCol2im.Run(s, dcol, columns, first, count, dx);
            else Col2im(s, dcol, columns, first, count, dx);
        });
    }

    /// <summary>
    /// Images per group of the backward-input by col2im, for P output pixels per image: about 256 columns (dcol, Cin K K rows of
    /// them, stays near L2), as many whole images as give whole GEMM panels (a multiple of <see cref="CpuGemm.NR"/> = 48
    /// columns) up to 256 columns, else the fewest above 256 that do, else 256 / P: ResNet18's stride-2 shapes get 3 x 256
    /// (layer2), 3 x 64 and 15 x 16 columns instead of 256 = 5 1/3 panels, whose last third of a panel ran the whole
    /// micro-kernel into a stack tile. Measured on Zen 4 (batch 64, process CPU time, the two alternated in one process):
    /// 1.10x faster on all three 3x3 stride-2 shapes; against 6 x 64 and 18 x 16 columns 1.00-1.03x.
    /// </summary>
    internal static int Col2imImagesPerGroup(int p, int n)
    {
        int target = Math.Max(1, 256 / p);
        for (int g = target; g >= 1; g--)
            if ((long)g * p % CpuGemm.NR == 0) return Math.Min(g, n);
        for (int g = target + 1; g <= 3 * target; g++)
            if ((long)g * p % CpuGemm.NR == 0) return Math.Min(g, n);
        return Math.Min(target, n);
    }

    /// <summary>dx[n, ci, oh s - p + kh, ow s - p + kw] += dcol[(ci, kh, kw), (n - first) P + oh OW + ow], dx of these images zeroed first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Col2im(ConvShape s, float* dcol, long columns, int first, int count, float* dx)
    {
        long imageLength = (long)s.Cin * s.H * s.W;
        new Span<float>(dx + first * imageLength, checked((int)(count * imageLength))).Clear();
        int p = s.OutH * s.OutW;
        for (int ci = 0; ci < s.Cin; ci++)
            for (int kh = 0; kh < s.K; kh++)
                for (int kw = 0; kw < s.K; kw++)
                {
                    float* row = dcol + ((long)(ci * s.K + kh) * s.K + kw) * columns;
                    for (int n = 0; n < count; n++)
                    {
                        float* plane = dx + (first + n) * imageLength + (long)ci * s.H * s.W;
                        for (int oh = 0; oh < s.OutH; oh++)
                        {
                            int ih = oh * s.Stride - s.Pad + kh;
                            if ((uint)ih >= (uint)s.H) continue;
                            float* src = row + (long)n * p + oh * s.OutW;
                            float* dst = plane + ih * s.W;
                            int ow0 = FirstInside(kw - s.Pad, s.Stride), ow1 = EndInside(kw - s.Pad, s.Stride, s.W, s.OutW);
                            for (int ow = ow0; ow < ow1; ow++) dst[ow * s.Stride - s.Pad + kw] += src[ow];
                        }
                    }
                }
    }

    /// <summary>The first ow with ow stride + offset &gt;= 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int FirstInside(int offset, int stride) => offset >= 0 ? 0 : (-offset + stride - 1) / stride;

    /// <summary>One past the last ow &lt; outW with ow stride + offset &lt; w.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int EndInside(int offset, int stride, int w, int outW)
        => w - offset <= 0 ? 0 : Math.Min(outW, (w - offset + stride - 1) / stride);

    /// <summary>
    /// dw (Cout, Cin, K, K) = sum over n, oh, ow of dy[n,co,oh,ow] x[n,ci,oh s - p + kh, ow s - p + kw]: by Winograd F(2x2, 3x3)
    /// (<see cref="CpuWinogradWeightGradient"/>) where the plan says it wins (<see cref="CpuKernelPlan.UsesWinogradWeightGradient"/>),
    /// else directly (<see cref="CpuConvWeightGradient"/>).
    /// </summary>
    public void BackwardWeight(ConvShape s, Slice<float> xs, Slice<float> dys, Slice<float> dws)
    {
        float* x = CpuOps.Pointer(xs), dy = CpuOps.Pointer(dys), dw = CpuOps.Pointer(dws);
        if (CpuKernelPlan.Current.UsesWinogradWeightGradient(s)) _winogradWeightGradient.Run(s, x, dy, dw);
        else _weightGradient.Run(s, x, dy, dw);
    }

    /// <summary>Frees every scratch block the convolutions hold (up to ~160 MB at the card's batch of 2500) now rather than at finalization.</summary>
    public void Dispose()
    {
        _packedWeights.Dispose();
        _flippedWeights.Dispose();
        _weightGradient.Dispose();
        _winogradWeightGradient.Dispose();
        _taps.Dispose();
        _winograd.Dispose();
    }
}
