using IlgpuUnlearn.Data;

namespace IlgpuUnlearn.Training;

/// <summary>One batch of a training epoch: indices into the training set and, when augmenting, (n, 3) crop/flip ints.</summary>
public sealed record TrainingBatch(int[] Indices, int[]? Augmentation);

/// <summary>
/// The batches of training epoch e: the training indices (every image, or every image not of the excluded class) shuffled
/// by a stream derived from (seed, e), cut into batches with the smaller last batch kept (a DataLoader's drop_last=False),
/// and crop/flip parameters from a second stream derived from (seed, e). Everything an epoch draws depends only on
/// (seed, epoch), so a run resumed at an epoch boundary sees exactly the batches an unbroken run sees.
/// </summary>
public static class TrainingEpoch
{
    const long ShuffleStream = 11, AugmentStream = 12;

    /// <summary>The indices a recipe trains on, in dataset order.</summary>
    public static int[] TrainingIndices(ImageDataset data, int? excludeClass) =>
        excludeClass is { } k ? data.IndicesNotOfClass(k) : Enumerable.Range(0, data.Count).ToArray();

    public static IReadOnlyList<TrainingBatch> Batches(int[] trainingIndices, int batchSize, int seed, int epoch, bool shuffle, bool augment)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        var order = (int[])trainingIndices.Clone();
        if (shuffle) new DeterministicRandom(DeterministicRandom.DeriveSeed(seed, epoch, ShuffleStream)).Shuffle(order);
        var augmentRng = new DeterministicRandom(DeterministicRandom.DeriveSeed(seed, epoch, AugmentStream));
        var batches = new List<TrainingBatch>((order.Length + batchSize - 1) / batchSize);
        for (int start = 0; start < order.Length; start += batchSize)
        {
            int n = Math.Min(batchSize, order.Length - start);
            int[]? shifts = null;
            if (augment)
            {
                shifts = new int[n * Data.Augmentation.ParametersPerImage];
                Data.Augmentation.Draw(augmentRng, shifts);
            }
            batches.Add(new TrainingBatch(order.AsSpan(start, n).ToArray(), shifts));
        }
        return batches;
    }
}
