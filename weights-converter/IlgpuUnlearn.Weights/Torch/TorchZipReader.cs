using System.IO.Compression;
using IlgpuUnlearn.Weights.Pickle;

namespace IlgpuUnlearn.Weights.Torch;

/// <summary>
/// Reads a torch.save file in the zip format: ARCHIVE/data.pkl (the pickle), ARCHIVE/data/KEY (one raw
/// little-endian storage per key), ARCHIVE/byteorder (optional) and ARCHIVE/version; ARCHIVE is any folder name.
/// </summary>
public static class TorchZipReader
{
    /// <summary>Reads the pickled object with its tensors as <see cref="TorchTensorView"/>s whose storages are loaded.</summary>
    public static object? ReadObject(Stream stream, string sourceName)
    {
        long fileLength = stream.Length;
        try
        {
            using var archive = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
            ZipArchiveEntry pickleEntry = FindPickle(archive, sourceName);
            string prefix = pickleEntry.FullName[..^"data.pkl".Length];
            CheckByteOrder(archive, prefix, fileLength, sourceName);

            byte[] pickleBytes = ReadEntry(pickleEntry, pickleEntry.Length, fileLength, sourceName);
            var ids = new TorchPersistentIds(fileLength);
            object? root = new PickleReader(TorchPickleGlobals.Create(), sourceName, ids.Load).Load(pickleBytes);

            foreach (TorchStorage storage in ids.StoragesByKey.Values)
            {
                ZipArchiveEntry entry = archive.GetEntry($"{prefix}data/{storage.Key}")
                    ?? throw new WeightsFormatException(sourceName, $"storage {storage.Key} is missing: no entry {prefix}data/{storage.Key}");
                if (entry.Length != storage.ByteLength)
                {
                    throw new WeightsFormatException(sourceName,
                        $"entry {entry.FullName} has {entry.Length} bytes, but storage {storage.Key} needs {storage.ByteLength} ({storage.ElementCount} x {storage.DType.TorchName()})");
                }
                storage.Data = ReadEntry(entry, storage.ByteLength, fileLength, sourceName, stream as FileStream);
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

    private static ZipArchiveEntry FindPickle(ZipArchive archive, string sourceName)
    {
        ZipArchiveEntry? found = null;
        foreach (ZipArchiveEntry entry in archive.Entries)
        {
            string name = entry.FullName;
            if (name.EndsWith("/data.pkl", StringComparison.Ordinal) && name.IndexOf('/') == name.Length - "/data.pkl".Length)
            {
                if (found is not null)
                {
                    throw new WeightsFormatException(sourceName, $"the archive holds two pickles, {found.FullName} and {name}");
                }
                found = entry;
            }
        }
        return found ?? throw new WeightsFormatException(sourceName, "the zip archive has no FOLDER/data.pkl entry: not a torch.save file");
    }

    private static void CheckByteOrder(ZipArchive archive, string prefix, long fileLength, string sourceName)
    {
        ZipArchiveEntry? entry = archive.GetEntry(prefix + "byteorder");
        if (entry is null)
        {
            return; // torch before 2.0 writes none: little-endian
        }
        if (entry.Length > 16)
        {
            throw new WeightsFormatException(sourceName, "the byteorder entry is too long");
        }
        string order = System.Text.Encoding.ASCII.GetString(ReadEntry(entry, entry.Length, fileLength, sourceName)).Trim();
        if (order != "little")
        {
            throw new WeightsFormatException(sourceName, $"byte order '{order}' is not supported (only little-endian)");
        }
    }

    private static byte[] ReadEntry(ZipArchiveEntry entry, long length, long fileLength, string sourceName, FileStream? file = null)
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
            if (file is not null && TryReadStoredDirectly(entry, entryStream, file, bytes))
            {
                return bytes;
            }
            entryStream.ReadExactly(bytes);
        }
        catch (EndOfStreamException e)
        {
            throw new WeightsFormatException(sourceName, $"entry {entry.FullName} ends early (truncated)", e);
        }
        return bytes;
    }

    /// <summary>
    /// The fast path for a stored (uncompressed) entry of a file: once ZipArchive has opened the entry (and
    /// checked its local header) the file is positioned at the entry's data, which is then read with one
    /// positional read. The first bytes are read through the entry stream as well and must agree; otherwise
    /// (or for a compressed entry) the caller reads through the entry stream.
    /// </summary>
    private static bool TryReadStoredDirectly(ZipArchiveEntry entry, Stream entryStream, FileStream file, byte[] bytes)
    {
        const int ProbeLength = 64;
        long dataStart = file.Position;
        if (entry.CompressedLength != entry.Length || bytes.Length < ProbeLength || dataStart < 0 || dataStart > file.Length - bytes.Length)
        {
            return false;
        }
        if (RandomAccess.Read(file.SafeFileHandle, bytes, dataStart) != bytes.Length)
        {
            return false;
        }
        Span<byte> probe = stackalloc byte[ProbeLength];
        entryStream.ReadExactly(probe);
        if (!probe.SequenceEqual(bytes.AsSpan(0, ProbeLength)))
        {
            entryStream.ReadExactly(bytes.AsSpan(ProbeLength));
            probe.CopyTo(bytes);
        }
        return true;
    }
}
