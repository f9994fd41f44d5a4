using System.Buffers.Binary;
using System.IO.Compression;

namespace IlgpuUnlearn.Data;

/// <summary>
/// Reads IDX files (MNIST's format), gzipped or not (told apart by the gzip magic bytes, not the name):
/// a big-endian header of magic (0x00000803 for images, 0x00000801 for labels) and the dimension sizes,
/// then unsigned bytes. The sizes in the header are checked against the file's length before anything is
/// allocated; for a gzip file that length is the uncompressed size its trailer records.
/// </summary>
public static class IdxReader
{
    public const int ImagesMagic = 0x00000803;
    public const int LabelsMagic = 0x00000801;

    /// <summary>The largest image side accepted.</summary>
    public const int MaxSide = 4096;

    /// <summary>Images as (count, rows, cols) bytes.</summary>
    public static (byte[] Pixels, int Count, int Rows, int Columns) ReadImages(string path)
    {
        using var source = Open(path, out long contentLength);
        Span<byte> header = stackalloc byte[16];
        ReadHeader(source, header, path);
        int magic = BinaryPrimitives.ReadInt32BigEndian(header);
        if (magic != ImagesMagic)
            throw DataFormatException.ForFile(path, $"magic 0x{magic:X8} is not 0x{ImagesMagic:X8} (IDX images)");
        int count = BinaryPrimitives.ReadInt32BigEndian(header[4..]);
        int rows = BinaryPrimitives.ReadInt32BigEndian(header[8..]);
        int columns = BinaryPrimitives.ReadInt32BigEndian(header[12..]);
        // Bounding rows and columns keeps count * rows * columns inside a long.
        if (count < 0 || rows <= 0 || columns <= 0 || rows > MaxSide || columns > MaxSide)
            throw DataFormatException.ForFile(path, $"header sizes {count} x {rows} x {columns} are not valid");
        long expected = 16 + (long)count * rows * columns;
        CheckLength(path, contentLength, expected, $"{count} images of {rows}x{columns}");
        var pixels = new byte[expected - 16];
        ReadBody(source, pixels, path);
        return (pixels, count, rows, columns);
    }

    public static byte[] ReadLabels(string path)
    {
        using var source = Open(path, out long contentLength);
        Span<byte> header = stackalloc byte[8];
        ReadHeader(source, header, path);
        int magic = BinaryPrimitives.ReadInt32BigEndian(header);
        if (magic != LabelsMagic)
            throw DataFormatException.ForFile(path, $"magic 0x{magic:X8} is not 0x{LabelsMagic:X8} (IDX labels)");
        int count = BinaryPrimitives.ReadInt32BigEndian(header[4..]);
        if (count < 0)
            throw DataFormatException.ForFile(path, $"header count {count} is not valid");
        CheckLength(path, contentLength, 8 + (long)count, $"{count} labels");
        var labels = new byte[count];
        ReadBody(source, labels, path);
        return labels;
    }

    /// <summary>Opens the file, decompressing when it starts with the gzip magic; reports the content's length.</summary>
    private static Stream Open(string path, out long contentLength)
    {
        if (!File.Exists(path))
            throw DataFormatException.ForFile(path, "missing");
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        try
        {
            Span<byte> start = stackalloc byte[2];
            int got = file.ReadAtLeast(start, 2, throwOnEndOfStream: false);
            file.Position = 0;
            if (got == 2 && start[0] == 0x1f && start[1] == 0x8b)
            {
                if (file.Length < 18)
                    throw DataFormatException.ForFile(path, $"a gzip file of {file.Length} bytes is too short");
                // The gzip trailer's ISIZE: the uncompressed length modulo 2^32 (a single-member file, as these are).
                Span<byte> trailer = stackalloc byte[4];
                file.Position = file.Length - 4;
                file.ReadExactly(trailer);
                file.Position = 0;
                contentLength = BinaryPrimitives.ReadUInt32LittleEndian(trailer);
                return new GZipStream(file, CompressionMode.Decompress);
            }
            contentLength = file.Length;
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static void CheckLength(string path, long contentLength, long expected, string what)
    {
        // For gzip, contentLength is only known modulo 2^32; compare it that way.
        bool gzipSize = contentLength <= uint.MaxValue;
        bool matches = contentLength == expected || (gzipSize && expected > uint.MaxValue && (expected & 0xFFFFFFFFL) == contentLength);
        if (!matches)
            throw DataFormatException.ForFile(path, $"header says {what} ({expected} bytes), but the file holds {contentLength} bytes");
        if (expected - 16 > Array.MaxLength)
            throw DataFormatException.ForFile(path, $"{what} do not fit in one array");
    }

    private static void ReadHeader(Stream source, Span<byte> header, string path)
    {
        try
        {
            source.ReadExactly(header);
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException)
        {
            throw DataFormatException.ForFile(path, $"too short for an IDX header of {header.Length} bytes", e);
        }
    }

    private static void ReadBody(Stream source, byte[] body, string path)
    {
        try
        {
            source.ReadExactly(body);
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException)
        {
            throw DataFormatException.ForFile(path, $"ends before the {body.Length} bytes its header promises", e);
        }
    }
}
