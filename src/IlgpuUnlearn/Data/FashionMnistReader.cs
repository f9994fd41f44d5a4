namespace IlgpuUnlearn.Data;

/// <summary>
/// Loads Fashion-MNIST as it is, 1x28x28 grey images (what native Fashion-MNIST networks read), and makes the 3x32x32
/// images a CIFAR network reads from them (<see cref="PadToRgb(DatasetSplit)"/>: zero-padded by 2 pixels on every side,
/// the grey value copied to R, G and B; docs/methods.md).
/// </summary>
public static class FashionMnistReader
{
    public const int Padding = 2;

    /// <summary>
    /// Training (60,000) and test (10,000) grey 1x28x28 sets from a folder with the four IDX files (gzipped or not), or a folder that
    /// holds them as torchvision's datasets.FashionMNIST does (root/FashionMNIST/raw/) or in raw/.
    /// </summary>
    public static DatasetSplit Load(string folder)
    {
        folder = Locate(folder);
        var train = Load(FindFile(folder, FashionMnist.TrainImagesFile), FindFile(folder, FashionMnist.TrainLabelsFile), "fashion-mnist train");
        var test = Load(FindFile(folder, FashionMnist.TestImagesFile), FindFile(folder, FashionMnist.TestLabelsFile), "fashion-mnist test");
        return new DatasetSplit(train, test);
    }

    /// <summary>One part from an images file and a labels file.</summary>
    public static ImageDataset Load(string imagesPath, string labelsPath, string name)
    {
        byte[] labels = IdxReader.ReadLabels(labelsPath);
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= FashionMnist.ClassNames.Count)
                throw DataFormatException.ForFile(labelsPath, $"label {i} is {labels[i]}, not one of 0-9");
        }
        var (grey, count, rows, columns) = IdxReader.ReadImages(imagesPath);
        if (count != labels.Length)
            throw DataFormatException.ForFile(imagesPath, $"holds {count} images but {labelsPath} holds {labels.Length} labels");
        return new ImageDataset(name, grey, labels, 1, rows, columns, FashionMnist.ClassNames);
    }

    /// <summary>Both parts as a CIFAR network reads them: 3 x (H + 4) x (W + 4), see <see cref="PadToRgb(ImageDataset)"/>.</summary>
    public static DatasetSplit PadToRgb(DatasetSplit grey) => new(PadToRgb(grey.Train), PadToRgb(grey.Test));

    /// <summary>A grey (1-channel) set zero-padded by <see cref="Padding"/> on every side, the grey copied to R, G and B.</summary>
    /// <exception cref="ArgumentException">The set does not hold 1-channel images.</exception>
    public static ImageDataset PadToRgb(ImageDataset grey)
    {
        ArgumentNullException.ThrowIfNull(grey);
        if (grey.Channels != 1) throw new ArgumentException($"{grey.Name} holds {grey.Channels}-channel images, not grey ones");
        var labels = grey.Labels.ToArray();
        var pixels = PadToRgb(grey.Pixels.ToArray(), grey.Count, grey.Height, grey.Width);
        return new ImageDataset(grey.Name, pixels, labels, 3, grey.Height + 2 * Padding, grey.Width + 2 * Padding, grey.ClassNames);
    }

    /// <summary>(N, rows, cols) grey to (N, 3, rows + 4, cols + 4), zero border, grey copied to each channel.</summary>
    internal static byte[] PadToRgb(byte[] grey, int count, int rows, int columns)
    {
        int h = rows + 2 * Padding, w = columns + 2 * Padding;
        int plane = h * w;
        var rgb = new byte[(long)count * 3 * plane];
        for (int n = 0; n < count; n++)
        {
            var src = grey.AsSpan(n * rows * columns, rows * columns);
            var first = rgb.AsSpan(n * 3 * plane, plane);
            for (int i = 0; i < rows; i++)
                src.Slice(i * columns, columns).CopyTo(first.Slice((i + Padding) * w + Padding, columns));
            first.CopyTo(rgb.AsSpan(n * 3 * plane + plane, plane));
            first.CopyTo(rgb.AsSpan(n * 3 * plane + 2 * plane, plane));
        }
        return rgb;
    }

    /// <summary>
    /// The folder that holds the IDX files: <paramref name="folder"/> itself, or its FashionMNIST/raw/ (torchvision's root)
    /// or raw/ subfolder; <paramref name="folder"/> when none of them has the training images.
    /// </summary>
    public static string Locate(string folder)
    {
        string[] candidates = [folder, Path.Combine(folder, "FashionMNIST", "raw"), Path.Combine(folder, "raw")];
        foreach (string candidate in candidates)
        {
            string images = Path.Combine(candidate, FashionMnist.TrainImagesFile);
            if (File.Exists(images) || File.Exists(Path.ChangeExtension(images, null))) return candidate;
        }
        return folder;
    }

    /// <summary>The file as named, or without its .gz when only the uncompressed one is there.</summary>
    private static string FindFile(string folder, string gzName)
    {
        string gz = Path.Combine(folder, gzName);
        if (File.Exists(gz)) return gz;
        string raw = Path.Combine(folder, Path.GetFileNameWithoutExtension(gzName));
        if (File.Exists(raw)) return raw;
        throw DataFormatException.ForFile(gz, $"missing (nor is {Path.GetFileName(raw)} there)");
    }
}
