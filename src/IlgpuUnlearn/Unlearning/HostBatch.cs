namespace IlgpuUnlearn.Unlearning;

/// <summary>
/// A batch on the host as it leaves the data layer: <see cref="Count"/> images of (3, S, S) bytes, their labels, and
/// optionally (Count, 3) augmentation ints (shiftY, shiftX, flip) for <see cref="Tensors.IOps.LoadImages"/>.
/// </summary>
public readonly ref struct HostBatch(ReadOnlySpan<byte> pixels, ReadOnlySpan<int> labels, ReadOnlySpan<int> augment, int count)
{
    public ReadOnlySpan<byte> Pixels { get; } = pixels;
    public ReadOnlySpan<int> Labels { get; } = labels;
    /// <summary>Empty when the batch is not augmented.</summary>
    public ReadOnlySpan<int> Augment { get; } = augment;
    public int Count { get; } = count;
}
