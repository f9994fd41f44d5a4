using System.Buffers.Binary;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using IlgpuUnlearn.Data;

namespace IlgpuUnlearn.Tests.Data;

/// <summary>
/// Writes CIFAR-10 python-version batches byte for byte the way Python 2's cPickle (protocol 2) wrote the real
/// ones: a dict of str keys, 'data' as numpy.core.multiarray._reconstruct + BUILD with a BINSTRING of pixels,
/// 'labels' as a list of ints. Pixel and label values are those of <see cref="CifarTestFiles"/>.
/// </summary>
internal static class CifarPickleTestFiles
{
    public static readonly string[] AllFiles = [.. Cifar10PythonReader.TrainFileNames, Cifar10PythonReader.TestFileName];

    public static byte[] Batch(int file, int count, Func<int, int>? labelOf = null, int columns = Cifar10.ImageSize)
    {
        var p = new MemoryStream();
        void Op(params byte[] bytes) => p.Write(bytes);
        void Text(string s) { var b = Encoding.Latin1.GetBytes(s); Op((byte)'U', (byte)b.Length); p.Write(b); }
        void Global(string module, string name) { Op((byte)'c'); p.Write(Encoding.ASCII.GetBytes(module + "\n" + name + "\n")); }
        void Int(int v)
        {
            if (v is >= 0 and < 256) Op((byte)'K', (byte)v);
            else if (v is >= 0 and < 65536) { Op((byte)'M'); Span<byte> b = stackalloc byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)v); p.Write(b); }
            else { Op((byte)'J'); Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, v); p.Write(b); }
        }

        Op(0x80, 2, (byte)'}', (byte)'q', 1, (byte)'(');
        Text("data");
        Global("numpy.core.multiarray", "_reconstruct");
        Global("numpy", "ndarray");
        Int(0); Op(0x85); Text("b"); Op(0x87, (byte)'R', (byte)'q', 5);
        Op((byte)'('); Int(1); Int(count); Int(columns); Op(0x86);
        Global("numpy", "dtype"); Text("u1"); Int(0); Int(1); Op(0x87, (byte)'R');
        Op((byte)'('); Int(3); Text("|"); Op((byte)'N', (byte)'N', (byte)'N'); Int(-1); Int(-1); Int(0); Op((byte)'t', (byte)'b');
        Op(0x89);
        var pixels = new byte[count * columns];
        for (int r = 0; r < count; r++)
            for (int i = 0; i < columns; i++) pixels[r * columns + i] = CifarTestFiles.PixelOf(file, r, i);
        Op((byte)'T'); Span<byte> length = stackalloc byte[4]; BinaryPrimitives.WriteInt32LittleEndian(length, pixels.Length); p.Write(length); p.Write(pixels);
        Op((byte)'t', (byte)'b');
        Text("labels");
        Op((byte)']', (byte)'q', 8, (byte)'(');
        for (int r = 0; r < count; r++) Int(labelOf?.Invoke(r) ?? CifarTestFiles.LabelOf(file, r));
        Op((byte)'e');
        Text("batch_label"); Text($"batch {file}");
        Op((byte)'u', (byte)'.');
        return p.ToArray();
    }

    public static void WriteFolder(string folder, int[] counts)
    {
        Directory.CreateDirectory(folder);
        for (int f = 0; f < AllFiles.Length; f++) File.WriteAllBytes(Path.Combine(folder, AllFiles[f]), Batch(f, counts[f]));
    }

    public static void WriteArchive(string archive, int[] counts)
    {
        using var file = File.Create(archive);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        using var tar = new TarWriter(gzip, TarEntryFormat.Pax);
        tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "cifar-10-batches-py/batches.meta") { DataStream = new MemoryStream([0x80, 2, (byte)'}', (byte)'.']) });
        for (int f = 0; f < AllFiles.Length; f++)
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "cifar-10-batches-py/" + AllFiles[f]) { DataStream = new MemoryStream(Batch(f, counts[f])) });
    }
}
