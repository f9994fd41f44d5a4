namespace IlgpuUnlearn.Data;

/// <summary>
/// One AdvNegGrad step: a retain batch and a forget batch of the same size, as indices into the training set,
/// with their augmentation parameters ((n, 3) ints: shiftY, shiftX, flip) when augmentation is on.
/// </summary>
public sealed record EpochStep(int Index, int[] RetainIndices, int[] ForgetIndices, int[]? RetainAugmentation, int[]? ForgetAugmentation)
{
    /// <summary>Images in each of the two batches.</summary>
    public int BatchSize => RetainIndices.Length;
}
