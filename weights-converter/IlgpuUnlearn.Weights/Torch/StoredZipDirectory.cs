using System.Buffers.Binary;
using System.Text;

namespace IlgpuUnlearn.Weights.Torch;

/// <summary>
/// The fast path over a zip archive held whole in memory: finds every entry's data by reading the central
/// directory and each local header directly, for archives whose entries are all stored (uncompressed), as
/// torch.save writes them. Every offset and size is checked against the buffer before use. Anything else
/// (a compressed, encrypted or multi-disk archive, a damaged header, a non-ASCII name) is "not handled here"
/// and the caller reads the archive through <see cref="System.IO.Compression.ZipArchive"/> instead.
/// </summary>
internal static class StoredZipDirectory
{
    private const uint LocalHeaderSignature = 0x04034b50;
    private const uint CentralHeaderSignature = 0x02014b50;
    private const uint EndSignature = 0x06054b50;
    private const uint Zip64EndSignature = 0x06064b50;
    private const uint Zip64LocatorSignature = 0x07064b50;
    private const int EndLength = 22;
    private const int CentralHeaderLength = 46;
    private const int LocalHeaderLength = 30;

    /// <summary>Entry name -> (offset of its data in <paramref name="file"/>, length), or null if this archive is not for the fast path.</summary>
    public static Dictionary<string, (int Offset, int Length)>? TryRead(ReadOnlySpan<byte> file)
    {
        if (!TryFindCentralDirectory(file, out long directoryOffset, out long directorySize, out long entryCount))
        {
            return null;
        }
        if (directoryOffset < 0 || directorySize < 0 || directoryOffset > file.Length - directorySize || entryCount > directorySize / CentralHeaderLength)
        {
            return null;
        }
        var entries = new Dictionary<string, (int Offset, int Length)>((int)entryCount, StringComparer.Ordinal);
        int position = (int)directoryOffset;
        int directoryEnd = (int)(directoryOffset + directorySize);
        for (long i = 0; i < entryCount; i++)
        {
            if (position > directoryEnd - CentralHeaderLength)
            {
                return null;
            }
            ReadOnlySpan<byte> header = file.Slice(position, CentralHeaderLength);
            if (BinaryPrimitives.ReadUInt32LittleEndian(header) != CentralHeaderSignature)
            {
                return null;
            }
            ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
            ushort method = BinaryPrimitives.ReadUInt16LittleEndian(header[10..]);
            long compressedSize = BinaryPrimitives.ReadUInt32LittleEndian(header[20..]);
            long size = BinaryPrimitives.ReadUInt32LittleEndian(header[24..]);
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(header[28..]);
            int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(header[30..]);
            int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(header[32..]);
            ushort disk = BinaryPrimitives.ReadUInt16LittleEndian(header[34..]);
            long localOffset = BinaryPrimitives.ReadUInt32LittleEndian(header[42..]);
            long next = (long)position + CentralHeaderLength + nameLength + extraLength + commentLength;
            // Stored, not encrypted (bit 0), one disk. Torch sets bit 3 (sizes in a data descriptor after the data, and
            // in the central directory, which is what is used here): it does not move the data.
            if (method != 0 || (flags & 1) != 0 || disk is not (0 or 0xFFFF) || next > directoryEnd)
            {
                return null;
            }
            ReadOnlySpan<byte> name = file.Slice(position + CentralHeaderLength, nameLength);
            ReadOnlySpan<byte> extra = file.Slice(position + CentralHeaderLength + nameLength, extraLength);
            if (!ReadZip64Extra(extra, ref size, ref compressedSize, ref localOffset) || compressedSize != size)
            {
                return null;
            }
            if (Ascii.IsValid(name) is false || !TryLocateData(file, localOffset, name, size, directoryOffset, out int dataOffset))
            {
                return null;
            }
            if (!entries.TryAdd(Encoding.ASCII.GetString(name), (dataOffset, (int)size)))
            {
                return null; // two entries of one name: let ZipArchive decide
            }
            position = (int)next;
        }
        return entries;
    }

    private static bool TryLocateData(ReadOnlySpan<byte> file, long localOffset, ReadOnlySpan<byte> name, long size, long directoryOffset, out int dataOffset)
    {
        dataOffset = 0;
        if (localOffset < 0 || localOffset > directoryOffset - LocalHeaderLength)
        {
            return false;
        }
        ReadOnlySpan<byte> local = file.Slice((int)localOffset, LocalHeaderLength);
        if (BinaryPrimitives.ReadUInt32LittleEndian(local) != LocalHeaderSignature
            || BinaryPrimitives.ReadUInt16LittleEndian(local[8..]) != 0
            || (BinaryPrimitives.ReadUInt16LittleEndian(local[6..]) & 1) != 0)
        {
            return false;
        }
        int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(local[26..]);
        int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(local[28..]);
        long start = localOffset + LocalHeaderLength + nameLength + extraLength;
        if (start > directoryOffset || size > directoryOffset - start
            || !file.Slice((int)localOffset + LocalHeaderLength, nameLength).SequenceEqual(name))
        {
            return false;
        }
        dataOffset = (int)start;
        return true;
    }

    /// <summary>Replaces the 32-bit fields that are 0xFFFFFFFF with their zip64 values (in the order the format gives them).</summary>
    private static bool ReadZip64Extra(ReadOnlySpan<byte> extra, ref long size, ref long compressedSize, ref long localOffset)
    {
        bool needed = size == uint.MaxValue || compressedSize == uint.MaxValue || localOffset == uint.MaxValue;
        while (extra.Length >= 4)
        {
            ushort id = BinaryPrimitives.ReadUInt16LittleEndian(extra);
            int length = BinaryPrimitives.ReadUInt16LittleEndian(extra[2..]);
            if (length > extra.Length - 4)
            {
                return false;
            }
            ReadOnlySpan<byte> field = extra.Slice(4, length);
            extra = extra[(4 + length)..];
            if (id != 1)
            {
                continue;
            }
            if (!TakeZip64(ref field, ref size) || !TakeZip64(ref field, ref compressedSize) || !TakeZip64(ref field, ref localOffset))
            {
                return false;
            }
            needed = false;
        }
        return !needed;
    }

    private static bool TakeZip64(ref ReadOnlySpan<byte> field, ref long value)
    {
        if (value != uint.MaxValue)
        {
            return true;
        }
        if (field.Length < 8)
        {
            return false;
        }
        ulong wide = BinaryPrimitives.ReadUInt64LittleEndian(field);
        field = field[8..];
        if (wide > int.MaxValue)
        {
            return false;
        }
        value = (long)wide;
        return true;
    }

    private static bool TryFindCentralDirectory(ReadOnlySpan<byte> file, out long offset, out long size, out long count)
    {
        offset = size = count = 0;
        int lowest = Math.Max(0, file.Length - EndLength - ushort.MaxValue);
        for (int at = file.Length - EndLength; at >= lowest; at--)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(file[at..]) != EndSignature)
            {
                continue;
            }
            ReadOnlySpan<byte> end = file.Slice(at, EndLength);
            if (BinaryPrimitives.ReadUInt16LittleEndian(end[20..]) != file.Length - at - EndLength)
            {
                continue; // the comment length does not reach the end of the file exactly: keep looking
            }
            if (BinaryPrimitives.ReadUInt16LittleEndian(end[4..]) != 0 || BinaryPrimitives.ReadUInt16LittleEndian(end[6..]) != 0)
            {
                return false;
            }
            count = BinaryPrimitives.ReadUInt16LittleEndian(end[10..]);
            size = BinaryPrimitives.ReadUInt32LittleEndian(end[12..]);
            offset = BinaryPrimitives.ReadUInt32LittleEndian(end[16..]);
            const int LocatorLength = 20, Zip64EndLength = 56;
            if (at >= LocatorLength + Zip64EndLength && BinaryPrimitives.ReadUInt32LittleEndian(file[(at - LocatorLength)..]) == Zip64LocatorSignature)
            {
                ulong zip64End = BinaryPrimitives.ReadUInt64LittleEndian(file[(at - LocatorLength + 8)..]);
                if (zip64End > (ulong)(at - LocatorLength - Zip64EndLength))
                {
                    return false;
                }
                ReadOnlySpan<byte> record = file.Slice((int)zip64End, Zip64EndLength);
                if (BinaryPrimitives.ReadUInt32LittleEndian(record) != Zip64EndSignature
                    || BinaryPrimitives.ReadUInt32LittleEndian(record[16..]) != 0 || BinaryPrimitives.ReadUInt32LittleEndian(record[20..]) != 0)
                {
                    return false;
                }
                ulong wideCount = BinaryPrimitives.ReadUInt64LittleEndian(record[32..]);
                ulong wideSize = BinaryPrimitives.ReadUInt64LittleEndian(record[40..]);
                ulong wideOffset = BinaryPrimitives.ReadUInt64LittleEndian(record[48..]);
                if (wideCount > int.MaxValue || wideSize > int.MaxValue || wideOffset > int.MaxValue)
                {
                    return false;
                }
                (count, size, offset) = ((long)wideCount, (long)wideSize, (long)wideOffset);
            }
            else if (count == ushort.MaxValue || size == uint.MaxValue || offset == uint.MaxValue)
            {
                return false;
            }
            return true;
        }
        return false;
    }
}
