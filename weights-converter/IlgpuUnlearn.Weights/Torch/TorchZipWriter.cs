using System.Buffers.Binary;
using System.Text;
using IlgpuUnlearn.Weights.Pickle;

namespace IlgpuUnlearn.Weights.Torch;

/// <summary>
/// Writes a state dict as torch.save does in the zip format, so that torch.load(path, weights_only=True)
/// reads it: stored (uncompressed) entries ARCHIVE/data.pkl, ARCHIVE/byteorder ("little"), ARCHIVE/data/0..N-1
/// (one storage per tensor) and ARCHIVE/version ("3"). The pickle is a collections.OrderedDict of
/// torch._utils._rebuild_tensor_v2 calls with persistent ids ('storage', torch.XStorage, key, 'cpu', numel).
/// </summary>
/// <remarks>
/// The archive is written here rather than by ZipArchive so that the same state dict always gives the same bytes (its
/// SHA-256 can be quoted): like torch.save's writer (PyTorch's caffe2 serialize/inline_container.cc), every entry has
/// the DOS time and date fields 0 instead of the clock, and its data starts at a multiple of 64 bytes, padded with an
/// extra field 'FB' of 'Z' bytes. Entries carry their CRC-32 and sizes in the local header (no data descriptor). The
/// archive must stay under 4 GiB (no zip64 records).
/// </remarks>
public static class TorchZipWriter
{
    private const int Alignment = 64;
    private const ushort VersionNeeded = 20; // 2.0: stored entries, folders
    private const ushort VersionMadeBy = (3 << 8) | 30; // unix, zip 3.0, as torch writes it

    /// <param name="archiveName">The top-level folder inside the archive; torch uses the file name without extension.</param>
    public static void Write(Stream stream, StateDict tensors, string archiveName)
    {
        var writer = new StoredZipWriter(stream);
        writer.Add($"{archiveName}/data.pkl", BuildPickle(tensors));
        writer.Add($"{archiveName}/byteorder", Encoding.ASCII.GetBytes("little"));
        int key = 0;
        foreach ((_, StoredTensor tensor) in tensors)
        {
            writer.Add($"{archiveName}/data/{key++}", tensor.Bytes);
        }
        writer.Add($"{archiveName}/version", Encoding.ASCII.GetBytes("3\n"));
        writer.Finish();
    }

    /// <summary>A zip archive of stored entries with fixed (zero) timestamps and 64-byte aligned data, written front to back.</summary>
    private sealed class StoredZipWriter(Stream stream)
    {
        private readonly List<(byte[] Name, uint Crc, uint Size, uint Offset)> _entries = [];
        private long _position;

        public void Add(string name, ReadOnlySpan<byte> content)
        {
            byte[] nameBytes = Encoding.ASCII.GetBytes(name);
            uint offset = Checked32(_position);
            long headerEnd = _position + 30 + nameBytes.Length + 4;
            int padding = (int)((Alignment - headerEnd % Alignment) % Alignment);
            uint crc = Crc32.Compute(content);
            Span<byte> header = stackalloc byte[30];
            BinaryPrimitives.WriteUInt32LittleEndian(header, 0x04034b50);
            BinaryPrimitives.WriteUInt16LittleEndian(header[4..], VersionNeeded);
            BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 0); // flags
            BinaryPrimitives.WriteUInt16LittleEndian(header[8..], 0); // stored
            BinaryPrimitives.WriteUInt32LittleEndian(header[10..], 0); // DOS time and date: 0, as torch.save writes them
            BinaryPrimitives.WriteUInt32LittleEndian(header[14..], crc);
            BinaryPrimitives.WriteUInt32LittleEndian(header[18..], Checked32(content.Length));
            BinaryPrimitives.WriteUInt32LittleEndian(header[22..], Checked32(content.Length));
            BinaryPrimitives.WriteUInt16LittleEndian(header[26..], checked((ushort)nameBytes.Length));
            BinaryPrimitives.WriteUInt16LittleEndian(header[28..], (ushort)(4 + padding));
            Write(header);
            Write(nameBytes);
            Span<byte> extra = stackalloc byte[4 + Alignment];
            extra[0] = (byte)'F';
            extra[1] = (byte)'B';
            BinaryPrimitives.WriteUInt16LittleEndian(extra[2..], (ushort)padding);
            extra.Slice(4, padding).Fill((byte)'Z');
            Write(extra[..(4 + padding)]);
            Write(content);
            _entries.Add((nameBytes, crc, (uint)content.Length, offset));
        }

        public void Finish()
        {
            uint directoryOffset = Checked32(_position);
            Span<byte> header = stackalloc byte[46];
            foreach ((byte[] name, uint crc, uint size, uint offset) in _entries)
            {
                header.Clear();
                BinaryPrimitives.WriteUInt32LittleEndian(header, 0x02014b50);
                BinaryPrimitives.WriteUInt16LittleEndian(header[4..], VersionMadeBy);
                BinaryPrimitives.WriteUInt16LittleEndian(header[6..], VersionNeeded);
                BinaryPrimitives.WriteUInt32LittleEndian(header[16..], crc);
                BinaryPrimitives.WriteUInt32LittleEndian(header[20..], size);
                BinaryPrimitives.WriteUInt32LittleEndian(header[24..], size);
                BinaryPrimitives.WriteUInt16LittleEndian(header[28..], (ushort)name.Length);
                BinaryPrimitives.WriteUInt32LittleEndian(header[42..], offset);
                Write(header);
                Write(name);
            }
            uint directorySize = Checked32(_position - directoryOffset);
            Span<byte> end = stackalloc byte[22];
            end.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(end, 0x06054b50);
            BinaryPrimitives.WriteUInt16LittleEndian(end[8..], checked((ushort)_entries.Count));
            BinaryPrimitives.WriteUInt16LittleEndian(end[10..], checked((ushort)_entries.Count));
            BinaryPrimitives.WriteUInt32LittleEndian(end[12..], directorySize);
            BinaryPrimitives.WriteUInt32LittleEndian(end[16..], directoryOffset);
            Write(end);
        }

        private void Write(ReadOnlySpan<byte> bytes)
        {
            stream.Write(bytes);
            _position += bytes.Length;
        }

        private static uint Checked32(long value) => value < uint.MaxValue
            ? (uint)value
            : throw new NotSupportedException("the state dict is too large for a zip archive without zip64 records (4 GiB)");
    }

    /// <summary>The archive folder name torch would use for a path: the file name without its extension.</summary>
    public static string ArchiveNameFor(string path)
    {
        string name = Path.GetFileNameWithoutExtension(path);
        return string.IsNullOrEmpty(name) ? "archive" : name;
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
