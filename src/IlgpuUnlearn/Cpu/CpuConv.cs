using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Cpu;

/// <summary>2-D convolution without bias, NCHW, forward and both backward passes.</summary>
internal sealed unsafe class CpuConv : IDisposable
{
    /// <summary>y (N, Cout, OH, OW) = conv2d(x (N, Cin, H, W), w (Cout, Cin, K, K)).</summary>
    public void Forward(ConvShape s, Slice<float> xs, Slice<float> ws, Slice<float> ys)
    {
        float* x = CpuOps.Pointer(xs), w = CpuOps.Pointer(ws), y = CpuOps.Pointer(ys);
        int oh = s.OutH, ow = s.OutW;
        CpuParallel.For(s.N * s.Cout, item =>
        {
            int n = item / s.Cout, co = item % s.Cout;
            float* yPlane = y + (long)item * oh * ow;
            new Span<float>(yPlane, oh * ow).Clear();
            for (int ci = 0; ci < s.Cin; ci++)
            {
                float* xPlane = x + ((long)n * s.Cin + ci) * s.H * s.W;
                for (int kh = 0; kh < s.K; kh++)
                    for (int kw = 0; kw < s.K; kw++)
                    {
                        float wv = w[(((long)co * s.Cin + ci) * s.K + kh) * s.K + kw];
                        for (int i = 0; i < oh; i++)
                        {
                            int ih = i * s.Stride - s.Pad + kh;
                            if ((uint)ih >= (uint)s.H) continue;
                            for (int j = 0; j < ow; j++)
                            {
                                int iw = j * s.Stride - s.Pad + kw;
                                if ((uint)iw < (uint)s.W) yPlane[i * ow + j] += wv * xPlane[ih * s.W + iw];
                            }
                        }
                    }
            }
        });
    }

    /// <summary>dx (N, Cin, H, W): dx[n,ci,ih,iw] = sum of dy[n,co,oh,ow] w[co,ci,kh,kw] over ih = oh s - p + kh, iw = ow s - p + kw.</summary>
    public void BackwardInput(ConvShape s, Slice<float> dys, Slice<float> ws, Slice<float> dxs)
    {
        float* dy = CpuOps.Pointer(dys), w = CpuOps.Pointer(ws), dx = CpuOps.Pointer(dxs);
        int oh = s.OutH, ow = s.OutW;
        CpuParallel.For(s.N * s.Cin, item =>
        {
            int n = item / s.Cin, ci = item % s.Cin;
            float* dxPlane = dx + (long)item * s.H * s.W;
            new Span<float>(dxPlane, s.H * s.W).Clear();
            for (int co = 0; co < s.Cout; co++)
            {
                float* dyPlane = dy + ((long)n * s.Cout + co) * oh * ow;
                for (int kh = 0; kh < s.K; kh++)
                    for (int kw = 0; kw < s.K; kw++)
                    {
                        float wv = w[(((long)co * s.Cin + ci) * s.K + kh) * s.K + kw];
                        for (int i = 0; i < oh; i++)
                        {
                            int ih = i * s.Stride - s.Pad + kh;
                            if ((uint)ih >= (uint)s.H) continue;
                            for (int j = 0; j < ow; j++)
                            {
                                int iw = j * s.Stride - s.Pad + kw;
                                if ((uint)iw < (uint)s.W) dxPlane[ih * s.W + iw] += wv * dyPlane[i * ow + j];
                            }
                        }
                    }
            }
        });
    }

    /// <summary>dw (Cout, Cin, K, K) = sum over n, oh, ow of dy[n,co,oh,ow] x[n,ci,oh s - p + kh, ow s - p + kw].</summary>
    public void BackwardWeight(ConvShape s, Slice<float> xs, Slice<float> dys, Slice<float> dws)
    {
        float* x = CpuOps.Pointer(xs), dy = CpuOps.Pointer(dys), dw = CpuOps.Pointer(dws);
        int oh = s.OutH, ow = s.OutW;
        CpuParallel.For(s.Cout * s.Cin, item =>
        {
            int co = item / s.Cin, ci = item % s.Cin;
            for (int kh = 0; kh < s.K; kh++)
                for (int kw = 0; kw < s.K; kw++)
                {
                    float sum = 0;
                    for (int n = 0; n < s.N; n++)
                    {
                        float* xPlane = x + ((long)n * s.Cin + ci) * s.H * s.W;
                        float* dyPlane = dy + ((long)n * s.Cout + co) * oh * ow;
                        for (int i = 0; i < oh; i++)
                        {
                            int ih = i * s.Stride - s.Pad + kh;
                            if ((uint)ih >= (uint)s.H) continue;
                            for (int j = 0; j < ow; j++)
                            {
                                int iw = j * s.Stride - s.Pad + kw;
                                if ((uint)iw < (uint)s.W) sum += dyPlane[i * ow + j] * xPlane[ih * s.W + iw];
                            }
                        }
                    }
                    dw[((long)item * s.K + kh) * s.K + kw] = sum;
                }
        });
    }

    public void Dispose() { }
}
