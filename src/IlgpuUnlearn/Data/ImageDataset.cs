namespace IlgpuUnlearn.Data;

/// <summary>
/// N images of C x H x W bytes in one contiguous array, laid out (N, C, H, W) with each channel plane row-major
/// (CIFAR's own layout), plus one label byte per image and the class names.
/// Batches are gathered by index into a buffer the caller owns, so a training step allocates nothing.
/// </summary>
public sealed class ImageDataset
{
    private readonly byte[] _pixels;
    private readonly byte[] _labels;
    private readonly string[] _classNames;

    /// <param name="pixels">(N, C, H, W) bytes; its length must be N * C * H * W.</param>
    /// <param name="labels">N labels, each below the number of class names.</param>
    public ImageDataset(string name, byte[] pixels, byte[] labels, int channels, int height, int width, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(classNames);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        if (classNames.Count is 0 or > 256)
            throw new ArgumentException($"a dataset needs 1 to 256 classes, not {classNames.Count}", nameof(classNames));
        long imageSize = (long)channels * height * width;
        if (imageSize > int.MaxValue)
            throw new ArgumentException($"an image of {channels}x{height}x{width} is too large");
        if ((long)labels.Length * imageSize != pixels.Length)
            throw new ArgumentException($"{labels.Length} labels need {labels.Length * imageSize} pixel bytes, not {pixels.Length}", nameof(pixels));
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= classNames.Count)
                throw new ArgumentException($"label {labels[i]} of image {i} is not below the {classNames.Count} classes", nameof(labels));
        }

        Name = name;
        _pixels = pixels;
        _labels = labels;
        _classNames = [.. classNames];
        Channels = channels;
        Height = height;
        Width = width;
        ImageSize = (int)imageSize;
    }

    /// <summary>What the data is, for messages: "cifar10 train".</summary>
    public string Name { get; }

    public int Count => _labels.Length;
    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }

    /// <summary>Bytes per image: Channels * Height * Width.</summary>
    public int ImageSize { get; }

    public int ClassCount => _classNames.Length;
    public IReadOnlyList<string> ClassNames => _classNames;

    /// <summary>All images, (N, C, H, W).</summary>
    public ReadOnlySpan<byte> Pixels => _pixels;

    /// <summary>All images as memory (for asynchronous uploads).</summary>
    public ReadOnlyMemory<byte> PixelMemory => _pixels;

    /// <summary>All labels, one byte per image.</summary>
    public ReadOnlySpan<byte> Labels => _labels;

    /// <summary>The (C, H, W) bytes of one image.</summary>
    public ReadOnlySpan<byte> Image(int index) => _pixels.AsSpan(checked(CheckIndex(index) * ImageSize), ImageSize);

    public int Label(int index) => _labels[CheckIndex(index)];

    /// <summary>Copies the images at <paramref name="indices"/>, in that order, into <paramref name="destination"/> as (n, C, H, W).</summary>
    public void GatherImages(ReadOnlySpan<int> indices, Span<byte> destination)
    {
        long needed = (long)indices.Length * ImageSize;
        if (destination.Length < needed)
            throw new ArgumentException($"{indices.Length} images need {needed} bytes, the destination holds {destination.Length}", nameof(destination));
        for (int i = 0; i < indices.Length; i++)
            Image(indices[i]).CopyTo(destination.Slice(i * ImageSize, ImageSize));
    }

    /// <summary>Copies the labels at <paramref name="indices"/>, in that order, into <paramref name="destination"/>.</summary>
    public void GatherLabels(ReadOnlySpan<int> indices, Span<int> destination)
    {
        if (destination.Length < indices.Length)
            throw new ArgumentException($"{indices.Length} labels do not fit in {destination.Length}", nameof(destination));
        for (int i = 0; i < indices.Length; i++)
            destination[i] = _labels[CheckIndex(indices[i])];
    }

    /// <summary>Indices, in dataset order, of the images whose label is <paramref name="classIndex"/>.</summary>
    public int[] IndicesOfClass(int classIndex) => IndicesWhere(classIndex, equal: true);

    /// <summary>Indices, in dataset order, of the images whose label is not <paramref name="classIndex"/>.</summary>
    public int[] IndicesNotOfClass(int classIndex) => IndicesWhere(classIndex, equal: false);

    /// <summary>Number of images of each class.</summary>
    public int[] CountPerClass()
    {
        var counts = new int[ClassCount];
        foreach (byte label in _labels) counts[label]++;
        return counts;
    }

    /// <summary>A new dataset holding copies of the images at <paramref name="indices"/>, in that order.</summary>
    public ImageDataset Subset(ReadOnlySpan<int> indices, string? name = null)
    {
        var pixels = new byte[(long)indices.Length * ImageSize];
        var labels = new byte[indices.Length];
        GatherImages(indices, pixels);
        for (int i = 0; i < indices.Length; i++) labels[i] = _labels[indices[i]];
        return new ImageDataset(name ?? Name, pixels, labels, Channels, Height, Width, _classNames);
    }

    /// <summary>The first <paramref name="perClass"/> images of every class, in dataset order (a quick evaluation subset).</summary>
    public ImageDataset FirstPerClass(int perClass, string? name = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(perClass);
        var taken = new int[ClassCount];
        var indices = new List<int>();
        for (int i = 0; i < _labels.Length; i++)
        {
            if (taken[_labels[i]] < perClass)
            {
                taken[_labels[i]]++;
                indices.Add(i);
            }
        }
        return Subset(indices.ToArray(), name);
    }

    public override string ToString() => $"{Name}: {Count} images of {Channels}x{Height}x{Width}, {ClassCount} classes";

    private int[] IndicesWhere(int classIndex, bool equal)
    {
        if ((uint)classIndex >= (uint)ClassCount)
            throw new ArgumentOutOfRangeException(nameof(classIndex), $"class {classIndex} is not one of the {ClassCount} classes of {Name}");
        int matching = 0;
        foreach (byte label in _labels)
            if ((label == classIndex) == equal) matching++;
        var result = new int[matching];
        int next = 0;
        for (int i = 0; i < _labels.Length; i++)
            if ((_labels[i] == classIndex) == equal) result[next++] = i;
        return result;
    }

    private int CheckIndex(int index)
    {
        if ((uint)index >= (uint)_labels.Length)
            throw new ArgumentOutOfRangeException(nameof(index), $"image {index} is outside {Name}'s {_labels.Length} images");
        return index;
    }
}
