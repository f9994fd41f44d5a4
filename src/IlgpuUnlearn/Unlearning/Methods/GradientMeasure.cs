using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;

namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// Per-batch gradients of the mean NLL read back to the host, for what a method measures once before its loop (SalUn's
/// saliency, SCRUB's Fisher information). Training-mode forwards (<see cref="TrainingStep.BatchGradient"/>): BatchNorm uses
/// the batch statistics; the running statistics and batch counts are restored afterwards (<see cref="KeptStatistics"/>), so
/// measuring leaves the model as it was. Deviation: the Comparator measures with the model in evaluation mode.
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
        float loss = step.BatchGradient(new HostBatch(pixels, labels, batch.Augmentation, n), gradient, cancel);
        if (!float.IsFinite(loss)) throw new NonFiniteLossException($"measuring gradients: batch loss {loss}; stopping without writing a model");
    }

    /// <summary>Keeps the BatchNorm running statistics and batch counts across a measurement with training-mode forwards.</summary>
    public sealed class KeptStatistics : IDisposable
    {
        readonly ResNet18 model;
        readonly float[] stats;
        readonly long[] tracked;

        public KeptStatistics(ResNet18 model)
        {
            this.model = model;
            stats = new float[model.RunningStats.All.Length];
            model.Ops.Download<float>(model.RunningStats.All, stats);
            tracked = (long[])model.BatchesTracked.Clone();
        }

        public void Dispose()
        {
            model.Ops.Upload<float>(stats, model.RunningStats.All);
            tracked.CopyTo(model.BatchesTracked, 0);
        }
    }
}
