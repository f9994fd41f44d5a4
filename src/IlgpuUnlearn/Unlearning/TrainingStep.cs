using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Unlearning;

/// <summary>The losses and gradient norm of one step, the only values that come back to the host inside a step.</summary>
/// <summary><see cref="ForgetLoss"/> is null for a plain training step; the gradient norm is the one before clipping.</summary>
public readonly record struct StepResult(float? ForgetLoss, float RetainLoss, float GradientNorm)
{
    public bool IsFinite => (ForgetLoss is not { } f || float.IsFinite(f)) && float.IsFinite(RetainLoss) && float.IsFinite(GradientNorm);
}

/// <summary>
/// One optimisation step of a <see cref="ResNet18"/> on the device, following ALGORITHM.md:
/// forward + backward of the forget batch (its gradient kept apart), forward + backward of the retain batch,
/// g = retainScale g_r + forgetScale g_f, one global-norm reduction, then one fused clip + weight decay + (Nesterov)
/// momentum + SGD pass over the flat buffers. With no forget batch it is a plain (clipped) SGD training step.
/// </summary>
public sealed class TrainingStep : IDisposable
{
    public const int CropPadding = 4;

    readonly IOps ops;
    readonly ResNet18 model;
    readonly DeviceBuffer<float> gradRetain, momentum, scalars;
    /// <summary>Allocated by the first <see cref="Unlearn"/>: plain training needs one gradient buffer, not two.</summary>
    DeviceBuffer<float>? gradForget;
    readonly DeviceBuffer<byte> pixels;
    readonly DeviceBuffer<int> labels, augment;
    readonly float[] scalarsHost = new float[3];
    long steps;

    public TrainingStep(IOps ops, ResNet18 model)
    {
        this.ops = ops;
        this.model = model;
        long p = model.Layout.ParameterCount;
        int s = model.Config.ImageSize;
        gradRetain = ops.Allocate<float>(p);
        momentum = ops.Allocate<float>(p);
        scalars = ops.Allocate<float>(3); // forget loss, retain loss, sum of squared gradients
        pixels = ops.Allocate<byte>((long)model.MaxBatch * model.Config.InputChannels * s * s);
        labels = ops.Allocate<int>(model.MaxBatch);
        augment = ops.Allocate<int>((long)model.MaxBatch * 3);
    }

    /// <summary>Steps taken so far (the first one initialises the momentum buffer, as torch.optim.SGD does).</summary>
    public long Steps => steps;

    /// <summary>The momentum buffer, flat like the parameters.</summary>
    public Slice<float> Momentum => momentum.All;

    /// <summary>Continues from a checkpoint: the momentum buffer (flat, parameter order) and the steps it had taken.</summary>
    public void RestoreOptimizer(ReadOnlySpan<float> momentumValues, long stepsTaken)
    {
        if (momentumValues.Length != model.Layout.ParameterCount || stepsTaken < 0)
            throw new ArgumentException($"a momentum buffer of {momentumValues.Length} values after {stepsTaken} steps; this model has {model.Layout.ParameterCount} parameters");
        ops.Upload(momentumValues, momentum.All);
        steps = stepsTaken;
    }

    /// <summary>
    /// One AdvNegGrad step: ascent on the forget batch, descent on the retain batch. <paramref name="cancel"/> is checked
    /// between layers (OperationCanceledException; the parameters are then unchanged, the running statistics may not be).
    /// </summary>
    public StepResult Unlearn(HostBatch forget, HostBatch retain, AdvNegGradSettings settings, CancellationToken cancel = default)
    {
        gradForget ??= ops.Allocate<float>(model.Layout.ParameterCount);
        ForwardBackward(forget, 0, gradForget.All, cancel);
        ForwardBackward(retain, 1, gradRetain.All, cancel);
        ops.CombineGradients(gradRetain.All, gradForget.All, settings.RetainScale, settings.ForgetScale, gradRetain.All);
        return Update(settings, hasForget: true);
    }

    /// <summary>One plain training step on a batch (descent on its loss), with the same clipping and optimiser.</summary>
    public StepResult Train(HostBatch batch, AdvNegGradSettings settings, CancellationToken cancel = default)
    {
        ForwardBackward(batch, 1, gradRetain.All, cancel);
        return Update(settings, hasForget: false);
    }

    void ForwardBackward(HostBatch batch, int lossSlot, Slice<float> gradients, CancellationToken cancel)
    {
        int n = batch.Count, s = model.Config.ImageSize;
        long imageBytes = (long)n * model.Config.InputChannels * s * s;
        if (n < 1 || n > model.MaxBatch) throw new ArgumentException($"a batch of {n} images; this run was sized for 1..{model.MaxBatch}");
        if (batch.Pixels.Length != imageBytes || batch.Labels.Length != n)
            throw new ArgumentException($"a batch of {n} images needs {imageBytes} pixel bytes and {n} labels, got {batch.Pixels.Length} and {batch.Labels.Length}");

        foreach (int label in batch.Labels)
            if ((uint)label >= (uint)model.Config.Classes) throw new ArgumentException($"label {label} is outside 0..{model.Config.Classes - 1}");

        ops.Upload(batch.Pixels, pixels.At(0, imageBytes));
        Slice<int>? shifts = null;
        if (!batch.Augment.IsEmpty)
        {
            ops.Upload(batch.Augment, augment.At(0, 3L * n));
            shifts = augment.At(0, 3L * n);
        }
        var normalization = model.Config.Normalization;
        ops.LoadImages(n, s, s, pixels.At(0, imageBytes), shifts, CropPadding, normalization.Mean, normalization.Std, model.Input.At(0, imageBytes));
        ops.Upload(batch.Labels, labels.At(0, n));

        model.Forward(n, training: true, cancel);
        ops.SoftmaxNllLoss(n, model.Config.Classes, model.LogitsOf(n), labels.At(0, n), 1f, scalars.At(lossSlot, 1), model.DLogitsOf(n));
        model.Backward(n, gradients, cancel);
    }

    StepResult Update(AdvNegGradSettings settings, bool hasForget)
    {
        var sumOfSquares = scalars.At(2, 1);
        ops.SumOfSquares(gradRetain.All, sumOfSquares);
        ops.ClipAndSgdStep(model.Parameters.All, gradRetain.All, momentum.All, sumOfSquares,
            new SgdSettings(settings.Clip, settings.LearningRate, settings.Momentum, settings.WeightDecay, settings.Nesterov, FirstStep: steps == 0));
        steps++;
        ops.Download<float>(scalars.All, scalarsHost);
        return new StepResult(hasForget ? scalarsHost[0] : null, scalarsHost[1], MathF.Sqrt(scalarsHost[2]));
    }

    public void Dispose()
    {
        gradRetain.Dispose();
        gradForget?.Dispose();
        momentum.Dispose();
        scalars.Dispose();
        pixels.Dispose();
        labels.Dispose();
        augment.Dispose();
    }
}
