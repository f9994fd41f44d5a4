namespace IlgpuUnlearn.Data;

/// <summary>
/// The batches of one AdvNegGrad epoch (ALGORITHM.md, "AdvNegGrad, one epoch"):
/// the retain set (label != forget class) drives the epoch, shuffled or in file order, cut into batches of
/// B with a smaller last batch kept; the forget set (label == forget class) is read as an endless stream
/// (reshuffled when it runs out, or restarted from its first image without shuffling), each step taking as
/// many forget images as its retain batch holds.
/// </summary>
public sealed class EpochPlan
{
    private readonly EpochStep[] _steps;

    private EpochPlan(EpochStep[] steps, int forgetClass, int batchSize, int retainCount, int forgetCount)
    {
        _steps = steps;
        ForgetClass = forgetClass;
        BatchSize = batchSize;
        RetainCount = retainCount;
        ForgetCount = forgetCount;
    }

    public IReadOnlyList<EpochStep> Steps => _steps;
    public int ForgetClass { get; }
    public int BatchSize { get; }

    /// <summary>Images in the retain set (45,000 for CIFAR-10).</summary>
    public int RetainCount { get; }

    /// <summary>Images in the forget set (5,000 for CIFAR-10).</summary>
    public int ForgetCount { get; }

    /// <summary>Images forwarded and backpropagated in the epoch: twice the retain set.</summary>
    public long ImagePasses => 2L * RetainCount;

    /// <param name="seed">Same seed, epoch and switches give the same plan, on every machine.</param>
    /// <param name="shuffle">False keeps file order for both sets (for runs compared bit for bit).</param>
    /// <param name="augment">Draw crop/flip parameters for every image of every step.</param>
    /// <param name="epoch">Epoch number: each epoch gets its own shuffle and augmentation streams.</param>
    public static EpochPlan Create(ImageDataset dataset, int forgetClass, int batchSize, int seed, bool shuffle,
        bool augment = false, int epoch = 0)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        int[] retain = dataset.IndicesNotOfClass(forgetClass);
        int[] forget = dataset.IndicesOfClass(forgetClass);
        if (forget.Length == 0)
            throw new ArgumentException($"{dataset.Name} has no image of class {forgetClass} ({dataset.ClassNames[forgetClass]}) to forget", nameof(forgetClass));
        if (retain.Length == 0)
            throw new ArgumentException($"{dataset.Name} has no image outside class {forgetClass} to retain", nameof(forgetClass));

        // Independent streams, so switching augmentation on or off leaves the order unchanged.
        var retainRng = new DeterministicRandom(DeterministicRandom.DeriveSeed(seed, epoch, 1));
        var forgetRng = new DeterministicRandom(DeterministicRandom.DeriveSeed(seed, epoch, 2));
        var augmentRng = new DeterministicRandom(DeterministicRandom.DeriveSeed(seed, epoch, 3));

        if (shuffle) retainRng.Shuffle(retain);
        var forgetOrder = (int[])forget.Clone();
        if (shuffle) forgetRng.Shuffle(forgetOrder);
        int forgetNext = 0;

        int stepCount = (retain.Length + batchSize - 1) / batchSize;
        var steps = new EpochStep[stepCount];
        for (int s = 0; s < stepCount; s++)
        {
            int start = s * batchSize;
            int n = Math.Min(batchSize, retain.Length - start);
            var retainBatch = retain.AsSpan(start, n).ToArray();
            var forgetBatch = new int[n];
            for (int i = 0; i < n; i++)
            {
                if (forgetNext == forgetOrder.Length)
                {
                    // The stream ran out: start it again, in a new order when shuffling, in file order otherwise.
                    forgetNext = 0;
                    if (shuffle) forgetRng.Shuffle(forgetOrder);
                }
                forgetBatch[i] = forgetOrder[forgetNext++];
            }
            int[]? retainAugment = null, forgetAugment = null;
            if (augment)
            {
                retainAugment = new int[n * Augmentation.ParametersPerImage];
                forgetAugment = new int[n * Augmentation.ParametersPerImage];
                Augmentation.Draw(augmentRng, forgetAugment);
                Augmentation.Draw(augmentRng, retainAugment);
            }
            steps[s] = new EpochStep(s, retainBatch, forgetBatch, retainAugment, forgetAugment);
        }
        return new EpochPlan(steps, forgetClass, batchSize, retain.Length, forget.Length);
    }
}
