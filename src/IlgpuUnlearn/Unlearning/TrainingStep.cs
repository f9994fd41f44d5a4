using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Unlearning;

/// <summary>The losses and gradient norm of one step, the only values that come back to the host inside a step.</summary>
/// <summary><see cref="ForgetLoss"/> is null for a plain training step; the gradient norm is the one before clipping.</summary>
/// <summary>For a method's step (<see cref="TrainingStep.Step"/>) <see cref="RetainLoss"/> is the batch's mean NLL, whichever set
/// the batch is from, and <see cref="Distillation"/> the KL term when the loss has a teacher.</summary>
public readonly record struct StepResult(float? ForgetLoss, float RetainLoss, float GradientNorm, float? Distillation = null)
{
    public bool IsFinite => (ForgetLoss is not { } f || float.IsFinite(f)) && float.IsFinite(RetainLoss) && float.IsFinite(GradientNorm)
        && (Distillation is not { } d || float.IsFinite(d));
}

/// <summary>
/// What a step minimises on one batch of N images with logits s (N, C) and labels y:
/// <c>NllScale * (1/N) sum_n -log softmax(s_n)[y_n]</c> (1: descent, GA's -1: ascent, 0: the NLL is only measured), plus,
/// with a <see cref="Teacher"/> (run in evaluation mode on the same images, logits t),
/// <c>KlScale * T^2/N sum_n KL(softmax(t_n/T) || softmax(s_n/T))</c> (PyTorch's F.kl_div(..., 'batchmean') * T^2).
/// <see cref="HideTrueClass"/>: each image's true-class teacher logit is set to -1e10 before the softmax (DELETE's target).
/// <see cref="ForgetTeacher"/>: the images labelled <see cref="ForgetClass"/> take their t from this second teacher instead
/// (Bad Teacher's incompetent teacher). Both edit the (N, C) teacher logits on the host: one small read-back and upload per step.
/// <see cref="L1"/>: plus <c>L1 * ||theta||_1</c> over every parameter (l1-sparse), whose gradient L1 sign(theta) is added
/// on the device (<see cref="Tensors.IOps.AddScaledSign"/>).
/// </summary>
public sealed record BatchLoss(float NllScale, ResNet18? Teacher = null, float Temperature = 1, float KlScale = 0,
    bool HideTrueClass = false, ResNet18? ForgetTeacher = null, int ForgetClass = -1, float L1 = 0)
{
    public static readonly BatchLoss Descent = new(1f);
    public static readonly BatchLoss Ascent = new(-1f);
}

/// <summary>
/// One optimisation step of a <see cref="ResNet18"/> on the device (docs/methods.md): <see cref="Unlearn"/> (AdvNegGrad's:
/// forward + backward of the forget batch, its gradient kept apart, forward + backward of the retain batch,
/// g = retainScale g_r + forgetScale g_f) or <see cref="Step"/> (every other method's, and training's: one batch, one loss),
/// then one global-norm reduction and one fused clip + weight decay + (Nesterov) momentum + SGD pass over the flat buffers.
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
    readonly float[] scalarsHost = new float[4];
    long steps;

    public TrainingStep(IOps ops, ResNet18 model)
    {
        this.ops = ops;
        this.model = model;
        long p = model.Layout.ParameterCount;
        int s = model.Config.ImageSize;
        gradRetain = ops.Allocate<float>(p);
        momentum = ops.Allocate<float>(p);
        scalars = ops.Allocate<float>(4); // forget loss, retain loss, sum of squared gradients, distillation loss
        pixels = ops.Allocate<byte>((long)model.MaxBatch * model.Config.InputChannels * s * s);
        labels = ops.Allocate<int>(model.MaxBatch);
        augment = ops.Allocate<int>((long)model.MaxBatch * 3);
    }

    /// <summary>The model this step computes on.</summary>
    public ResNet18 Model => model;

    /// <summary>Steps taken so far (the first one initialises the momentum buffer, as torch.optim.SGD does).</summary>
    public long Steps => steps;

    /// <summary>
    /// The flat offset of the first parameter the update touches (0: all). The parameters before it are frozen, as PyTorch's
    /// <c>requires_grad = False</c> leaves them: no update, no weight decay, no momentum, not in the clipping norm; the
    /// backward still computes their gradients (CF-k and EU-k train a suffix of the state-dict order: the last stages and fc).
    /// </summary>
    public long FirstTrainable
    {
        get;
        set => field = value >= 0 && value < model.Layout.ParameterCount ? value
            : throw new ArgumentOutOfRangeException(nameof(value), $"{value} is outside the {model.Layout.ParameterCount} parameters");
    }

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
    /// <param name="retainScale">The factor of g_r (AdvNegGrad: 1 - alpha, or 1 in the card's form).</param>
    /// <param name="forgetScale">The factor of g_f (AdvNegGrad: -alpha).</param>
    /// <param name="retainFirst">Forward the retain batch first (NegGrad+ as SCRUB's code runs it: the running statistics see
    /// retain then forget); AdvNegGrad forwards the forget batch first.</param>
    public StepResult Unlearn(HostBatch forget, HostBatch retain, float retainScale, float forgetScale, SgdUpdate update, CancellationToken cancel = default,
        bool retainFirst = false)
    {
        gradForget ??= ops.Allocate<float>(model.Layout.ParameterCount);
        if (retainFirst) ForwardBackward(retain, 1, gradRetain.All, cancel);
        ForwardBackward(forget, 0, gradForget.All, cancel);
        if (!retainFirst) ForwardBackward(retain, 1, gradRetain.All, cancel);
        ops.CombineGradients(gradRetain.All, gradForget.All, retainScale, forgetScale, gradRetain.All);
        return Update(update, hasForget: true);
    }

    /// <summary>
    /// One step of a method (Unlearning/Methods) or of training (<see cref="BatchLoss.Descent"/>): training-mode forward of <paramref name="batch"/> (its labels as
    /// given: RL and SalUn relabel on the host), the gradient of <paramref name="loss"/>, optionally multiplied elementwise by
    /// <paramref name="gradientFactor"/> (flat, parameter order: SalUn's 0/1 mask, SCRUB's inverse Fisher), then one
    /// <see cref="SgdUpdate"/>. With <paramref name="trackingForward"/>, one more training-mode forward of the same images after
    /// the update (SalUn's accuracy tracking in the Comparator, which moves the BatchNorm running statistics once more).
    /// <paramref name="updateMask"/> (flat, parameter order; null: none): where it is 0 the update leaves the parameter exactly as
    /// it is and zeroes its momentum, weight decay and momentum included (SalUn's hard mask, <see cref="IOps.ClipAndSgdStep"/>).
    /// </summary>
    public StepResult Step(HostBatch batch, BatchLoss loss, SgdUpdate update, Slice<float>? gradientFactor = null,
        bool trackingForward = false, CancellationToken cancel = default, Slice<float>? updateMask = null)
    {
        int n = batch.Count;
        LoadBatch(batch);
        if (loss.Teacher is { } teacher)
        {
            LoadTeacher(teacher, batch);
            if (loss.HideTrueClass || loss.ForgetTeacher is not null) EditTeacherLogits(loss, teacher, batch);
        }
        model.Forward(n, training: true, cancel);
        ops.SoftmaxNllLoss(n, model.Config.Classes, model.LogitsOf(n), labels.At(0, n), loss.NllScale, scalars.At(1, 1), model.DLogitsOf(n));
        if (loss.Teacher is { } t)
            ops.KlDivergence(n, model.Config.Classes, model.LogitsOf(n), t.LogitsOf(n), loss.Temperature, loss.KlScale,
                scalars.At(3, 1), model.DLogitsOf(n), accumulate: true);
        model.Backward(n, gradRetain.All, cancel);
        if (loss.L1 != 0) ops.AddScaledSign(gradRetain.All, model.Parameters.All, loss.L1);
        if (gradientFactor is { } factor) ops.Multiply(gradRetain.All, factor, gradRetain.All);
        var result = Update(update, hasForget: false, updateMask);
        if (trackingForward) model.Forward(n, training: true, cancel);
        return loss.Teacher is null ? result : result with { Distillation = scalarsHost[3] };
    }

    /// <summary>
    /// The gradient of a loss of the batch with the model in evaluation mode, as PyTorch's <c>model.eval()</c> then
    /// <c>loss.backward()</c> computes it (<see cref="BatchNormMode.EvaluationWithGradients"/>: BatchNorm on its running
    /// statistics, which stay as they are), downloaded into <paramref name="gradient"/> (flat, parameter order); no update.
    /// Returns the loss. SalUn's saliency, SCRUB's Fisher information and SSD's importances accumulate these on the host, once
    /// per run. The loss of N images with logits s (N, C) and labels y:
    /// <list type="bullet">
    /// <item><see cref="GradientLoss.MeanNll"/>: (1/N) sum_n -log softmax(s_n)[y_n] (PyTorch's CrossEntropyLoss).</item>
    /// <item><see cref="GradientLoss.MeanSquaredLogitNorm"/>: (1/N) sum_n ||s_n||^2, labels unused (LFSSD's label-free loss,
    /// <c>torch.norm(out, p="fro", dim=1).pow(2).mean()</c>); dL/ds = 2 s / N.</item>
    /// </list>
    /// </summary>
    public float BatchGradient(HostBatch batch, Span<float> gradient, GradientLoss loss = GradientLoss.MeanNll, CancellationToken cancel = default)
    {
        int n = batch.Count, classes = model.Config.Classes;
        LoadBatch(batch);
        model.Forward(n, BatchNormMode.EvaluationWithGradients, cancel);
        var logits = model.LogitsOf(n);
        if (loss == GradientLoss.MeanNll)
            ops.SoftmaxNllLoss(n, classes, logits, labels.At(0, n), 1f, scalars.At(1, 1), model.DLogitsOf(n));
        else
        {
            ops.SumOfSquares(logits, scalars.At(1, 1));
            ops.CombineGradients(logits, logits, 2f / n, 0f, model.DLogitsOf(n));
        }
        model.Backward(n, gradRetain.All, cancel);
        ops.Download<float>(gradRetain.All, gradient);
        ops.Download<float>(scalars.All, scalarsHost);
        return loss == GradientLoss.MeanNll ? scalarsHost[1] : scalarsHost[1] / n;
    }

    /// <summary>Checks a batch, uploads its bytes and labels, and puts its normalised (augmented) images in the model's input.</summary>
    void LoadBatch(HostBatch batch)
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
    }

    /// <summary>The teacher's evaluation-mode logits of the batch just loaded (same pixels and augmentation, its own input buffer).</summary>
    void LoadTeacher(ResNet18 teacher, HostBatch batch)
    {
        int n = batch.Count, s = model.Config.ImageSize;
        if (teacher.Config != model.Config || teacher.Ops != ops || teacher.MaxBatch < n)
            throw new ArgumentException($"the teacher is a {teacher.Config} for {teacher.MaxBatch} images; the student a {model.Config}, batch {n}, same device");
        long imageBytes = (long)n * model.Config.InputChannels * s * s;
        Slice<int>? shifts = batch.Augment.IsEmpty ? null : augment.At(0, 3L * n);
        var normalization = model.Config.Normalization;
        ops.LoadImages(n, s, s, pixels.At(0, imageBytes), shifts, CropPadding, normalization.Mean, normalization.Std, teacher.Input.At(0, imageBytes));
        teacher.Forward(n, training: false);
    }

    /// <summary>The host edits of <see cref="BatchLoss"/>: the forget teacher's rows for the forget-class images, then the true class hidden.</summary>
    void EditTeacherLogits(BatchLoss loss, ResNet18 teacher, HostBatch batch)
    {
        int n = batch.Count, classes = model.Config.Classes;
        var logits = new float[n * classes];
        ops.Download<float>(teacher.LogitsOf(n), logits);
        if (loss.ForgetTeacher is { } other)
        {
            LoadTeacher(other, batch);
            var otherLogits = new float[n * classes];
            ops.Download<float>(other.LogitsOf(n), otherLogits);
            for (int i = 0; i < n; i++)
                if (batch.Labels[i] == loss.ForgetClass) otherLogits.AsSpan(i * classes, classes).CopyTo(logits.AsSpan(i * classes, classes));
        }
        if (loss.HideTrueClass)
            for (int i = 0; i < n; i++) logits[i * classes + batch.Labels[i]] = -1e10f;
        ops.Upload<float>(logits, teacher.LogitsOf(n));
    }

    void ForwardBackward(HostBatch batch, int lossSlot, Slice<float> gradients, CancellationToken cancel)
    {
        int n = batch.Count;
        LoadBatch(batch);
        model.Forward(n, training: true, cancel);
        ops.SoftmaxNllLoss(n, model.Config.Classes, model.LogitsOf(n), labels.At(0, n), 1f, scalars.At(lossSlot, 1), model.DLogitsOf(n));
        model.Backward(n, gradients, cancel);
    }

    /// <summary>
    /// One global-norm reduction of <see cref="Gradient"/>, then one fused clip + weight decay + momentum + SGD pass
    /// (<see cref="IOps.ClipAndSgdStep"/>); reads back the losses and the norm before clipping.
    /// </summary>
    StepResult Update(SgdUpdate update, bool hasForget, Slice<float>? updateMask = null)
    {
        var sumOfSquares = scalars.At(2, 1);
        long first = FirstTrainable, count = model.Layout.ParameterCount - first;
        ops.SumOfSquares(gradRetain.At(first, count), sumOfSquares);
        ops.ClipAndSgdStep(model.Parameters.At(first, count), gradRetain.At(first, count), momentum.At(first, count), sumOfSquares,
            update, firstStep: steps == 0, updateMask is { } mask ? mask.At(first, count) : null);
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
