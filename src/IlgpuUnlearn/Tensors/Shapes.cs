namespace IlgpuUnlearn.Tensors;

/// <summary>
/// A 2-D convolution without bias, NCHW: x is (N, Cin, H, W), w is (Cout, Cin, K, K), y is (N, Cout, OutH, OutW),
/// OutH = (H + 2 Pad - K) / Stride + 1. The same layout and arithmetic as torch.nn.Conv2d.
/// </summary>
public readonly record struct ConvShape(int N, int Cin, int H, int W, int Cout, int K, int Stride, int Pad)
{
    public int OutH => (H + 2 * Pad - K) / Stride + 1;
    public int OutW => (W + 2 * Pad - K) / Stride + 1;
    public long InputLength => (long)N * Cin * H * W;
    public long WeightLength => (long)Cout * Cin * K * K;
    public long OutputLength => (long)N * Cout * OutH * OutW;
    /// <summary>Multiply-adds of the forward pass.</summary>
    public long Macs => OutputLength * Cin * K * K;
}

/// <summary>BatchNorm2d over x of shape (N, C, HW): statistics per channel over N * HW values.</summary>
public readonly record struct BatchNormShape(int N, int C, int HW)
{
    public long Length => (long)N * C * HW;
}

/// <summary>A fully connected layer: x is (N, In), w is (Out, In) as torch.nn.Linear stores it, b is (Out), y is (N, Out).</summary>
public readonly record struct LinearShape(int N, int In, int Out);
