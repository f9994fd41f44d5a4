using System.IO.Compression;
using System.Text;
using IlgpuUnlearn.Weights.Pickle;

namespace IlgpuUnlearn.Weights.Torch;

/// <summary>
/// Writes a state dict as torch.save does in the zip format, so that torch.load(path, weights_only=True)
/// reads it: stored (uncompressed) entries ARCHIVE/data.pkl, ARCHIVE/byteorder ("little"), ARCHIVE/data/0..N-1
/// (one storage per tensor) and ARCHIVE/version ("3"). The pickle is a collections.OrderedDict of
/// torch._utils._rebuild_tensor_v2 calls with persistent ids ('storage', torch.XStorage, key, 'cpu', numel).
/// </summary>
public static class TorchZipWriter
{
    /// <param name="archiveName">The top-level folder inside the archive; torch uses the file name without extension.</param>
    public static void Write(Stream stream, StateDict tensors, string archiveName)
    {
        using var archive = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
        WriteEntry(archive, $"{archiveName}/data.pkl", BuildPickle(tensors));
        WriteEntry(archive, $"{archiveName}/byteorder", Encoding.ASCII.GetBytes("little"));
        int key = 0;
        foreach ((_, StoredTensor tensor) in tensors)
        {
            WriteEntry(archive, $"{archiveName}/data/{key++}", tensor.Bytes);
        }
        WriteEntry(archive, $"{archiveName}/version", Encoding.ASCII.GetBytes("3\n"));
    }

    /// <summary>The archive folder name torch would use for a path: the file name without its extension.</summary>
    public static string ArchiveNameFor(string path)
    {
        string name = Path.GetFileNameWithoutExtension(path);
        return string.IsNullOrEmpty(name) ? "archive" : name;
    }

    private static void WriteEntry(ZipArchive archive, string name, ReadOnlySpan<byte> content)
    {
        ZipArchiveEntry entry = archive.CreateEntry(name, CompressionLevel.NoCompression);
        using Stream entryStream = entry.Open();
        entryStream.Write(content);
    }

    private static byte[] BuildPickle(StateDict tensors)
    {
        var pickle = new PickleWriter().Protocol2();
        pickle.Global("collections", "OrderedDict").EmptyTuple().Reduce();
        pickle.Mark();
        int key = 0;
        foreach ((string name, StoredTensor tensor) in tensors)
        {
            pickle.String(name);
            pickle.Global("torch._utils", "_rebuild_tensor_v2");
            pickle.Mark();
            // The storage, as a persistent id.
            pickle.Mark()
                .String("storage")
                .Global("torch", tensor.DType.TorchStorageClass())
                .String((key++).ToString(System.Globalization.CultureInfo.InvariantCulture))
                .String("cpu")
                .Int(tensor.ElementCount)
                .TupleFromMark()
                .BinaryPersistentId();
            pickle.Int(0); // storage offset
            pickle.IntTuple(tensor.Shape.Select(d => (long)d));
            pickle.IntTuple(ContiguousStrides(tensor.Shape));
            pickle.False(); // requires_grad
            pickle.Global("collections", "OrderedDict").EmptyTuple().Reduce(); // backward hooks
            pickle.TupleFromMark().Reduce();
        }
        pickle.SetItemsFromMark().Stop();
        return pickle.ToArray();
    }

    private static long[] ContiguousStrides(int[] shape)
    {
        var strides = new long[shape.Length];
        long stride = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = stride;
            stride *= Math.Max(shape[i], 1);
        }
        return strides;
    }
}
