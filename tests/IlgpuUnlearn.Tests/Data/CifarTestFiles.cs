using System.Formats.Tar;
using System.IO.Compression;
using IlgpuUnlearn.Data;

namespace IlgpuUnlearn.Tests.Data;

/// <summary>Writes small CIFAR-10 binary batch files whose every byte can be predicted from (file, record).</summary>
internal static class CifarTestFiles
{
    public static readonly string[] AllFiles = [.. Cifar10BinaryReader.TrainFileNames, Cifar10BinaryReader.TestFileName];

    /// <summary>Label of record r of file f.</summary>
    public static byte LabelOf(int file, int record) => (byte)((file * 3 + record) % 10);

    /// <summary>Pixel byte at offset p of record r of file f.</summary>
    public static byte PixelOf(int file, int record, int p) => (byte)(file * 31 + record * 7 + p);

    public static byte[] Records(int file, int count)
    {
        var bytes = new byte[count * Cifar10BinaryReader.RecordSize];
        for (int r = 0; r < count; r++)
        {
            int at = r * Cifar10BinaryReader.RecordSize;
            bytes[at] = LabelOf(file, r);
            for (int p = 0; p < Cifar10.ImageSize; p++) bytes[at + 1 + p] = PixelOf(file, r, p);
        }
        return bytes;
    }

    /// <summary>Writes the six batch files into <paramref name="folder"/>, file f holding recordsPerFile[f] records.</summary>
    public static void WriteFolder(string folder, int[] recordsPerFile)
    {
        Directory.CreateDirectory(folder);
        for (int f = 0; f < AllFiles.Length; f++)
            File.WriteAllBytes(Path.Combine(folder, AllFiles[f]), Records(f, recordsPerFile[f]));
    }

    /// <summary>Writes the batch files as cifar-10-batches-bin/… inside a .tar.gz, test file first and with extras, as order must not matter.</summary>
    public static void WriteArchive(string archive, int[] recordsPerFile, bool includeTest = true)
    {
        using var file = File.Create(archive);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        using var tar = new TarWriter(gzip, TarEntryFormat.Ustar);
        tar.WriteEntry(new UstarTarEntry(TarEntryType.Directory, "cifar-10-batches-bin/"));
        var order = new List<int> { AllFiles.Length - 1 };
        order.AddRange(Enumerable.Range(0, AllFiles.Length - 1));
        foreach (int f in order)
        {
            if (f == AllFiles.Length - 1 && !includeTest) continue;
            var entry = new UstarTarEntry(TarEntryType.RegularFile, "cifar-10-batches-bin/" + AllFiles[f])
            {
                DataStream = new MemoryStream(Records(f, recordsPerFile[f])),
            };
            tar.WriteEntry(entry);
            if (f == 2)
            {
                tar.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, "cifar-10-batches-bin/batches.meta.txt")
                {
                    DataStream = new MemoryStream("airplane\nautomobile\n"u8.ToArray()),
                });
            }
        }
    }
}
