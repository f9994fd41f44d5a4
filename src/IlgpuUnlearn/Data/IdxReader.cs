using System.Buffers.Binary;

namespace IlgpuUnlearn.Data;

/// <summary>
/// Reads IDX files (MNIST's format), gzipped or not (told apart by the gzip magic bytes, not the name):
/// a big-endian header of magic (0x00000803 for images, 0x00000801 for labels) and the dimension sizes,
/// then unsigned bytes. The sizes in the header are checked against the content's length before anything is
/// allocated; a gzip file is decompressed first (<see cref="GzipReader"/>: any number of members, zero padding after
/// them; a cut or damaged stream is refused), and its content is what is checked.
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

    /// <summary>The largest decompressed IDX file accepted (Fashion-MNIST's training images are 47 MB).</summary>
    public const long MaximumContentLength = 1L << 31;

    /// <summary>Opens the file, or its decompressed content when it starts with the gzip magic; reports the content's length.</summary>
    private static Stream Open(string path, out long contentLength)
    {
        if (!File.Exists(path))
            throw DataFormatException.ForFile(path, "missing");
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        try
        {
            if (GzipReader.StartsWithGzipMagic(file))
            {
                byte[] content;
                try
                {
                    content = GzipReader.DecompressAll(file, path, Math.Min(MaximumContentLength, Array.MaxLength));
                }
                catch (InvalidDataException e)
                {
                    throw DataFormatException.ForFile(path, $"the gzip data is damaged ({e.Message})", e);
                }
                file.Dispose();
                contentLength = content.Length;
                return new MemoryStream(content, writable: false);
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
        if (contentLength != expected)
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
