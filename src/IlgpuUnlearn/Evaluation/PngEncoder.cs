using System.Buffers.Binary;
using System.IO.Compression;
using IlgpuUnlearn.Weights;

namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// A minimal PNG writer: 8-bit RGB, one IDAT of zlib-compressed scanlines (filter type 0 on every row).
/// </summary>
public static class PngEncoder
{
    public static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <param name="rgb">(height, width, 3) bytes, row-major.</param>
    public static byte[] Encode(int width, int height, ReadOnlySpan<byte> rgb)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (rgb.Length != (long)width * height * 3)
            throw new ArgumentException($"{width}x{height} RGB needs {(long)width * height * 3} bytes, not {rgb.Length}", nameof(rgb));

        using var output = new MemoryStream();
        output.Write(Signature);

        Span<byte> header = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header[4..], height);
        header[8] = 8;    // bits per sample
        header[9] = 2;    // colour type: RGB
        header[10] = 0;   // deflate
        header[11] = 0;   // adaptive filtering, filter byte per row
        header[12] = 0;   // no interlace
        WriteChunk(output, "IHDR"u8, header);

        using (var compressed = new MemoryStream())
        {
            using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
            {
                int stride = width * 3;
                for (int y = 0; y < height; y++)
                {
                    zlib.WriteByte(0);   // filter: none
                    zlib.Write(rgb.Slice(y * stride, stride));
                }
            }
            WriteChunk(output, "IDAT"u8, compressed.ToArray());
        }
        WriteChunk(output, "IEND"u8, []);
        return output.ToArray();
    }

    private static void WriteChunk(Stream output, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        output.Write(type);
        output.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32.Compute(type, data));
        output.Write(word);
    }
}
