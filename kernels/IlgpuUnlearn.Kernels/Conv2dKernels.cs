using ILGPU;

namespace IlgpuUnlearn.Kernels;

/// <summary>
/// 2-D convolution without bias, NCHW: x (N, Cin, H, W), w (Cout, Cin, K, K), y (N, Cout, OH, OW),
/// y[n, co, oh, ow] = sum_{ci, kh, kw} w[co, ci, kh, kw] x[n, ci, oh S - P + kh, ow S - P + kw] (zero outside x).
/// Two versions of each pass side by side: the naive one (one thread per output element, the readable
/// reference) and the tiled implicit GEMM (<see cref="ImplicitGemm"/>) that IlgpuOps uses.
/// </summary>
public static class Conv2dKernels
{
    // ---- naive reference versions ------------------------------------------------------------

    /// <summary>One thread per y[n, co, oh, ow].</summary>
    public static void ForwardNaive(Index1D i, ConvGeometry g, ArrayView<float> x, ArrayView<float> w, ArrayView<float> y)
    {
        int e = ElementIndex.Of(i);
        int ow = e % g.OW, rest = e / g.OW;
        int oh = rest % g.OH; rest /= g.OH;
        int co = rest % g.Cout, n = rest / g.Cout;

        float sum = 0f;
        for (int ci = 0; ci < g.Cin; ci++)
            for (int kh = 0; kh < g.K; kh++)
            {
                int ih = oh * g.Stride - g.Pad + kh;
                if (ih < 0 || ih >= g.H) continue;
                for (int kw = 0; kw < g.K; kw++)
                {
                    int iw = ow * g.Stride - g.Pad + kw;
                    if (iw < 0 || iw >= g.W) continue;
                    sum += w[((co * g.Cin + ci) * g.K + kh) * g.K + kw] * x[((n * g.Cin + ci) * g.H + ih) * g.W + iw];
                }
            }
        y[e] = sum;
    }

    /// <summary>
    /// One thread per dx[n, ci, ih, iw] = sum over co, kh, kw with ih = oh S - P + kh (and likewise for w)
    /// of dy[n, co, oh, ow] w[co, ci, kh, kw].
    /// </summary>
    public static void BackwardInputNaive(Index1D i, ConvGeometry g, ArrayView<float> dy, ArrayView<float> w, ArrayView<float> dx)
    {
        int e = ElementIndex.Of(i);
        int iw = e % g.W, rest = e / g.W;
        int ih = rest % g.H; rest /= g.H;
        int ci = rest % g.Cin, n = rest / g.Cin;

        float sum = 0f;
        for (int co = 0; co < g.Cout; co++)
            for (int kh = 0; kh < g.K; kh++)
            {
                int th = ih + g.Pad - kh;
                if (th < 0 || th % g.Stride != 0 || th / g.Stride >= g.OH) continue;
                int oh = th / g.Stride;
                for (int kw = 0; kw < g.K; kw++)
                {
                    int tw = iw + g.Pad - kw;
                    if (tw < 0 || tw % g.Stride != 0 || tw / g.Stride >= g.OW) continue;
                    int ow = tw / g.Stride;
                    sum += dy[((n * g.Cout + co) * g.OH + oh) * g.OW + ow] * w[((co * g.Cin + ci) * g.K + kh) * g.K + kw];
                }
            }
        dx[e] = sum;
    }

    /// <summary>One thread per dw[co, ci, kh, kw] = sum over n, oh, ow of dy[n, co, oh, ow] x[n, ci, oh S - P + kh, ow S - P + kw].</summary>
    public static void BackwardWeightNaive(Index1D i, ConvGeometry g, ArrayView<float> x, ArrayView<float> dy, ArrayView<float> dw)
    {
        int e = ElementIndex.Of(i);
        int kw = e % g.K, rest = e / g.K;
        int kh = rest % g.K; rest /= g.K;
        int ci = rest % g.Cin, co = rest / g.Cin;

        float sum = 0f;
        for (int n = 0; n < g.N; n++)
            for (int oh = 0; oh < g.OH; oh++)
            {
                int ih = oh * g.Stride - g.Pad + kh;
                if (ih < 0 || ih >= g.H) continue;
                for (int ow = 0; ow < g.OW; ow++)
                {
                    int iw = ow * g.Stride - g.Pad + kw;
                    if (iw < 0 || iw >= g.W) continue;
                    sum += dy[((n * g.Cout + co) * g.OH + oh) * g.OW + ow] * x[((n * g.Cin + ci) * g.H + ih) * g.W + iw];
                }
            }
        dw[e] = sum;
    }

    // ---- tiled implicit GEMM versions: launch ImplicitGemm.Tiled with these operands ------------

    /// <summary>
    /// Forward as C = A B: M = Cout, N = batch OH OW (output pixels), K = Cin K K;
    /// A[co, (ci, kh, kw)] = w (already that matrix in memory), B[(ci, kh, kw), (n, oh, ow)] = im2col(x),
    /// C[co, (n, oh, ow)] -> y[n, co, oh, ow].
    /// </summary>
    public readonly struct ForwardGemm : IGemmOperands<OutputPixel>
    {
        private readonly ConvGeometry g;
        private readonly ArrayView<float> x, w, y;

        public ForwardGemm(ConvGeometry geometry, ArrayView<float> x, ArrayView<float> w, ArrayView<float> y)
        {
            g = geometry;
            this.x = x;
            this.w = w;
            this.y = y;
        }

        public int M => g.Cout;
        public int N => g.N * g.OH * g.OW;
        public int K => g.Cin * g.K * g.K;
        public bool BContiguousAlongK => false;

        public float A(int co, int k) => w[co * K + k];

        public OutputPixel Column(int pixel) => OutputPixel.Of(g, pixel);

        public float B(int k, OutputPixel p) => g.Input(x, p, k);

        public void Store(int co, int pixel, int split, float value)
        {
            int ohw = g.OH * g.OW;
            int n = pixel / ohw;
            y[(n * g.Cout + co) * ohw + (pixel - n * ohw)] = value;
        }
    }

    /// <summary>
    /// Input gradient as C = A B: M = Cin, N = batch H W (input pixels), K = Cout K K;
    /// A[ci, (co, kh, kw)] = w[co, ci, kh, kw], B[(co, kh, kw), (n, ih, iw)] = dy[n, co, oh, ow] where
    /// ih = oh S - P + kh and iw = ow S - P + kw have a solution inside dy, else 0; C[ci, (n, ih, iw)] -> dx.
    /// (With stride 2 three quarters of B are zeros that are multiplied anyway.)
    /// </summary>
    public readonly struct BackwardInputGemm : IGemmOperands<InputPixel>
    {
        private readonly ConvGeometry g;
        private readonly ArrayView<float> dy, w, dx;

        public BackwardInputGemm(ConvGeometry geometry, ArrayView<float> dy, ArrayView<float> w, ArrayView<float> dx)
        {
            g = geometry;
            this.dy = dy;
            this.w = w;
            this.dx = dx;
        }

        public int M => g.Cin;
        public int N => g.N * g.H * g.W;
        public int K => g.Cout * g.K * g.K;
        public bool BContiguousAlongK => false;

        public float A(int ci, int k)
        {
            int kk = g.K * g.K;
            int co = k / kk;
            return w[(co * g.Cin + ci) * kk + (k - co * kk)];
        }

        public InputPixel Column(int pixel)
        {
            int hw = g.H * g.W;
            int n = pixel / hw, rest = pixel - n * hw;
            int ih = rest / g.W;
            return new InputPixel(n, ih, rest - ih * g.W);
        }

        public float B(int k, InputPixel p)
        {
            int kk = g.K * g.K;
            int co = k / kk, r = k - co * kk;
            int kh = r / g.K, kw = r - kh * g.K;
            int n = p.N;

            int th = p.IH + g.Pad - kh, tw = p.IW + g.Pad - kw;
            if (th < 0 || tw < 0)
                return 0f;
            int oh = th / g.Stride, ow = tw / g.Stride;
            if (oh * g.Stride != th || ow * g.Stride != tw || oh >= g.OH || ow >= g.OW)
                return 0f;
            return dy[((n * g.Cout + co) * g.OH + oh) * g.OW + ow];
        }

        public void Store(int ci, int pixel, int split, float value)
        {
            int hw = g.H * g.W;
            int n = pixel / hw;
            dx[(n * g.Cin + ci) * hw + (pixel - n * hw)] = value;
        }
    }

    /// <summary>
    /// Input gradient of a strided convolution, one stride phase at a time and without the structural zeros of
    /// <see cref="BackwardInputGemm"/>. Phase (qh, qw), 0 &lt;= qh, qw &lt; S, holds the input pixels with (ih + P) mod S = qh and
    /// (iw + P) mod S = qw: ih = ih0 + S a with ih0 = (qh - P) mod S, a &lt; PH (likewise iw = iw0 + S b, b &lt; PW). Only the taps
    /// kh = qh + S th (th &lt; TH) and kw = qw + S tw (tw &lt; TW) reach them, each from the one output row oh = (ih + P - qh) / S - th
    /// (exact division), and likewise for columns. As C = A B: M = Cin, N = batch PH PW, K = Cout TH TW;
    /// A[ci, (co, th, tw)] = w[co, ci, qh + S th, qw + S tw], B[(co, th, tw), (n, a, b)] = dy[n, co, oh, ow] (0 outside dy),
    /// C[ci, (n, a, b)] -> dx[n, ci, ih, iw]. The S^2 phases write every element of dx once; a phase with no taps (three of the
    /// four of a 1x1 stride-2 conv) is a product with K = 0 and writes zeros. For a 3x3 stride-2 conv the phases have 4, 2, 2
    /// and 1 taps: 9 multiply-adds per input pixel and output channel where the dense form does 36, three quarters of them by zero.
    /// </summary>
    public readonly struct BackwardInputPhaseGemm : IGemmOperands<InputPixel>
    {
        private readonly ConvGeometry g;
        private readonly ArrayView<float> dy, w, dx;
        private readonly int qh, qw, ih0, iw0, ph, pw, th, tw;

        public BackwardInputPhaseGemm(ConvGeometry geometry, int phaseH, int phaseW, ArrayView<float> dy, ArrayView<float> w, ArrayView<float> dx)
        {
            g = geometry;
            this.dy = dy;
            this.w = w;
            this.dx = dx;
            qh = phaseH;
            qw = phaseW;
            int s = geometry.Stride;
            ih0 = ((phaseH - geometry.Pad) % s + s) % s;
            iw0 = ((phaseW - geometry.Pad) % s + s) % s;
            ph = ih0 < geometry.H ? (geometry.H - ih0 + s - 1) / s : 0;
            pw = iw0 < geometry.W ? (geometry.W - iw0 + s - 1) / s : 0;
            th = phaseH < geometry.K ? (geometry.K - phaseH + s - 1) / s : 0;
            tw = phaseW < geometry.K ? (geometry.K - phaseW + s - 1) / s : 0;
        }

        public int M => g.Cin;
        public int N => g.N * ph * pw;
        public int K => g.Cout * th * tw;
        public bool BContiguousAlongK => false;

        public float A(int ci, int k)
        {
            int taps = th * tw;
            int co = k / taps, r = k - co * taps;
            int t1 = r / tw, t2 = r - t1 * tw;
            int kh = qh + g.Stride * t1, kw = qw + g.Stride * t2;
            return w[((co * g.Cin + ci) * g.K + kh) * g.K + kw];
        }

        public InputPixel Column(int pixel)
        {
            int phw = ph * pw;
            int n = pixel / phw, rest = pixel - n * phw;
            int a = rest / pw;
            return new InputPixel(n, ih0 + g.Stride * a, iw0 + g.Stride * (rest - a * pw));
        }

        public float B(int k, InputPixel p)
        {
            int taps = th * tw;
            int co = k / taps, r = k - co * taps;
            int t1 = r / tw, t2 = r - t1 * tw;
            int oh = (p.IH + g.Pad - qh) / g.Stride - t1;
            int ow = (p.IW + g.Pad - qw) / g.Stride - t2;
            if (oh < 0 || oh >= g.OH || ow < 0 || ow >= g.OW)
                return 0f;
            return dy[((p.N * g.Cout + co) * g.OH + oh) * g.OW + ow];
        }

        public void Store(int ci, int pixel, int split, float value)
        {
            var p = Column(pixel);
            dx[((p.N * g.Cin + ci) * g.H + p.IH) * g.W + p.IW] = value;
        }
    }

    /// <summary>
    /// Weight gradient as C = A B, reducing over the output pixels: M = Cout, N = Cin K K, K = batch OH OW;
    /// A[co, (n, oh, ow)] = dy[n, co, oh, ow], B[(n, oh, ow), (ci, kh, kw)] = im2col(x) transposed,
    /// C[co, (ci, kh, kw)] -> target[split, co, ci, kh, kw]: dw itself with one split, else the partial sums
    /// that <see cref="SumSplits"/> adds up (K is long: 2500 x 32 x 32 for the first layers, so it is split
    /// across groups to fill the GPU).
    /// </summary>
    public readonly struct BackwardWeightGemm : IGemmOperands<KernelTap>
    {
        private readonly ConvGeometry g;
        private readonly ArrayView<float> x, dy, target;

        public BackwardWeightGemm(ConvGeometry geometry, ArrayView<float> x, ArrayView<float> dy, ArrayView<float> target)
        {
            g = geometry;
            this.x = x;
            this.dy = dy;
            this.target = target;
        }

        public int M => g.Cout;
        public int N => g.Cin * g.K * g.K;
        public int K => g.N * g.OH * g.OW;
        public bool BContiguousAlongK => true;

        public float A(int co, int pixel)
        {
            int ohw = g.OH * g.OW;
            int n = pixel / ohw;
            return dy[(n * g.Cout + co) * ohw + (pixel - n * ohw)];
        }

        public KernelTap Column(int col) => KernelTap.Of(g, col);

        public float B(int pixel, KernelTap tap) => g.Input(x, OutputPixel.Of(g, pixel), tap);

        public void Store(int co, int col, int split, float value) => target[(split * g.Cout + co) * N + col] = value;
    }

    /// <summary>dw[i] = sum over s of partials[s, i]; one thread per weight.</summary>
    public static void SumSplits(Index1D i, ArrayView<float> partials, int splits, int length, ArrayView<float> dw)
    {
        float sum = 0f;
        for (int s = 0; s < splits; s++)
            sum += partials[s * length + i];
        dw[i] = sum;
    }
}

/// <summary>The shape of one convolution as a kernel argument (the kernel-side twin of ConvShape).</summary>
public readonly struct ConvGeometry
{
    public ConvGeometry(int n, int cin, int h, int w, int cout, int k, int stride, int pad)
    {
        N = n; Cin = cin; H = h; W = w; Cout = cout; K = k; Stride = stride; Pad = pad;
        OH = (h + 2 * pad - k) / stride + 1;
        OW = (w + 2 * pad - k) / stride + 1;
    }

    public int N { get; }
    public int Cin { get; }
    public int H { get; }
    public int W { get; }
    public int Cout { get; }
    public int K { get; }
    public int Stride { get; }
    public int Pad { get; }
    public int OH { get; }
    public int OW { get; }

    /// <summary>The im2col element x[n, ci, oh S - P + kh, ow S - P + kw] for the column index (ci, kh, kw), zero outside x.</summary>
    public float Input(ArrayView<float> x, OutputPixel p, int column) => Input(x, p, KernelTap.Of(this, column));

    /// <summary>The im2col element x[n, ci, oh S - P + kh, ow S - P + kw], zero outside x.</summary>
    public float Input(ArrayView<float> x, OutputPixel p, KernelTap tap)
    {
        int ih = p.OH * Stride - Pad + tap.KH, iw = p.OW * Stride - Pad + tap.KW;
        if (ih < 0 || ih >= H || iw < 0 || iw >= W)
            return 0f;
        return x[((p.N * Cin + tap.CI) * H + ih) * W + iw];
    }
}

/// <summary>Output pixel (n, oh, ow), decoded from its flat index n OH OW + oh OW + ow.</summary>
public readonly struct OutputPixel
{
    public OutputPixel(int n, int oh, int ow)
    {
        N = n;
        OH = oh;
        OW = ow;
    }

    public int N { get; }
    public int OH { get; }
    public int OW { get; }

    public static OutputPixel Of(ConvGeometry g, int pixel)
    {
        int ohw = g.OH * g.OW;
        int n = pixel / ohw, rest = pixel - n * ohw;
        int oh = rest / g.OW;
        return new OutputPixel(n, oh, rest - oh * g.OW);
    }
}

/// <summary>Input pixel (n, ih, iw).</summary>
public readonly struct InputPixel
{
    public InputPixel(int n, int ih, int iw)
    {
        N = n;
        IH = ih;
        IW = iw;
    }

    public int N { get; }
    public int IH { get; }
    public int IW { get; }
}

/// <summary>One tap (ci, kh, kw) of the kernel, decoded from its flat index (ci K + kh) K + kw.</summary>
public readonly struct KernelTap
{
    public KernelTap(int ci, int kh, int kw)
    {
        CI = ci;
        KH = kh;
        KW = kw;
    }

    public int CI { get; }
    public int KH { get; }
    public int KW { get; }

    public static KernelTap Of(ConvGeometry g, int column)
    {
        int kk = g.K * g.K;
        int ci = column / kk, r = column - ci * kk;
        int kh = r / g.K;
        return new KernelTap(ci, kh, r - kh * g.K);
    }
}
