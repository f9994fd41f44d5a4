using System.Formats.Tar;
using IlgpuUnlearn.Weights;
using IlgpuUnlearn.Weights.Pickle;

namespace IlgpuUnlearn.Data;

/// <summary>
/// Reads CIFAR-10's python version: the folder <c>cifar-10-batches-py/</c> (or a folder holding it, or holding
/// the archive), or <c>cifar-10-python.tar.gz</c> streamed without extracting. Each batch is a pickled dict
/// (Python 2, protocol 2) with <c>data</c>, a numpy uint8 array (n, 3072) in the binary version's planar
/// layout, and <c>labels</c>, a list of n ints. The pickle is read by the weights converter's allow-listed
/// reader: only plain data and numpy arrays, nothing executed.
/// </summary>
public static class Cifar10PythonReader
{
    public const string FolderName = "cifar-10-batches-py";
    public const string ArchiveName = "cifar-10-python.tar.gz";
    public const string TestFileName = "test_batch";

    /// <summary>The largest batch file accepted (a real one is about 31 MB).</summary>
    public const long MaximumFileLength = 1L << 30;

    public static IReadOnlyList<string> TrainFileNames { get; } =
        ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"];

    static readonly CifarLayout Layout = new(FolderName, ArchiveName, TrainFileNames, TestFileName);

    /// <summary>Training set (data_batch_1..5, 50,000 images) and test set (test_batch, 10,000).</summary>
    public static DatasetSplit Load(string path) => Layout.Load(path, ReadFiles);

    public static ImageDataset LoadTrain(string path) => Layout.LoadTrain(path, ReadFiles);

    public static ImageDataset LoadTest(string path) => Layout.LoadTest(path, ReadFiles);

    /// <summary>(folder, null) or (null, archive): the archive, the batch folder, a folder holding it, or a folder holding the archive.</summary>
    public static (string? Folder, string? Archive) Locate(string path) => Layout.Locate(path);

    private static CifarRecordChunks[] ReadFiles(string? folder, string? archive, string[] names)
    {
        var result = new CifarRecordChunks?[names.Length];
        if (folder != null)
        {
            for (int i = 0; i < names.Length; i++)
            {
                string file = Path.Combine(folder, names[i]);
                if (!File.Exists(file))
                    throw DataFormatException.ForFile(file, "missing (a CIFAR-10 python folder holds data_batch_1 .. data_batch_5 and test_batch)");
                using var stream = File.OpenRead(file);
                result[i] = ParseBatch(ReadAll(stream, stream.Length, file), file);
            }
            return result!;
        }

        try
        {
            using var file = File.OpenRead(archive!);
            using var gzip = GzipReader.Open(file, archive!);
            using var tar = new TarReader(gzip);
            int found = 0;
            while (found < names.Length && tar.GetNextEntry() is { } entry)
            {
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
                int slot = Array.IndexOf(names, Path.GetFileName(entry.Name));
                if (slot < 0 || result[slot] != null || entry.DataStream == null) continue;
                string display = $"{archive}:{entry.Name}";
                result[slot] = ParseBatch(ReadAll(entry.DataStream, entry.Length, display), display);
                found++;
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or FormatException)
        {
            throw DataFormatException.ForFile(archive!, $"not a readable .tar.gz, or cut short ({e.Message})", e);
        }
        for (int i = 0; i < names.Length; i++)
        {
            if (result[i] == null)
                throw DataFormatException.ForFile(archive!, $"holds no {names[i]} (expected {FolderName}/{names[i]})");
        }
        return result!;
    }

    private static byte[] ReadAll(Stream stream, long length, string displayName)
    {
        if (length > MaximumFileLength)
            throw DataFormatException.ForFile(displayName, $"{length} bytes is far larger than a CIFAR-10 batch");
        var bytes = new byte[length];
        try
        {
            stream.ReadExactly(bytes);
        }
        catch (EndOfStreamException e)
        {
            throw DataFormatException.ForFile(displayName, $"ends before its {length} bytes", e);
        }
        return bytes;
    }

    /// <summary>The images and labels of one pickled batch, checked: data (n, 3072) uint8, n labels in 0-9.</summary>
    internal static CifarRecordChunks ParseBatch(byte[] pickle, string displayName)
    {
        object? root;
        try
        {
            root = new PickleReader(PickleGlobals.PlainData(), displayName).Load(pickle);
        }
        catch (WeightsFormatException e)
        {
            throw DataFormatException.ForFile(displayName, $"not a readable pickle ({e.Problem})", e);
        }
        if (root is not PickleDict dict)
            throw DataFormatException.ForFile(displayName, $"holds a {root?.GetType().Name ?? "None"}, not a dict");
        if (!dict.TryGetText("data", out object? dataValue) || dataValue is not NumpyArray data)
            throw DataFormatException.ForFile(displayName, "has no numpy array under 'data'");
        if (!dict.TryGetText("labels", out object? labelsValue))
            throw DataFormatException.ForFile(displayName, "has no 'labels'");
        if (data.Shape.Length != 2 || data.Shape[1] != Cifar10.ImageSize || data.DType.Kind != 'u' || data.DType.ItemSize != 1 || data.FortranOrder)
            throw DataFormatException.ForFile(displayName,
                $"'data' is a {data.DType} array of shape [{string.Join(", ", data.Shape)}], not uint8 (n, {Cifar10.ImageSize}) in C order");
        int n = checked((int)data.Shape[0]);

        long[] labelValues = labelsValue switch
        {
            List<object?> list => [.. list.Select(v => v is long l ? l : -1)],
            NumpyArray array when array.Shape.Length == 1 => array.ToInt64(),
            _ => throw DataFormatException.ForFile(displayName, "'labels' is neither a list nor a 1-d numpy array"),
        };
        if (labelValues.Length != n)
            throw DataFormatException.ForFile(displayName, $"holds {n} images but {labelValues.Length} labels");
        var labels = new byte[n];
        for (int i = 0; i < n; i++)
        {
            if (labelValues[i] is < 0 or >= Cifar10.ClassCount)
                throw DataFormatException.ForFile(displayName, $"label {i} is {labelValues[i]}, not one of 0-9");
            labels[i] = (byte)labelValues[i];
        }
        var chunks = new CifarRecordChunks();
        chunks.Commit(data.AsBytes(), labels, n);
        return chunks;
    }
}
