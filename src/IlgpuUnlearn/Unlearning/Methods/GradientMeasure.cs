using IlgpuUnlearn.Data;

namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// Per-batch gradients of the mean NLL read back to the host, for what a method measures once before its loop (SalUn's
/// saliency, SCRUB's Fisher information), with the model in evaluation mode as the Comparator measures them
/// (<c>self.model.eval()</c>; <see cref="TrainingStep.BatchGradient"/>): BatchNorm on its running statistics, which stay as
/// they are, so measuring leaves the model as it was.
/// </summary>
public static class GradientMeasure
{
    /// <summary>The batches a measurement walks: the set in its own shuffled order, drawn from (seed, <paramref name="stream"/>)
    /// (the Comparator's loaders reshuffle per pass).</summary>
    public static IEnumerable<TrainingBatch> Batches(int[] indices, MethodSettings settings, long stream) =>
        EpochBatches.Of(indices, settings.BatchSize, unchecked((int)DeterministicRandom.DeriveSeed(settings.Seed, stream)), 0,
            settings.Shuffle, settings.Augment);

    /// <summary>The gradient of the batch's mean NLL, flat in parameter order, into <paramref name="gradient"/>.</summary>
    public static void GradientOf(TrainingStep step, ImageDataset train, TrainingBatch batch, float[] gradient, CancellationToken cancel)
    {
        int n = batch.Indices.Length;
        var pixels = new byte[(long)n * train.ImageSize];
        var labels = new int[n];
        train.GatherImages(batch.Indices, pixels);
        train.GatherLabels(batch.Indices, labels);
        float loss = step.BatchGradient(new HostBatch(pixels, labels, batch.Augmentation, n), gradient, GradientLoss.MeanNll, cancel);
        if (!float.IsFinite(loss)) throw new NonFiniteLossException($"measuring gradients: batch loss {loss}; stopping without writing a model");
    }
}
