using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Model;

/// <summary>A bias-free convolution: its weight (Cout, Cin, K, K) lives at <see cref="Weight"/> in the flat parameter buffer.</summary>
internal sealed class Conv2dLayer(TensorSpec weight, int cin, int cout, int k, int stride, int pad)
{
    public TensorSpec Weight { get; } = weight;

    /// <summary>The convolution of a batch of n images of h x w.</summary>
    public ConvShape Shape(int n, int h, int w) => new(n, cin, h, w, cout, k, stride, pad);
}

/// <summary>
/// A BatchNorm2d: weight and bias in the flat parameter buffer, running statistics in the flat statistics buffer, and the
/// batch mean and 1/sqrt(var + eps) of the last training-mode forward, which the backward pass reads.
/// </summary>
internal sealed class BatchNormLayer(TensorSpec gamma, TensorSpec beta, TensorSpec runningMean, TensorSpec runningVar,
    int channels, Slice<float> saveMean, Slice<float> saveInvStd)
{
    public const float Eps = 1e-5f;
    public const float Momentum = 0.1f;

    public TensorSpec Gamma { get; } = gamma;
    public TensorSpec Beta { get; } = beta;
    public TensorSpec RunningMean { get; } = runningMean;
    public TensorSpec RunningVar { get; } = runningVar;
    public int Channels { get; } = channels;
    public Slice<float> SaveMean { get; } = saveMean;
    public Slice<float> SaveInvStd { get; } = saveInvStd;
}
