using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;

namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// The settings of Selective Synaptic Dampening. Defaults from github.com/if-loops/selective-synaptic-dampening,
/// src/forget_full_class_main.py: <c>selection_weighting</c> 10 (alpha; 10 x model_size_scaler, 1 for ResNets),
/// <c>dampening_constant</c> 1 (lambda), the loaders' batch size 64 (<c>-b</c>'s default).
/// </summary>
/// <param name="Alpha">Selection weighting: a parameter is dampened where imp_f &gt; alpha imp_D. Finite, &gt; 0.</param>
/// <param name="Lambda">Dampening constant: the parameter is multiplied by min(1, lambda imp_D / imp_f). Finite, &gt; 0.</param>
/// <param name="BatchSize">Images per importance batch (the last one smaller).</param>
/// <param name="LabelFree">LFSSD (Foster et al., "Loss-Free Machine Unlearning", ICLR 2024 Tiny Paper, arXiv 2402.19308): the
/// importance is the mean absolute gradient of the batch's mean squared logit norm, with no labels.</param>
public sealed record SsdSettings(float Alpha = 10f, float Lambda = 1f, int BatchSize = 64, bool LabelFree = false)
{
    /// <exception cref="ArgumentException">A setting out of range, naming it.</exception>
    public void Validate()
    {
        if (!float.IsFinite(Alpha) || Alpha <= 0) throw new ArgumentException($"--ssd-alpha must be a finite number above 0, not {Alpha}");
        if (!float.IsFinite(Lambda) || Lambda <= 0) throw new ArgumentException($"--ssd-lambda must be a finite number above 0, not {Lambda}");
        if (BatchSize < 1) throw new ArgumentException($"--batch-size must be at least 1, not {BatchSize}");
    }
}

/// <summary>
/// Selective Synaptic Dampening (SSD: Foster, Schoepf and Brintrup, "Fast Machine Unlearning without Retraining through Selective
/// Synaptic Dampening", AAAI 2024) and its label-free variant LFSSD (arXiv 2402.19308), following
/// github.com/if-loops/selective-synaptic-dampening: src/ssd.py (ParameterPerturber.calc_importance, modify_weight),
/// src/forget_full_class_strategies.py (ssd_tuning: model.eval(), forget importance, full importance, dampening),
/// src/forget_full_class_main.py (the loaders) and the README (LFSSD). No training:
/// <list type="number">
/// <item>Importance of a sequence of batches, with the model in evaluation mode (<see cref="TrainingStep.BatchGradient"/>:
/// BatchNorm on its running statistics, which stay as they are): imp = (sum over batches b of g_b^2) / B for SSD, g_b the
/// gradient of batch b's mean cross-entropy; (sum of |g_b|) / B for LFSSD, g_b the gradient of the batch's mean squared logit
/// norm (1/N) sum_n ||s_n||^2. Per parameter, in float32 as the source accumulates.</item>
/// <item>imp_f over the forget set F (class k, file order); imp_D over the retain set (class by class in class order, each
/// class in file order, as the source's build_retain_forget_sets makes it) followed by F, one unshuffled sequence of batches,
/// so a batch may hold both. No augmentation (the source's unlearning transform has none).</item>
/// <item>Every trainable parameter (not the BatchNorm running statistics) with imp_f &gt; alpha imp_D is multiplied by
/// min(1, lambda imp_D / imp_f) (the source's exponent 1 and lower bound 1).</item>
/// </list>
/// </summary>
public static class SynapticDampening
{
    /// <summary>What a run did: the parameters dampened, of how many, and the batches measured.</summary>
    public readonly record struct Outcome(long Dampened, long Parameters, int ForgetBatches, int FullBatches);

    /// <summary>
    /// Dampens <paramref name="model"/>'s parameters in place for forget class <paramref name="forgetClass"/> of
    /// <paramref name="train"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Bad settings, a batch larger than the model was sized for, a forget class outside the
    /// data's classes, or no image of it.</exception>
    /// <exception cref="NonFiniteLossException">A batch's loss is not finite.</exception>
    public static Outcome Run(ResNet18 model, ImageDataset train, int forgetClass, SsdSettings settings, CancellationToken cancel = default)
    {
        settings.Validate();
        if (settings.BatchSize > model.MaxBatch) throw new ArgumentException($"batch size {settings.BatchSize} exceeds the model's {model.MaxBatch}");
        if ((uint)forgetClass >= (uint)train.ClassCount) throw new ArgumentException($"forget class {forgetClass} is outside 0..{train.ClassCount - 1}");
        int[] forget = train.IndicesOfClass(forgetClass);
        if (forget.Length == 0) throw new ArgumentException($"SSD needs a forget set; {train.Name} has no image of class {forgetClass}");
        int[] retain = Enumerable.Range(0, train.ClassCount).Where(c => c != forgetClass).SelectMany(train.IndicesOfClass).ToArray();

        using var step = new TrainingStep(model.Ops, model);
        var forgetImportance = Importance(step, train, forget, settings, cancel);
        var fullImportance = Importance(step, train, [.. retain, .. forget], settings, cancel);
        var parameters = new float[model.Layout.ParameterCount];
        model.Ops.Download<float>(model.Parameters.All, parameters);
        long dampened = Dampen(parameters, forgetImportance, fullImportance, settings.Alpha, settings.Lambda);
        model.Ops.Upload<float>(parameters, model.Parameters.All);
        int Batches(int count) => (count + settings.BatchSize - 1) / settings.BatchSize;
        return new Outcome(dampened, parameters.Length, Batches(forget.Length), Batches(retain.Length + forget.Length));
    }

    /// <summary>
    /// Importance (flat, parameter order) over <paramref name="indices"/> in batches of <see cref="SsdSettings.BatchSize"/>, in
    /// that order: the mean over batches of g^2 (SSD) or |g| (LFSSD), g each batch's gradient in evaluation mode.
    /// </summary>
    public static float[] Importance(TrainingStep step, ImageDataset train, int[] indices, SsdSettings settings, CancellationToken cancel = default)
    {
        var loss = settings.LabelFree ? GradientLoss.MeanSquaredLogitNorm : GradientLoss.MeanNll;
        int p = checked((int)step.Model.Layout.ParameterCount);
        var importance = new float[p];
        var g = new float[p];
        int batches = 0;
        for (int start = 0; start < indices.Length; start += settings.BatchSize)
        {
            cancel.ThrowIfCancellationRequested();
            var batch = indices.AsSpan(start, Math.Min(settings.BatchSize, indices.Length - start));
            int n = batch.Length;
            var pixels = new byte[(long)n * train.ImageSize];
            var labels = new int[n];
            train.GatherImages(batch, pixels);
            train.GatherLabels(batch, labels);
            float value = step.BatchGradient(new HostBatch(pixels, labels, [], n), g, loss, cancel);
            if (!float.IsFinite(value)) throw new NonFiniteLossException($"SSD importance: batch loss {value}; stopping without writing a model");
            if (settings.LabelFree)
                for (int i = 0; i < p; i++) importance[i] += MathF.Abs(g[i]);
            else
                for (int i = 0; i < p; i++) importance[i] += g[i] * g[i];
            batches++;
        }
        for (int i = 0; i < p; i++) importance[i] /= batches;
        return importance;
    }

    /// <summary>
    /// theta_i = theta_i min(1, lambda impD_i / impF_i) wherever impF_i &gt; alpha impD_i (all flat, same length); returns how many
    /// were selected, and where <paramref name="selected"/> is given, 1 at each selected parameter and 0 elsewhere. In float32 as
    /// the source's modify_weight computes it: (impD lambda) / impF, then bounded by 1.
    /// </summary>
    /// <exception cref="ArgumentException">The arrays differ in length.</exception>
    public static long Dampen(Span<float> parameters, ReadOnlySpan<float> forgetImportance, ReadOnlySpan<float> fullImportance, float alpha, float lambda,
        Span<byte> selected = default)
    {
        if (forgetImportance.Length != parameters.Length || fullImportance.Length != parameters.Length
            || (!selected.IsEmpty && selected.Length != parameters.Length))
            throw new ArgumentException($"{parameters.Length} parameters, {forgetImportance.Length} forget and {fullImportance.Length} full importances, " +
                                        $"a selection of {selected.Length}");
        if (!selected.IsEmpty) selected.Clear();
        long count = 0;
        for (int i = 0; i < parameters.Length; i++)
        {
            float f = forgetImportance[i], d = fullImportance[i];
            if (!(f > d * alpha)) continue;
            float weight = d * lambda / f;
            parameters[i] *= weight > 1f ? 1f : weight;
            if (!selected.IsEmpty) selected[i] = 1;
            count++;
        }
        return count;
    }
}
