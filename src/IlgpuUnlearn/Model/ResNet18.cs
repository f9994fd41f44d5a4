using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Model;

/// <summary>
/// torchvision's ResNet18 with the CIFAR stem (3x3 conv, no max-pool), written once against <see cref="IOps"/>.
///
/// Parameters live in one flat buffer (<see cref="Parameters"/>, state-dict order, see <see cref="ResNet18Layout"/>);
/// gradients are written into any flat buffer of the same length passed to <see cref="Backward"/>, so the unlearning step
/// can keep the forget and the retain gradients apart. Activations live in an arena sized once for <see cref="MaxBatch"/>.
///
/// A training-mode <see cref="Forward"/> saves what <see cref="Backward"/> reads: each conv's output (the BatchNorm input),
/// each ReLU's output (its mask, and the next conv's input), the BatchNorm batch statistics.
/// </summary>
public sealed class ResNet18 : IDisposable
{
    readonly IOps ops;
    readonly ActivationArena arena;
    readonly Conv2dLayer stemConv;
    readonly BatchNormLayer stemBn;
    readonly BasicBlock[] blocks;
    readonly TensorSpec fcWeight, fcBias;
    readonly Slice<float> stemConvOut, stemOut, pooled, dPooled;
    /// <summary>Four gradient regions of the largest activation size, rotated through the backward pass.</summary>
    readonly Slice<float>[] scratch;
    readonly int finalSize;

    public ResNet18(IOps ops, ResNet18Config config, int maxBatch)
    {
        if (maxBatch < 1) throw new ArgumentOutOfRangeException(nameof(maxBatch), "the batch size must be at least 1");
        this.ops = ops;
        Layout = new ResNet18Layout(config);
        MaxBatch = maxBatch;
        int w = config.Width, s = config.ImageSize, channels = config.InputChannels;
        long perImageMax = (long)w * s * s;
        if (perImageMax * maxBatch > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(maxBatch),
                $"batch size {maxBatch} makes one activation of {perImageMax * maxBatch:N0} values, more than one buffer holds (2^31); lower --batch-size");

        Parameters = ops.Allocate<float>(Layout.ParameterCount);
        RunningStats = ops.Allocate<float>(Layout.RunningStatCount);
        BatchesTracked = new long[Layout.BatchNormCount];
        arena = new ActivationArena(ops);

        Input = arena.Take((long)maxBatch * channels * s * s);
        stemConv = Conv("conv1", channels, w, 3, 1, 1);
        stemBn = BatchNorm("bn1", w);
        stemConvOut = arena.Take(maxBatch * perImageMax);
        stemOut = arena.Take(maxBatch * perImageMax);

        var list = new List<BasicBlock>();
        int cin = w, size = s;
        for (int layer = 1; layer <= 4; layer++)
        {
            int cout = w << (layer - 1);
            for (int block = 0; block < 2; block++)
            {
                string p = $"layer{layer}.{block}";
                int stride = ResNet18Layout.HasDownsample(layer, block) ? 2 : 1;
                int blockIn = block == 0 ? cin : cout;
                int outSize = ResNet18Config.StageSize(size, stride);
                long outLength = (long)maxBatch * cout * outSize * outSize;
                list.Add(new BasicBlock(
                    Conv(p + ".conv1", blockIn, cout, 3, stride, 1), BatchNorm(p + ".bn1", cout),
                    Conv(p + ".conv2", cout, cout, 3, 1, 1), BatchNorm(p + ".bn2", cout),
                    stride == 2 ? Conv(p + ".downsample.0", blockIn, cout, 1, 2, 0) : null,
                    stride == 2 ? BatchNorm(p + ".downsample.1", cout) : null,
                    size, outSize, cout,
                    conv1Out: arena.Take(outLength), relu1Out: arena.Take(outLength), conv2Out: arena.Take(outLength),
                    output: arena.Take(outLength), downsampleConvOut: stride == 2 ? arena.Take(outLength) : null));
                size = outSize;
            }
            cin = cout;
        }
        blocks = [.. list];
        finalSize = size;
        fcWeight = Layout["fc.weight"];
        fcBias = Layout["fc.bias"];
        pooled = arena.Take((long)maxBatch * 8 * w);
        dPooled = arena.Take((long)maxBatch * 8 * w);
        Logits = arena.Take((long)maxBatch * config.Classes);
        DLogits = arena.Take((long)maxBatch * config.Classes);
        scratch = [arena.Take(maxBatch * perImageMax), arena.Take(maxBatch * perImageMax),
                   arena.Take(maxBatch * perImageMax), arena.Take(maxBatch * perImageMax)];

        Conv2dLayer Conv(string name, int ci, int co, int k, int stride, int pad) =>
            new(Layout[name + ".weight"], ci, co, k, stride, pad);
        BatchNormLayer BatchNorm(string name, int c) =>
            new(Layout[name + ".weight"], Layout[name + ".bias"], Layout[name + ".running_mean"], Layout[name + ".running_var"],
                c, arena.Take(c), arena.Take(c));
    }

    public ResNet18Layout Layout { get; }
    /// <summary>The device the model lives on.</summary>
    public IOps Ops => ops;
    public ResNet18Config Config => Layout.Config;
    public int MaxBatch { get; }

    /// <summary>Trainable parameters, flat, in state-dict order (<see cref="ResNet18Layout.ParameterCount"/> values).</summary>
    public DeviceBuffer<float> Parameters { get; }
    /// <summary>BatchNorm running means and variances, flat, in state-dict order.</summary>
    public DeviceBuffer<float> RunningStats { get; }
    /// <summary>num_batches_tracked of each BatchNorm, in state-dict order; counted on the host.</summary>
    public long[] BatchesTracked { get; }

    /// <summary>The normalised input batch (N, C, S, S), C = <see cref="ResNet18Config.InputChannels"/>; fill it with <see cref="IOps.LoadImages"/> before <see cref="Forward"/>.</summary>
    public Slice<float> Input { get; }
    /// <summary>(N, classes) after <see cref="Forward"/>.</summary>
    public Slice<float> Logits { get; }
    /// <summary>(N, classes): the loss gradient that <see cref="Backward"/> starts from (written by <see cref="IOps.SoftmaxNllLoss"/>).</summary>
    public Slice<float> DLogits { get; }

    /// <summary>Device bytes of the activation arena.</summary>
    public long ArenaBytes => arena.Bytes;

    public Slice<float> ParameterView(TensorSpec spec) => Parameters.All.At(spec.Offset, spec.Length);
    public Slice<float> RunningStatView(TensorSpec spec) => RunningStats.All.At(spec.Offset, spec.Length);

    /// <summary>
    /// Logits (n, classes) of the first n images of <see cref="Input"/>. In training mode BatchNorm uses the batch statistics,
    /// updates the running statistics and saves what <see cref="Backward"/> needs; otherwise it uses the running statistics.
    /// </summary>
    public void Forward(int n, bool training)
    {
        CheckBatch(n);
        int s = Config.ImageSize, w = Config.Width;
        var x = Input.At(0, (long)n * Config.InputChannels * s * s);
        long stemLength = (long)n * w * s * s;
        var c1 = stemConvOut.At(0, stemLength);
        var a1 = stemOut.At(0, stemLength);
        ops.Conv2dForward(stemConv.Shape(n, s, s), x, P(stemConv.Weight), c1);
        BatchNormForward(stemBn, new BatchNormShape(n, w, s * s), c1, a1, training);
        ops.ReluForward(a1, a1);

        var a = a1;
        foreach (var block in blocks) a = block.Forward(this, n, a, training);

        int features = 8 * w;
        var pool = pooled.At(0, (long)n * features);
        ops.GlobalAvgPoolForward(n, features, finalSize * finalSize, a, pool);
        ops.LinearForward(new LinearShape(n, features, Config.Classes), pool, P(fcWeight), P(fcBias), LogitsOf(n));
        if (training)
            for (int i = 0; i < BatchesTracked.Length; i++) BatchesTracked[i]++;
    }

    /// <summary>
    /// Gradients of the loss whose logit gradient is in <see cref="DLogits"/> (first n rows), for the last training-mode
    /// <see cref="Forward"/> of n images, written into <paramref name="gradients"/> (laid out like <see cref="Parameters"/>).
    /// </summary>
    public void Backward(int n, Slice<float> gradients)
    {
        CheckBatch(n);
        if (gradients.Length != Layout.ParameterCount)
            throw new ArgumentException($"the gradient buffer holds {gradients.Length} values, the model has {Layout.ParameterCount}");
        int w = Config.Width, s = Config.ImageSize, features = 8 * w;
        var fcShape = new LinearShape(n, features, Config.Classes);
        var dPool = dPooled.At(0, (long)n * features);
        ops.LinearBackward(fcShape, pooled.At(0, (long)n * features), P(fcWeight), DLogitsOf(n), dPool,
            G(gradients, fcWeight), G(gradients, fcBias));

        int hw = finalSize * finalSize;
        int dOut = 0;
        ops.GlobalAvgPoolBackward(n, features, hw, dPool, scratch[dOut].At(0, (long)n * features * hw));
        for (int b = blocks.Length - 1; b >= 0; b--)
        {
            var input = b == 0 ? stemOut : blocks[b - 1].Output;
            dOut = blocks[b].Backward(this, n, input, dOut, gradients);
        }

        long stemLength = (long)n * w * s * s;
        var a1 = stemOut.At(0, stemLength);
        var dA1 = scratch[dOut].At(0, stemLength);
        var dC1 = scratch[(dOut + 1) % 4].At(0, stemLength);
        ops.ReluBackward(a1, dA1, dA1);
        BatchNormBackward(stemBn, new BatchNormShape(n, w, s * s), stemConvOut.At(0, stemLength), dA1, dC1, gradients);
        ops.Conv2dBackwardWeight(stemConv.Shape(n, s, s), Input.At(0, (long)n * Config.InputChannels * s * s), dC1, G(gradients, stemConv.Weight));
    }

    public Slice<float> LogitsOf(int n) => Logits.At(0, (long)n * Config.Classes);
    public Slice<float> DLogitsOf(int n) => DLogits.At(0, (long)n * Config.Classes);

    void CheckBatch(int n)
    {
        if (n < 1 || n > MaxBatch) throw new ArgumentOutOfRangeException(nameof(n), $"batch of {n} images; this model was sized for 1..{MaxBatch}");
    }

    Slice<float> P(TensorSpec spec) => ParameterView(spec);
    static Slice<float> G(Slice<float> gradients, TensorSpec spec) => gradients.At(spec.Offset, spec.Length);

    void BatchNormForward(BatchNormLayer bn, BatchNormShape shape, Slice<float> x, Slice<float> y, bool training)
    {
        if (training)
            ops.BatchNormTrainForward(shape, x, P(bn.Gamma), P(bn.Beta), RunningStatView(bn.RunningMean), RunningStatView(bn.RunningVar),
                BatchNormLayer.Momentum, BatchNormLayer.Eps, y, bn.SaveMean, bn.SaveInvStd);
        else
            ops.BatchNormEvalForward(shape, x, P(bn.Gamma), P(bn.Beta), RunningStatView(bn.RunningMean), RunningStatView(bn.RunningVar),
                BatchNormLayer.Eps, y);
    }

    void BatchNormBackward(BatchNormLayer bn, BatchNormShape shape, Slice<float> x, Slice<float> dy, Slice<float> dx, Slice<float> gradients) =>
        ops.BatchNormBackward(shape, x, dy, P(bn.Gamma), bn.SaveMean, bn.SaveInvStd, dx, G(gradients, bn.Gamma), G(gradients, bn.Beta));

    public void Dispose()
    {
        arena.Dispose();
        Parameters.Dispose();
        RunningStats.Dispose();
    }

    /// <summary>
    /// conv3x3(stride) -> bn -> ReLU -> conv3x3 -> bn -> + shortcut -> ReLU, the shortcut being the input itself or,
    /// where the block changes resolution, a 1x1 stride-2 conv + bn.
    /// </summary>
    sealed class BasicBlock(Conv2dLayer conv1, BatchNormLayer bn1, Conv2dLayer conv2, BatchNormLayer bn2,
        Conv2dLayer? downsampleConv, BatchNormLayer? downsampleBn, int inSize, int outSize, int channels,
        Slice<float> conv1Out, Slice<float> relu1Out, Slice<float> conv2Out, Slice<float> output, Slice<float>? downsampleConvOut)
    {
        /// <summary>The block's output activation (N, C, outSize, outSize), the next block's input.</summary>
        public Slice<float> Output { get; } = output;

        /// <summary>Forward of n images of <paramref name="x"/>; returns the output.</summary>
        public Slice<float> Forward(ResNet18 m, int n, Slice<float> x, bool training)
        {
            var ops = m.ops;
            long length = (long)n * channels * outSize * outSize;
            var bnShape = new BatchNormShape(n, channels, outSize * outSize);
            var c1 = conv1Out.At(0, length);
            var r1 = relu1Out.At(0, length);
            var c2 = conv2Out.At(0, length);
            var y = Output.At(0, length);

            ops.Conv2dForward(conv1.Shape(n, inSize, inSize), x, m.P(conv1.Weight), c1);
            m.BatchNormForward(bn1, bnShape, c1, r1, training);
            ops.ReluForward(r1, r1);
            ops.Conv2dForward(conv2.Shape(n, outSize, outSize), r1, m.P(conv2.Weight), c2);
            m.BatchNormForward(bn2, bnShape, c2, y, training);
            if (downsampleConv is not null)
            {
                var cd = downsampleConvOut!.Value.At(0, length);
                var shortcut = m.scratch[0].At(0, length); // free during the forward pass
                ops.Conv2dForward(downsampleConv.Shape(n, inSize, inSize), x, m.P(downsampleConv.Weight), cd);
                m.BatchNormForward(downsampleBn!, bnShape, cd, shortcut, training);
                ops.Add(y, shortcut, y);
            }
            else
            {
                ops.Add(y, x, y);
            }
            ops.ReluForward(y, y);
            return y;
        }

        /// <summary>
        /// Backward of the last training forward. The output gradient is in scratch[dOut]; writes this block's parameter
        /// gradients and returns the scratch index that holds the gradient with respect to the block input <paramref name="x"/>.
        /// </summary>
        public int Backward(ResNet18 m, int n, Slice<float> xFull, int dOut, Slice<float> gradients)
        {
            var ops = m.ops;
            long length = (long)n * channels * outSize * outSize;
            long inLength = conv1.Shape(n, inSize, inSize).InputLength;
            var bnShape = new BatchNormShape(n, channels, outSize * outSize);
            var x = xFull.At(0, inLength);
            var dY = m.scratch[dOut].At(0, length);
            var t1 = m.scratch[(dOut + 1) % 4].At(0, length);
            var t2 = m.scratch[(dOut + 2) % 4].At(0, length);
            int dxIndex = (dOut + 3) % 4;
            var dX = m.scratch[dxIndex].At(0, inLength);

            // out = relu(bn2(conv2(r1)) + shortcut): dY becomes the gradient at the sum, shared by both branches.
            ops.ReluBackward(Output.At(0, length), dY, dY);

            // Main branch: bn2 <- conv2 <- relu <- bn1 <- conv1.
            m.BatchNormBackward(bn2, bnShape, conv2Out.At(0, length), dY, t1, gradients);
            var r1 = relu1Out.At(0, length);
            ops.Conv2dBackwardWeight(conv2.Shape(n, outSize, outSize), r1, t1, G(gradients, conv2.Weight));
            ops.Conv2dBackwardInput(conv2.Shape(n, outSize, outSize), t1, m.P(conv2.Weight), t2);
            ops.ReluBackward(r1, t2, t2);
            m.BatchNormBackward(bn1, bnShape, conv1Out.At(0, length), t2, t1, gradients);
            ops.Conv2dBackwardWeight(conv1.Shape(n, inSize, inSize), x, t1, G(gradients, conv1.Weight));
            ops.Conv2dBackwardInput(conv1.Shape(n, inSize, inSize), t1, m.P(conv1.Weight), dX);

            // Shortcut branch, added into dX.
            if (downsampleConv is not null)
            {
                m.BatchNormBackward(downsampleBn!, bnShape, downsampleConvOut!.Value.At(0, length), dY, t1, gradients);
                ops.Conv2dBackwardWeight(downsampleConv.Shape(n, inSize, inSize), x, t1, G(gradients, downsampleConv.Weight));
                var dShortcut = m.scratch[(dOut + 2) % 4].At(0, inLength);
                ops.Conv2dBackwardInput(downsampleConv.Shape(n, inSize, inSize), t1, m.P(downsampleConv.Weight), dShortcut);
                ops.Add(dX, dShortcut, dX);
            }
            else
            {
                ops.Add(dX, dY, dX);
            }
            return dxIndex;
        }
    }
}
