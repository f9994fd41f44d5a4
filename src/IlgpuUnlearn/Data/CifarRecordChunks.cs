namespace IlgpuUnlearn.Data;

/// <summary>
/// The images and labels of one CIFAR batch file as they are read, in chunks of at most
/// <see cref="ChunkRecords"/> records, so memory grows with the data actually read and never with a size a
/// header merely claims.
/// </summary>
internal sealed class CifarRecordChunks
{
    internal const int ChunkRecords = 1024;

    private readonly List<(byte[] Pixels, byte[] Labels, int Count)> _chunks = [];

    public int Count { get; private set; }

    /// <summary>Space for up to <paramref name="records"/> more records; fill it, then call <see cref="Commit"/>.</summary>
    public (byte[] Pixels, byte[] Labels) Rent(int records)
    {
        int n = Math.Min(records, ChunkRecords);
        return (new byte[n * Cifar10.ImageSize], new byte[n]);
    }

    public void Commit(byte[] pixels, byte[] labels, int count)
    {
        _chunks.Add((pixels, labels, count));
        Count += count;
    }

    /// <summary>Copies every chunk, in order, into <paramref name="pixels"/> and <paramref name="labels"/> from record <paramref name="first"/> on.</summary>
    public void CopyTo(byte[] pixels, byte[] labels, int first)
    {
        int at = first;
        foreach (var (p, l, n) in _chunks)
        {
            p.AsSpan(0, n * Cifar10.ImageSize).CopyTo(pixels.AsSpan(at * Cifar10.ImageSize));
            l.AsSpan(0, n).CopyTo(labels.AsSpan(at));
            at += n;
        }
    }

    /// <summary>Concatenates the files' records in the order given into one dataset.</summary>
    public static ImageDataset Concatenate(string name, IReadOnlyList<CifarRecordChunks> files)
    {
        long total = 0;
        foreach (var f in files) total += f.Count;
        if (total * Cifar10.ImageSize > Array.MaxLength)
            throw new DataFormatException($"{name}: {total} images do not fit in one array");
        var pixels = new byte[total * Cifar10.ImageSize];
        var labels = new byte[total];
        int first = 0;
        foreach (var f in files)
        {
            f.CopyTo(pixels, labels, first);
            first += f.Count;
        }
        return new ImageDataset(name, pixels, labels, Cifar10.Channels, Cifar10.Height, Cifar10.Width, Cifar10.ClassNames);
    }
}
