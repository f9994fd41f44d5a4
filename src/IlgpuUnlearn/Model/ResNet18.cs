using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Model;

/// <summary>
/// torchvision's ResNet18 with the CIFAR stem (3x3 conv, no max-pool), written once against <see cref="IOps"/>.
///
/// Parameters live in one flat buffer (<see cref="Parameters"/>, state-dict order, see <see cref="ResNet18Layout"/>);
/// gradients are written into any flat buffer of the same length passed to <see cref="Backward"/>, so the unlearning step
/// can keep the forget and the retain gradients apart. Activations live in an arena sized once for <see cref="MaxBatch"/>.
///
/// What a training-mode <see cref="Forward(int, BatchNormMode, CancellationToken)"/> keeps for <see cref="Backward"/> (one tensor per BatchNorm + ReLU pair):
/// the stem conv's output; per block the two conv outputs (the BatchNorm inputs) and the block output (the ReLU mask of
/// the sum, and the next block's input); the BatchNorm batch statistics. The backward pass recomputes the rest from
/// them with the saved statistics, exactly as the forward computed it (<see cref="IOps.BatchNormApplyRelu"/>): the inner
/// ReLU output of each block, the stem output relu(bn1(conv1(x))), and the 1x1 downsample conv's output (a conv of the
/// saved block input, under 0.5% of the step's FLOPs).
/// Gradients reuse the regions the backward has consumed: a block's dx goes into its own two conv-output regions, and
/// the block before it works in the regions of the block after it (see <see cref="BasicBlock.Backward"/>), so the
/// arena holds only two gradient regions of its own, of the last block's (smallest) output size.
/// At the card's batch of 2500 the arena is 8.23 GB (14.4 GB when every BatchNorm and ReLU output was kept and four
/// stem-sized gradient buffers were rotated).
/// </summary>
public sealed class ResNet18 : IDisposable
{
    readonly IOps ops;
    readonly ActivationArena arena;
    readonly Network net;
    /// <summary>The mode of the last forward, which <see cref="Backward"/> differentiates.</summary>
    BatchNormMode lastForward = BatchNormMode.Evaluation;

    public ResNet18(IOps ops, ResNet18Config config, int maxBatch)
    {
        CheckMaxBatch(config, maxBatch);
        this.ops = ops;
        Layout = new ResNet18Layout(config);
        MaxBatch = maxBatch;
        Parameters = ops.Allocate<float>(Layout.ParameterCount);
        RunningStats = ops.Allocate<float>(Layout.RunningStatCount);
        BatchesTracked = new long[Layout.BatchNormCount];
        arena = new ActivationArena(ops);
        try
        {
            net = new Network(arena, Layout, maxBatch);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>
    /// Bytes of the activation arena of a model of this shape sized for <paramref name="maxBatch"/> images (what
    /// <see cref="ArenaBytes"/> will be), without allocating anything.
    /// </summary>
    public static long PlannedArenaBytes(ResNet18Config config, int maxBatch)
    {
        if (maxBatch < 1) throw new ArgumentOutOfRangeException(nameof(maxBatch), "the batch size must be at least 1");
        var planning = new ActivationArena(null);
        _ = new Network(planning, new ResNet18Layout(config), maxBatch);
        return planning.Bytes;
    }

    /// <summary>The largest batch whose biggest arena region (two stem-sized conv outputs) one buffer can index (2^31 - 1 values).</summary>
    public static int LargestBatch(ResNet18Config config) => (int)(int.MaxValue / (2L * config.Width * config.ImageSize * config.ImageSize));

    static void CheckMaxBatch(ResNet18Config config, int maxBatch)
    {
        if (maxBatch < 1) throw new ArgumentOutOfRangeException(nameof(maxBatch), "the batch size must be at least 1");
        if (maxBatch > LargestBatch(config))
            throw new ArgumentOutOfRangeException(nameof(maxBatch),
                $"batch size {maxBatch} makes one activation region larger than one buffer holds (2^31 values); at most {LargestBatch(config)}: lower --batch-size");
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

    /// <summary>The normalised input batch (N, C, S, S), C = <see cref="ResNet18Config.InputChannels"/>; fill it with <see cref="IOps.LoadImages"/> before <see cref="Forward(int, BatchNormMode, CancellationToken)"/>.</summary>
    public Slice<float> Input => net.Input;
    /// <summary>(N, classes) after <see cref="Forward(int, BatchNormMode, CancellationToken)"/>.</summary>
    public Slice<float> Logits => net.Logits;
    /// <summary>(N, classes): the loss gradient that <see cref="Backward"/> starts from (written by <see cref="IOps.SoftmaxNllLoss"/>).</summary>
    public Slice<float> DLogits => net.DLogits;

    /// <summary>Device bytes of the activation arena.</summary>
    public long ArenaBytes => arena.Bytes;

    public Slice<float> ParameterView(TensorSpec spec) => Parameters.All.At(spec.Offset, spec.Length);
    public Slice<float> RunningStatView(TensorSpec spec) => RunningStats.All.At(spec.Offset, spec.Length);

    /// <summary>
    /// Logits (n, classes) of the first n images of <see cref="Input"/>: <see cref="BatchNormMode.Training"/> when
    /// <paramref name="training"/>, else <see cref="BatchNormMode.Evaluation"/>.
    /// </summary>
    public void Forward(int n, bool training, CancellationToken cancel = default) =>
        Forward(n, training ? BatchNormMode.Training : BatchNormMode.Evaluation, cancel);

    /// <summary>
    /// Logits (n, classes) of the first n images of <see cref="Input"/>, every BatchNorm in <paramref name="mode"/>: in training
    /// mode BatchNorm uses the batch statistics, updates the running statistics and saves what <see cref="Backward"/> needs; in
    /// evaluation mode it uses the running statistics, and with gradients keeps them as the saved statistics for
    /// <see cref="Backward"/>. <paramref name="cancel"/> is checked between blocks (OperationCanceledException; the running
    /// statistics may then be partly updated).
    /// </summary>
    public void Forward(int n, BatchNormMode mode, CancellationToken cancel = default) => Forward(n, mode, null, cancel);

    /// <summary>
    /// The stages whose outputs <see cref="ForwardReadingStages"/> hands out, named as the Unlearning Comparator's CKA hooks
    /// name the torchvision modules (backend/app/utils/evaluation.py): conv1 (the stem conv's output, before bn1), the eight
    /// blocks' outputs (after their final ReLU), fc (the logits).
    /// </summary>
    public static readonly IReadOnlyList<string> StageNames =
        ["conv1", "layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1", "layer4.0", "layer4.1", "fc"];

    /// <summary>Values per image of stage <paramref name="stage"/> (an index into <see cref="StageNames"/>): C x H x W of its output.</summary>
    public long StageFeatureCount(int stage)
    {
        if ((uint)stage >= (uint)StageNames.Count) throw new ArgumentOutOfRangeException(nameof(stage), $"stage {stage} is not one of the {StageNames.Count}");
        if (stage == 0) return net.StemLength(1);
        if (stage == StageNames.Count - 1) return Config.Classes;
        return net.Blocks[stage - 1].OutputLength(1);
    }

    /// <summary>
    /// An evaluation-mode <see cref="Forward"/> of the first n images of <see cref="Input"/> that calls
    /// <paramref name="stage"/>(index into <see cref="StageNames"/>, output (n, <see cref="StageFeatureCount"/>) row per image)
    /// as soon as each stage's output is computed; the slice is overwritten later in the pass, so read it inside the call.
    /// The pass itself is exactly <see cref="Forward"/>'s (same ops, same regions), so logits and <see cref="PooledOf"/>
    /// are as after Forward.
    /// </summary>
    public void ForwardReadingStages(int n, Action<int, Slice<float>> stage, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(stage);
        Forward(n, BatchNormMode.Evaluation, stage, cancel);
    }

    /// <summary>(n, 8 x width): the pooled penultimate features of the last forward, the fc layer's input.</summary>
    public Slice<float> PooledOf(int n)
    {
        CheckBatch(n);
        return net.Pooled.At(0, (long)n * 8 * Config.Width);
    }

    void Forward(int n, BatchNormMode mode, Action<int, Slice<float>>? stages, CancellationToken cancel)
    {
        CheckBatch(n);
        lastForward = mode;
        bool training = mode == BatchNormMode.Training;
        int s = Config.ImageSize, w = Config.Width;
        var x = Input.At(0, (long)n * Config.InputChannels * s * s);
        // The stem output lives in the second block's output region until the first block has read it (it is recomputed
        // for the backward pass).
        var a1 = net.Blocks[1].Output.At(0, net.StemLength(n));
        ops.Conv2dForward(net.StemConv.Shape(n, s, s), x, P(net.StemConv.Weight), net.StemConvOut(n));
        stages?.Invoke(0, net.StemConvOut(n));
        BatchNormReluForward(net.StemBn, new BatchNormShape(n, w, s * s), net.StemConvOut(n), a1, mode, residual: null);

        var a = a1;
        for (int b = 0; b < net.Blocks.Length; b++)
        {
            cancel.ThrowIfCancellationRequested();
            a = net.Blocks[b].Forward(this, n, a, b + 1 < net.Blocks.Length ? net.Blocks[b + 1].Output : null, mode);
            stages?.Invoke(b + 1, a);
        }

        int features = 8 * w;
        var pool = net.Pooled.At(0, (long)n * features);
        ops.GlobalAvgPoolForward(n, features, net.FinalSize * net.FinalSize, a, pool);
        ops.LinearForward(new LinearShape(n, features, Config.Classes), pool, P(net.FcWeight), P(net.FcBias), LogitsOf(n));
        stages?.Invoke(net.Blocks.Length + 1, LogitsOf(n));
        if (training)
            for (int i = 0; i < BatchesTracked.Length; i++) BatchesTracked[i]++;
    }

    /// <summary>
    /// Gradients of the loss whose logit gradient is in <see cref="DLogits"/> (first n rows), for the last
    /// <see cref="Forward(int, BatchNormMode, CancellationToken)"/> of n images in <see cref="BatchNormMode.Training"/> or
    /// <see cref="BatchNormMode.EvaluationWithGradients"/> (each BatchNorm differentiated as that forward computed it), written
    /// into <paramref name="gradients"/> (laid out like <see cref="Parameters"/>). The activations saved by that forward are
    /// consumed: a second Backward needs a new Forward. <paramref name="cancel"/> is checked between blocks (OperationCanceledException).
    /// </summary>
    /// <exception cref="InvalidOperationException">The last forward was in <see cref="BatchNormMode.Evaluation"/>, which keeps nothing.</exception>
    public void Backward(int n, Slice<float> gradients, CancellationToken cancel = default)
    {
        CheckBatch(n);
        if (lastForward == BatchNormMode.Evaluation)
            throw new InvalidOperationException("Backward after an evaluation-mode forward: use BatchNormMode.EvaluationWithGradients or Training");
        if (gradients.Length != Layout.ParameterCount)
            throw new ArgumentException($"the gradient buffer holds {gradients.Length} values, the model has {Layout.ParameterCount}");
        int w = Config.Width, s = Config.ImageSize, features = 8 * w;
        var fcShape = new LinearShape(n, features, Config.Classes);
        var dPool = net.DPooled.At(0, (long)n * features);
        ops.LinearBackward(fcShape, net.Pooled.At(0, (long)n * features), P(net.FcWeight), DLogitsOf(n), dPool,
            G(gradients, net.FcWeight), G(gradients, net.FcBias));

        int hw = net.FinalSize * net.FinalSize;
        // d: the region holding the gradient at the current block's output; free: a region the block may overwrite.
        Slice<float> d = net.TopGradient, free = net.TopFree;
        ops.GlobalAvgPoolBackward(n, features, hw, dPool, d.At(0, (long)n * features * hw));
        for (int b = net.Blocks.Length - 1; b >= 0; b--)
        {
            cancel.ThrowIfCancellationRequested();
            var block = net.Blocks[b];
            Slice<float>? input = b == 0 ? null : net.Blocks[b - 1].Output;
            var stemOut = block.Backward(this, n, input, d, free, gradients);
            // The gradient at this block's input is in its own conv-output regions; the regions of the block after it
            // (which held this block's output gradient) are free now.
            free = d;
            d = block.ConvOuts;
            if (b == 0) free = stemOut!.Value;
        }

        // Stem: the block backward left the recomputed stem output in `free`; `d` holds the gradient at it.
        long stemLength = net.StemLength(n);
        var a1 = free.At(0, stemLength);
        var dA1 = d.At(0, stemLength);
        var dC1 = net.Blocks[1].ConvOuts.At(0, stemLength);
        BatchNormReluBackward(net.StemBn, new BatchNormShape(n, w, s * s), net.StemConvOut(n), a1, dA1, dC1, gradients);
        ops.Conv2dBackwardWeight(net.StemConv.Shape(n, s, s), Input.At(0, (long)n * Config.InputChannels * s * s), dC1, G(gradients, net.StemConv.Weight));
    }

    public Slice<float> LogitsOf(int n) => Logits.At(0, (long)n * Config.Classes);
    public Slice<float> DLogitsOf(int n) => DLogits.At(0, (long)n * Config.Classes);

    void CheckBatch(int n)
    {
        if (n < 1 || n > MaxBatch) throw new ArgumentOutOfRangeException(nameof(n), $"batch of {n} images; this model was sized for 1..{MaxBatch}");
    }

    Slice<float> P(TensorSpec spec) => ParameterView(spec);
    static Slice<float> G(Slice<float> gradients, TensorSpec spec) => gradients.At(spec.Offset, spec.Length);

    void BatchNormForward(BatchNormLayer bn, BatchNormShape shape, Slice<float> x, Slice<float> y, BatchNormMode mode)
    {
        switch (mode)
        {
            case BatchNormMode.Training:
                ops.BatchNormTrainForward(shape, x, P(bn.Gamma), P(bn.Beta), RunningStatView(bn.RunningMean), RunningStatView(bn.RunningVar),
                    BatchNormLayer.Momentum, BatchNormLayer.Eps, y, bn.SaveMean, bn.SaveInvStd);
                break;
            case BatchNormMode.Evaluation:
                ops.BatchNormEvalForward(shape, x, P(bn.Gamma), P(bn.Beta), RunningStatView(bn.RunningMean), RunningStatView(bn.RunningVar),
                    BatchNormLayer.Eps, y);
                break;
            default:
                // The running statistics become the saved ones, so the backward's recomputation (BatchNormApply) and its
                // derivative read the same fixed statistics this forward used.
                ops.BatchNormEvalStatistics(bn.Channels, RunningStatView(bn.RunningMean), RunningStatView(bn.RunningVar), BatchNormLayer.Eps,
                    bn.SaveMean, bn.SaveInvStd);
                ops.BatchNormApply(shape, x, P(bn.Gamma), P(bn.Beta), bn.SaveMean, bn.SaveInvStd, y);
                break;
        }
    }

    /// <summary>
    /// y = relu(bn(x) + residual) (no residual when null) in <paramref name="mode"/>: one fused op in training and
    /// evaluation-with-gradients mode (<see cref="IOps.BatchNormTrainForwardRelu"/>, <see cref="IOps.BatchNormApplyRelu"/>).
    /// </summary>
    void BatchNormReluForward(BatchNormLayer bn, BatchNormShape shape, Slice<float> x, Slice<float> y, BatchNormMode mode, Slice<float>? residual)
    {
        switch (mode)
        {
            case BatchNormMode.Training:
                ops.BatchNormTrainForwardRelu(shape, x, P(bn.Gamma), P(bn.Beta), RunningStatView(bn.RunningMean), RunningStatView(bn.RunningVar),
                    BatchNormLayer.Momentum, BatchNormLayer.Eps, y, bn.SaveMean, bn.SaveInvStd, residual);
                break;
            case BatchNormMode.Evaluation:
                BatchNormForward(bn, shape, x, y, mode);
                if (residual is { } r) ops.Add(y, r, y);
                ops.ReluForward(y, y);
                break;
            default:
                ops.BatchNormEvalStatistics(bn.Channels, RunningStatView(bn.RunningMean), RunningStatView(bn.RunningVar), BatchNormLayer.Eps,
                    bn.SaveMean, bn.SaveInvStd);
                ops.BatchNormApplyRelu(shape, x, P(bn.Gamma), P(bn.Beta), bn.SaveMean, bn.SaveInvStd, y, residual);
                break;
        }
    }

    /// <summary>y = relu(bn(x)) as the last training (or evaluation-with-gradients) forward computed it, from its saved statistics.</summary>
    void RecomputeBatchNormRelu(BatchNormLayer bn, BatchNormShape shape, Slice<float> x, Slice<float> y)
        => ops.BatchNormApplyRelu(shape, x, P(bn.Gamma), P(bn.Beta), bn.SaveMean, bn.SaveInvStd, y, residual: null);

    /// <summary>
    /// The backward of y = relu(bn(x)) (y as <see cref="RecomputeBatchNormRelu"/> recomputed it, dy the gradient at y, which may be
    /// overwritten): one fused op after a training forward (<see cref="IOps.BatchNormReluBackward"/>).
    /// </summary>
    void BatchNormReluBackward(BatchNormLayer bn, BatchNormShape shape, Slice<float> x, Slice<float> y, Slice<float> dy, Slice<float> dx,
        Slice<float> gradients)
    {
        if (lastForward == BatchNormMode.EvaluationWithGradients)
        {
            ops.ReluBackward(y, dy, dy);
            BatchNormBackward(bn, shape, x, dy, dx, gradients);
        }
        else
            ops.BatchNormReluBackward(shape, x, y, dy, P(bn.Gamma), P(bn.Beta), bn.SaveMean, bn.SaveInvStd, dx, G(gradients, bn.Gamma),
                G(gradients, bn.Beta));
    }

    void BatchNormBackward(BatchNormLayer bn, BatchNormShape shape, Slice<float> x, Slice<float> dy, Slice<float> dx, Slice<float> gradients)
    {
        if (lastForward == BatchNormMode.EvaluationWithGradients)
            ops.BatchNormEvalBackward(shape, x, dy, P(bn.Gamma), bn.SaveMean, bn.SaveInvStd, dx, G(gradients, bn.Gamma), G(gradients, bn.Beta));
        else
            ops.BatchNormBackward(shape, x, dy, P(bn.Gamma), bn.SaveMean, bn.SaveInvStd, dx, G(gradients, bn.Gamma), G(gradients, bn.Beta));
    }

    public void Dispose()
    {
        arena.Dispose();
        Parameters.Dispose();
        RunningStats.Dispose();
    }

    /// <summary>The layers and the arena regions of one model, built the same way to allocate and to plan.</summary>
    sealed class Network
    {
        public readonly Conv2dLayer StemConv;
        public readonly BatchNormLayer StemBn;
        public readonly BasicBlock[] Blocks;
        public readonly TensorSpec FcWeight, FcBias;
        public readonly Slice<float> Input, Pooled, DPooled, Logits, DLogits;
        /// <summary>The stem conv's output (N, W, S, S), the stem BatchNorm's input.</summary>
        readonly Slice<float> stemConvOut;
        /// <summary>Where the backward pass starts: the pooled gradient broadcast back, and one free region.</summary>
        public readonly Slice<float> TopGradient, TopFree;
        public readonly int FinalSize;
        readonly int stemPerImage;

        public Network(ActivationArena arena, ResNet18Layout layout, int maxBatch)
        {
            var config = layout.Config;
            int w = config.Width, s = config.ImageSize, channels = config.InputChannels;
            stemPerImage = w * s * s;
            Input = arena.Take((long)maxBatch * channels * s * s);
            StemConv = Conv("conv1", channels, w, 3, 1, 1);
            StemBn = BatchNorm("bn1", w);
            stemConvOut = arena.Take((long)maxBatch * stemPerImage);

            // Per block: input and output values per image and whether it has a downsample shortcut.
            var shapes = new List<(string Prefix, int Cin, int Cout, int InSize, int OutSize, bool Downsample)>();
            int cin = w, size = s;
            for (int layer = 1; layer <= 4; layer++)
            {
                int cout = w << (layer - 1);
                for (int block = 0; block < 2; block++)
                {
                    bool downsample = ResNet18Layout.HasDownsample(layer, block);
                    int outSize = ResNet18Config.StageSize(size, downsample ? 2 : 1);
                    shapes.Add(($"layer{layer}.{block}", block == 0 ? cin : cout, cout, size, outSize, downsample));
                    size = outSize;
                }
                cin = cout;
            }
            int count = shapes.Count;
            long Out(int b) => (long)shapes[b].Cout * shapes[b].OutSize * shapes[b].OutSize;
            long In(int b) => (long)shapes[b].Cin * shapes[b].InSize * shapes[b].InSize;
            // A block's two conv-output regions also hold: its input gradient; the output gradient of the block before it
            // (and that block's downsample input gradient); the working values of the block two before it (including the
            // recomputed stem output for the first block). See BasicBlock.Backward.
            long ConvOutsLength(int b) => Math.Max(Math.Max(2 * Out(b), In(b)),
                Math.Max(b >= 1 && shapes[b - 1].Downsample ? In(b - 1) : 0, b >= 2 ? Out(b - 2) : 0));

            Blocks = new BasicBlock[count];
            for (int b = 0; b < count; b++)
            {
                var (p, ci, co, inSize, outSize, downsample) = shapes[b];
                int stride = downsample ? 2 : 1;
                Blocks[b] = new BasicBlock(
                    Conv(p + ".conv1", ci, co, 3, stride, 1), BatchNorm(p + ".bn1", co),
                    Conv(p + ".conv2", co, co, 3, 1, 1), BatchNorm(p + ".bn2", co),
                    downsample ? Conv(p + ".downsample.0", ci, co, 1, 2, 0) : null,
                    downsample ? BatchNorm(p + ".downsample.1", co) : null,
                    inSize, outSize, co,
                    convOuts: arena.Take(maxBatch * ConvOutsLength(b)), output: arena.Take(maxBatch * Out(b)));
            }
            FinalSize = size;
            // The first gradient (the last block's output) and a free region for the last block; the second-last block
            // works in the first one too.
            TopGradient = arena.Take(maxBatch * Math.Max(Out(count - 1), Out(count - 2)));
            TopFree = arena.Take(maxBatch * Out(count - 1));
            FcWeight = layout["fc.weight"];
            FcBias = layout["fc.bias"];
            Pooled = arena.Take((long)maxBatch * 8 * w);
            DPooled = arena.Take((long)maxBatch * 8 * w);
            Logits = arena.Take((long)maxBatch * config.Classes);
            DLogits = arena.Take((long)maxBatch * config.Classes);

            Conv2dLayer Conv(string name, int ci, int co, int k, int stride, int pad) =>
                new(layout[name + ".weight"], ci, co, k, stride, pad);
            BatchNormLayer BatchNorm(string name, int c) =>
                new(layout[name + ".weight"], layout[name + ".bias"], layout[name + ".running_mean"], layout[name + ".running_var"],
                    c, arena.Take(c), arena.Take(c));
        }

        public long StemLength(int n) => (long)n * stemPerImage;
        public Slice<float> StemConvOut(int n) => stemConvOut.At(0, StemLength(n));
    }

    /// <summary>
    /// conv3x3(stride) -> bn -> ReLU -> conv3x3 -> bn -> + shortcut -> ReLU, the shortcut being the input itself or,
    /// where the block changes resolution, a 1x1 stride-2 conv + bn.
    /// </summary>
    sealed class BasicBlock(Conv2dLayer conv1, BatchNormLayer bn1, Conv2dLayer conv2, BatchNormLayer bn2,
        Conv2dLayer? downsampleConv, BatchNormLayer? downsampleBn, int inSize, int outSize, int channels,
        Slice<float> convOuts, Slice<float> output)
    {
        /// <summary>The block's output activation (N, C, outSize, outSize), the next block's input.</summary>
        public Slice<float> Output { get; } = output;
        /// <summary>The two conv outputs (N, C, outSize, outSize) one after the other; in the backward pass, the input gradient.</summary>
        public Slice<float> ConvOuts { get; } = convOuts;

        long Length(int n) => (long)n * channels * outSize * outSize;
        public long OutputLength(int n) => Length(n);
        Slice<float> Conv1Out(int n) => ConvOuts.At(0, Length(n));
        Slice<float> Conv2Out(int n) => ConvOuts.At(Length(n), Length(n));

        /// <summary>
        /// Forward of n images of <paramref name="x"/>; returns the output. <paramref name="nextOutput"/> (the next block's
        /// output region, not yet written) holds the downsample shortcut meanwhile; the inner ReLU output is kept in this
        /// block's output region until conv2 has read it.
        /// </summary>
        public Slice<float> Forward(ResNet18 m, int n, Slice<float> x, Slice<float>? nextOutput, BatchNormMode mode)
        {
            var ops = m.ops;
            long length = Length(n);
            var bnShape = new BatchNormShape(n, channels, outSize * outSize);
            var c1 = Conv1Out(n);
            var c2 = Conv2Out(n);
            var y = Output.At(0, length);
            var r1 = y;

            ops.Conv2dForward(conv1.Shape(n, inSize, inSize), x, m.P(conv1.Weight), c1);
            m.BatchNormReluForward(bn1, bnShape, c1, r1, mode, residual: null);
            ops.Conv2dForward(conv2.Shape(n, outSize, outSize), r1, m.P(conv2.Weight), c2);
            var shortcut = x;
            if (downsampleConv is not null)
            {
                shortcut = nextOutput!.Value.At(0, length);
                ops.Conv2dForward(downsampleConv.Shape(n, inSize, inSize), x, m.P(downsampleConv.Weight), shortcut);
                m.BatchNormForward(downsampleBn!, bnShape, shortcut, shortcut, mode);
            }
            // r1 (in y's region) has been read by conv2: y = relu(bn2(c2) + shortcut) overwrites it.
            m.BatchNormReluForward(bn2, bnShape, c2, y, mode, shortcut);
            return y;
        }

        /// <summary>
        /// Backward of the last training (or evaluation-with-gradients) forward. The gradient at the block output is in <paramref name="d"/>, which the
        /// block may then overwrite (it holds at least the input length); <paramref name="free"/> holds at least the output
        /// length. Writes this block's parameter gradients and leaves the gradient at the input in <see cref="ConvOuts"/>.
        /// <paramref name="xFull"/> is the block input (the previous block's output); null for the first block, whose input
        /// (the stem output) is recomputed into <paramref name="free"/>, which is then returned.
        /// </summary>
        public Slice<float>? Backward(ResNet18 m, int n, Slice<float>? xFull, Slice<float> d, Slice<float> free, Slice<float> gradients)
        {
            var ops = m.ops;
            long length = Length(n);
            long inLength = conv1.Shape(n, inSize, inSize).InputLength;
            var bnShape = new BatchNormShape(n, channels, outSize * outSize);
            var dY = d.At(0, length);
            var y = Output.At(0, length);
            var c1 = Conv1Out(n);
            var c2 = Conv2Out(n);
            var t = free.At(0, length);
            var dX = ConvOuts.At(0, inLength);

            // out = relu(bn2(conv2(r1)) + shortcut): dY becomes the gradient at the sum, shared by both branches.
            // After the mask, the output region is free; after bn2's backward, so is conv2's output.
            ops.ReluBackward(y, dY, dY);

            // Main branch: bn2 <- conv2 <- relu <- bn1 <- conv1.
            var dC2 = y;
            m.BatchNormBackward(bn2, bnShape, c2, dY, dC2, gradients);
            var r1 = c2;
            m.RecomputeBatchNormRelu(bn1, bnShape, c1, r1);
            ops.Conv2dBackwardWeight(conv2.Shape(n, outSize, outSize), r1, dC2, G(gradients, conv2.Weight));
            var dR1 = t;
            ops.Conv2dBackwardInput(conv2.Shape(n, outSize, outSize), dC2, m.P(conv2.Weight), dR1);
            var dC1 = y;
            m.BatchNormReluBackward(bn1, bnShape, c1, r1, dR1, dC1, gradients);
            Slice<float>? stemOut = null;
            var x = xFull?.At(0, inLength) ?? (stemOut = m.RecomputeStemOutput(n, free)).Value;
            ops.Conv2dBackwardWeight(conv1.Shape(n, inSize, inSize), x, dC1, G(gradients, conv1.Weight));
            ops.Conv2dBackwardInput(conv1.Shape(n, inSize, inSize), dC1, m.P(conv1.Weight), dX);

            // Shortcut branch, added into dX.
            if (downsampleConv is not null)
            {
                var shape = downsampleConv.Shape(n, inSize, inSize);
                var cd = t; // the downsample conv's output, recomputed (its bn's input)
                ops.Conv2dForward(shape, x, m.P(downsampleConv.Weight), cd);
                var dCd = y;
                m.BatchNormBackward(downsampleBn!, bnShape, cd, dY, dCd, gradients);
                ops.Conv2dBackwardWeight(shape, x, dCd, G(gradients, downsampleConv.Weight));
                var dShortcut = d.At(0, inLength);
                ops.Conv2dBackwardInput(shape, dCd, m.P(downsampleConv.Weight), dShortcut);
                ops.Add(dX, dShortcut, dX);
            }
            else
            {
                ops.Add(dX, dY, dX);
            }
            return stemOut;
        }
    }

    /// <summary>The stem output relu(bn1(conv1(x))) of the last forward that kept its statistics, recomputed into <paramref name="region"/>.</summary>
    Slice<float> RecomputeStemOutput(int n, Slice<float> region)
    {
        int s = Config.ImageSize;
        var a1 = region.At(0, net.StemLength(n));
        RecomputeBatchNormRelu(net.StemBn, new BatchNormShape(n, Config.Width, s * s), net.StemConvOut(n), a1);
        return a1;
    }
}
