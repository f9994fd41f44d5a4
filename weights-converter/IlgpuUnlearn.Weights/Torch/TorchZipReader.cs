using System.IO.Compression;
using System.Runtime.InteropServices;
using IlgpuUnlearn.Weights.Pickle;

namespace IlgpuUnlearn.Weights.Torch;

/// <summary>
/// Reads a torch.save file in the zip format: ARCHIVE/data.pkl (the pickle), ARCHIVE/data/KEY (one raw
/// little-endian storage per key), ARCHIVE/byteorder (optional) and ARCHIVE/version; ARCHIVE is any folder name.
/// </summary>
/// <remarks>
/// The file is read whole, with one read, into one buffer, and every storage is a slice of that buffer (no copy
/// per storage). The entries are found from the zip headers directly when all are stored (uncompressed), as
/// torch writes them (<see cref="StoredZipDirectory"/>); otherwise through <see cref="ZipArchive"/>.
/// </remarks>
public static class TorchZipReader
{
    /// <summary>Reads the pickled object with its tensors as <see cref="TorchTensorView"/>s whose storages are loaded.</summary>
    public static object? ReadObject(Stream stream, string sourceName)
    {
        int length = CheckedLength(stream, sourceName);
        byte[] file = GC.AllocateUninitializedArray<byte>(length);
        return ReadObject(stream, sourceName, file.AsMemory(0, length));
    }

    /// <summary>
    /// As <see cref="ReadObject(Stream, string)"/>, but reads the file into <paramref name="buffer"/> (at least the
    /// stream's length, see <see cref="CheckedLength"/>), which the storages then refer to: the caller must keep it
    /// unchanged while the tensors are in use.
    /// </summary>
    internal static object? ReadObject(Stream stream, string sourceName, Memory<byte> buffer)
    {
        int length = CheckedLength(stream, sourceName);
        Memory<byte> file = buffer[..length];
        ReadWhole(stream, file.Span, sourceName);
        Dictionary<string, (int Offset, int Length)>? stored = StoredZipDirectory.TryRead(file.Span);
        return stored is not null ? ReadStored(file, stored, sourceName) : ReadWithZipArchive(file, sourceName);
    }

    /// <summary>The stream's length, refused if one array cannot hold it.</summary>
    internal static int CheckedLength(Stream stream, string sourceName)
    {
        long length = stream.Length;
        if (length > FileBytes.MaximumLength)
        {
            throw new WeightsFormatException(sourceName, $"the file is {length} bytes, more than the {FileBytes.MaximumLength} this reader handles");
        }
        return (int)length;
    }

    /// <summary>Fills <paramref name="file"/> from the start of the stream (one positional read for a file).</summary>
    private static void ReadWhole(Stream stream, Span<byte> file, string sourceName)
    {
        try
        {
            if (stream is FileStream fileStream)
            {
                int done = 0;
                while (done < file.Length)
                {
                    int read = RandomAccess.Read(fileStream.SafeFileHandle, file[done..], done);
                    if (read <= 0)
                    {
                        throw new EndOfStreamException();
                    }
                    done += read;
                }
            }
            else
            {
                stream.Position = 0;
                stream.ReadExactly(file);
            }
        }
        catch (EndOfStreamException e)
        {
            throw new WeightsFormatException(sourceName, "the file ended while it was being read (changed on disk?)", e);
        }
        catch (IOException e)
        {
            throw new WeightsFormatException(sourceName, $"cannot read the file: {e.Message}", e);
        }
    }

    private static object? ReadStored(ReadOnlyMemory<byte> file, Dictionary<string, (int Offset, int Length)> entries, string sourceName)
    {
        string pickleName = FindPickle(entries.Keys, sourceName);
        string prefix = pickleName[..^"data.pkl".Length];
        RefuseTorchScript(entries.Keys, prefix, sourceName);
        if (entries.TryGetValue(prefix + "byteorder", out var byteOrder))
        {
            CheckByteOrder(file.Span.Slice(byteOrder.Offset, byteOrder.Length), sourceName);
        }
        (int pickleOffset, int pickleLength) = entries[pickleName];
        var ids = new TorchPersistentIds(file.Length);
        object? root = new PickleReader(TorchPickleGlobals.Create(), sourceName, ids.Load).Load(file.Slice(pickleOffset, pickleLength).ToArray());
        foreach (TorchStorage storage in ids.StoragesByKey.Values)
        {
            string name = $"{prefix}data/{storage.Key}";
            if (!entries.TryGetValue(name, out var entry))
            {
                throw new WeightsFormatException(sourceName, $"storage {storage.Key} is missing: no entry {name}");
            }
            CheckLength(name, entry.Length, storage, sourceName);
            storage.Data = file.Slice(entry.Offset, entry.Length);
        }
        return root;
    }

    private static object? ReadWithZipArchive(ReadOnlyMemory<byte> file, string sourceName)
    {
        try
        {
            if (!MemoryMarshal.TryGetArray(file, out ArraySegment<byte> segment))
            {
                throw new InvalidOperationException("the file buffer is not an array");
            }
            using var stream = new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false);
            using var archive = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
            string pickleName = FindPickle(archive.Entries.Select(e => e.FullName), sourceName);
            string prefix = pickleName[..^"data.pkl".Length];
            RefuseTorchScript(archive.Entries.Select(e => e.FullName), prefix, sourceName);
            if (archive.GetEntry(prefix + "byteorder") is { } byteOrder)
            {
                if (byteOrder.Length > 16)
                {
                    throw new WeightsFormatException(sourceName, "the byteorder entry is too long");
                }
                CheckByteOrder(ReadEntry(byteOrder, byteOrder.Length, file.Length, sourceName), sourceName);
            }
            ZipArchiveEntry pickleEntry = archive.GetEntry(pickleName)!;
            byte[] pickleBytes = ReadEntry(pickleEntry, pickleEntry.Length, file.Length, sourceName);
            var ids = new TorchPersistentIds(file.Length);
            object? root = new PickleReader(TorchPickleGlobals.Create(), sourceName, ids.Load).Load(pickleBytes);

            foreach (TorchStorage storage in ids.StoragesByKey.Values)
            {
                ZipArchiveEntry entry = archive.GetEntry($"{prefix}data/{storage.Key}")
                    ?? throw new WeightsFormatException(sourceName, $"storage {storage.Key} is missing: no entry {prefix}data/{storage.Key}");
                CheckLength(entry.FullName, entry.Length, storage, sourceName);
                storage.Data = ReadEntry(entry, storage.ByteLength, file.Length, sourceName);
            }
            return root;
        }
        catch (InvalidDataException e)
        {
            throw new WeightsFormatException(sourceName, $"corrupted zip archive: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new WeightsFormatException(sourceName, $"cannot read the zip archive: {e.Message}", e);
        }
    }

    private static void CheckLength(string entryName, long entryLength, TorchStorage storage, string sourceName)
    {
        if (entryLength != storage.ByteLength)
        {
            throw new WeightsFormatException(sourceName,
                $"entry {entryName} has {entryLength} bytes, but storage {storage.Key} needs {storage.ByteLength} ({storage.ElementCount} x {storage.UnreadClass ?? storage.DType.TorchName()})");
        }
    }

    private static string FindPickle(IEnumerable<string> names, string sourceName)
    {
        string? found = null;
        foreach (string name in names)
        {
            if (name.EndsWith("/data.pkl", StringComparison.Ordinal) && name.IndexOf('/') == name.Length - "/data.pkl".Length)
            {
                if (found is not null)
                {
                    throw new WeightsFormatException(sourceName, $"the archive holds two pickles, {found} and {name}");
                }
                found = name;
            }
        }
        return found ?? throw new WeightsFormatException(sourceName, "the zip archive has no FOLDER/data.pkl entry: not a torch.save file");
    }

    /// <summary>A TorchScript archive (torch.jit.save) holds its model's code (FOLDER/code/) and constants.pkl beside data.pkl.</summary>
    private static void RefuseTorchScript(IEnumerable<string> names, string prefix, string sourceName)
    {
        if (names.Any(name => name == prefix + "constants.pkl" || name.StartsWith(prefix + "code/", StringComparison.Ordinal)))
        {
            throw new WeightsFormatException(sourceName,
                "is a TorchScript archive (torch.jit.save of a scripted or traced model), not a state dict: " +
                "in PyTorch, load it with torch.jit.load and save model.state_dict() with torch.save instead");
        }
    }

    private static void CheckByteOrder(ReadOnlySpan<byte> content, string sourceName)
    {
        if (content.Length > 16)
        {
            throw new WeightsFormatException(sourceName, "the byteorder entry is too long");
        }
        string order = System.Text.Encoding.ASCII.GetString(content).Trim();
        if (order != "little")
        {
            throw new WeightsFormatException(sourceName, $"byte order '{order}' is not supported (only little-endian)");
        }
    }

    private static byte[] ReadEntry(ZipArchiveEntry entry, long length, long fileLength, string sourceName)
    {
        if (length < 0 || length > fileLength || length > Array.MaxLength)
        {
            throw new WeightsFormatException(sourceName, $"entry {entry.FullName} claims {length} bytes, more than the file's {fileLength}");
        }
        // Not zeroed first: every byte is filled below, or the array is dropped with an exception.
        byte[] bytes = GC.AllocateUninitializedArray<byte>((int)length);
        using Stream entryStream = entry.Open();
        try
        {
            entryStream.ReadExactly(bytes);
        }
        catch (EndOfStreamException e)
        {
            throw new WeightsFormatException(sourceName, $"entry {entry.FullName} ends early (truncated)", e);
        }
        return bytes;
    }
}
