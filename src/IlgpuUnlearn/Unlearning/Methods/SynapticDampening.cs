using System.Globalization;
using IlgpuUnlearn.Data;

namespace IlgpuUnlearn.Unlearning.Methods;

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
/// The methods <see cref="Ssd"/> and <see cref="Lfssd"/> run this with the source's defaults.
/// </summary>
public static class SynapticDampening
{
    /// <summary>What a run did: the parameters dampened, of how many, and the batches measured.</summary>
    public readonly record struct Outcome(long Dampened, long Parameters, int ForgetBatches, int FullBatches);

    /// <summary>
    /// Dampens the parameters of <paramref name="step"/>'s model in place for forget class <paramref name="forgetClass"/> of
    /// <paramref name="train"/>: alpha (selection weighting) and lambda (dampening constant) finite and &gt; 0, importances over
    /// batches of <paramref name="batchSize"/>; <paramref name="labelFree"/> for LFSSD.
    /// </summary>
    /// <exception cref="ArgumentException">alpha or lambda out of range, a batch larger than the model was sized for, a forget class
    /// outside the data's classes, or no image of it.</exception>
    /// <exception cref="NonFiniteLossException">A batch's loss is not finite.</exception>
    public static Outcome Run(TrainingStep step, ImageDataset train, int forgetClass, float alpha, float lambda, int batchSize, bool labelFree,
        CancellationToken cancel = default)
    {
        var model = step.Model;
        if (!float.IsFinite(alpha) || alpha <= 0) throw new ArgumentException($"--ssd-alpha must be > 0, got {alpha}");
        if (!float.IsFinite(lambda) || lambda <= 0) throw new ArgumentException($"--ssd-lambda must be > 0, got {lambda}");
        if (batchSize < 1 || batchSize > model.MaxBatch) throw new ArgumentException($"batch size {batchSize} is outside the model's 1..{model.MaxBatch}");
        if ((uint)forgetClass >= (uint)train.ClassCount) throw new ArgumentException($"forget class {forgetClass} is outside 0..{train.ClassCount - 1}");
        int[] forget = train.IndicesOfClass(forgetClass);
        if (forget.Length == 0) throw new ArgumentException($"SSD needs a forget set; {train.Name} has no image of class {forgetClass}");
        int[] retain = Enumerable.Range(0, train.ClassCount).Where(c => c != forgetClass).SelectMany(train.IndicesOfClass).ToArray();

        var forgetImportance = Importance(step, train, forget, batchSize, labelFree, cancel);
        var fullImportance = Importance(step, train, [.. retain, .. forget], batchSize, labelFree, cancel);
        var parameters = new float[model.Layout.ParameterCount];
        model.Ops.Download<float>(model.Parameters.All, parameters);
        long dampened = Dampen(parameters, forgetImportance, fullImportance, alpha, lambda);
        model.Ops.Upload<float>(parameters, model.Parameters.All);
        int Batches(int count) => (count + batchSize - 1) / batchSize;
        return new Outcome(dampened, parameters.Length, Batches(forget.Length), Batches(retain.Length + forget.Length));
    }

    /// <summary>
    /// The run in one line: how many parameters were dampened. When none were, says why that is expected where the forget set
    /// is a large share of the training set: the full importance is a mean over every batch, the forget set's own batches
    /// among them, so impD is at least about (forget batches / all batches) impF whatever the retain gradients are (exactly so
    /// where the forget set's batches line up with the full set's), and a parameter can be selected only where alpha is below
    /// about all batches / forget batches: about 10 for one class of ten balanced classes, where the source's default alpha 10
    /// selects almost nothing.
    /// </summary>
    public static string Describe(Outcome outcome, float alpha, int forgetImages, int trainImages)
    {
        string line = string.Create(CultureInfo.InvariantCulture,
            $"dampened {outcome.Dampened:N0} of {outcome.Parameters:N0} parameters (importances over {outcome.ForgetBatches} forget and {outcome.FullBatches} full batches)");
        if (outcome.Dampened > 0) return line;
        double bound = (double)outcome.FullBatches / outcome.ForgetBatches;
        return string.Create(CultureInfo.InvariantCulture,
            $"WARNING: {line}: the model is unchanged. The forget set's {forgetImages:N0} of {trainImages:N0} training images are " +
            $"{outcome.ForgetBatches} of the {outcome.FullBatches} batches of the full importance, so a parameter can be selected only " +
            $"where alpha is below about {bound:0.##} (here {alpha:R}); try a smaller --ssd-alpha");
    }

    /// <summary>
    /// Importance (flat, parameter order) over <paramref name="indices"/> in batches of <paramref name="batchSize"/>, in that order:
    /// the mean over batches of g^2 (SSD) or, <paramref name="labelFree"/>, |g| (LFSSD), g each batch's gradient in evaluation mode.
    /// </summary>
    public static float[] Importance(TrainingStep step, ImageDataset train, int[] indices, int batchSize, bool labelFree, CancellationToken cancel = default)
    {
        var loss = labelFree ? GradientLoss.MeanSquaredLogitNorm : GradientLoss.MeanNll;
        int p = checked((int)step.Model.Layout.ParameterCount);
        var importance = new float[p];
        var g = new float[p];
        int batches = 0;
        for (int start = 0; start < indices.Length; start += batchSize)
        {
            cancel.ThrowIfCancellationRequested();
            var batch = indices.AsSpan(start, Math.Min(batchSize, indices.Length - start));
            int n = batch.Length;
            var pixels = new byte[(long)n * train.ImageSize];
            var labels = new int[n];
            train.GatherImages(batch, pixels);
            train.GatherLabels(batch, labels);
            float value = step.BatchGradient(new HostBatch(pixels, labels, [], n), g, loss, cancel);
            if (!float.IsFinite(value)) throw new NonFiniteLossException($"SSD importance: batch loss {value}; stopping without writing a model");
            if (labelFree)
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
