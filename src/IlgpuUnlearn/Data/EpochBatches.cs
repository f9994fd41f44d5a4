namespace IlgpuUnlearn.Data;

/// <summary>One batch: indices into the training set and, when augmenting, (n, 3) crop/flip ints (shiftY, shiftX, flip).</summary>
public sealed record TrainingBatch(int[] Indices, int[]? Augmentation);

/// <summary>
/// The one batching of every method and of <c>train</c>. <see cref="Of"/>: a set of indices shuffled by a stream derived from
/// (seed, epoch), cut into batches with the smaller last batch kept (a DataLoader's drop_last=False), crop/flip parameters
/// from a second stream derived from (seed, epoch). <see cref="Stream"/>: the same set read as an endless stream (AdvNegGrad's
/// forget images, as many per step as its retain batch holds): the first pass is <see cref="Of"/>'s order, and each time the
/// set runs out it is reshuffled by the same stream (without shuffling it restarts from its first index). Everything depends
/// only on (seed, epoch), so a run resumed at an epoch boundary sees exactly the batches an unbroken run sees.
/// </summary>
public static class EpochBatches
{
    const long ShuffleStream = 11, AugmentStream = 12;

    /// <summary>The indices a training run uses, in dataset order: every image, or every image not of the excluded class.</summary>
    public static int[] TrainingIndices(ImageDataset data, int? excludeClass) =>
        excludeClass is { } k ? data.IndicesNotOfClass(k) : Enumerable.Range(0, data.Count).ToArray();

    /// <summary>The batches of epoch <paramref name="epoch"/> over <paramref name="indices"/>.</summary>
    public static IReadOnlyList<TrainingBatch> Of(int[] indices, int batchSize, int seed, int epoch, bool shuffle, bool augment)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        var stream = new Stream(indices, seed, epoch, shuffle, augment);
        var batches = new List<TrainingBatch>((indices.Length + batchSize - 1) / batchSize);
        for (int start = 0; start < indices.Length; start += batchSize)
            batches.Add(stream.Next(Math.Min(batchSize, indices.Length - start)));
        return batches;
    }

    /// <summary>A set read as an endless stream, <see cref="Next"/>(n) images at a time (see the class summary).</summary>
    public sealed class Stream
    {
        readonly int[] order;
        readonly bool shuffle, augment;
        readonly DeterministicRandom orderRng, augmentRng;
        int next;

        public Stream(int[] indices, int seed, int epoch, bool shuffle, bool augment)
        {
            if (indices.Length == 0) throw new ArgumentException("a stream of no images");
            order = (int[])indices.Clone();
            (this.shuffle, this.augment) = (shuffle, augment);
            orderRng = new DeterministicRandom(DeterministicRandom.DeriveSeed(seed, epoch, ShuffleStream));
            augmentRng = new DeterministicRandom(DeterministicRandom.DeriveSeed(seed, epoch, AugmentStream));
            if (shuffle) orderRng.Shuffle(order);
        }

        /// <summary>The next <paramref name="count"/> images (wrapping around as often as needed) and their crop/flip parameters.</summary>
        public TrainingBatch Next(int count)
        {
            var batch = new int[count];
            for (int i = 0; i < count; i++)
            {
                if (next == order.Length)
                {
                    next = 0;
                    if (shuffle) orderRng.Shuffle(order);
                }
                batch[i] = order[next++];
            }
            int[]? shifts = null;
            if (augment)
            {
                shifts = new int[count * Augmentation.ParametersPerImage];
                Augmentation.Draw(augmentRng, shifts);
            }
            return new TrainingBatch(batch, shifts);
        }
    }
}
