using System.Formats.Tar;

namespace IlgpuUnlearn.Data;

/// <summary>
/// Reads CIFAR-10's binary version: the folder <c>cifar-10-batches-bin/</c> (or a folder holding it, or holding
/// the archive), or <c>cifar-10-binary.tar.gz</c> itself, streamed through GZip and tar without extracting.
/// Each batch file is a run of 3,073-byte records: a label byte (0-9), then 1,024 red, 1,024 green and
/// 1,024 blue bytes. Any whole number of records is accepted, so small files serve tests.
/// </summary>
public static class Cifar10BinaryReader
{
    public const string FolderName = "cifar-10-batches-bin";
    public const string ArchiveName = "cifar-10-binary.tar.gz";
    public const string TestFileName = "test_batch.bin";
    public const int RecordSize = 1 + Cifar10.ImageSize;

    /// <summary>The training files, in the order their images are numbered.</summary>
    public static IReadOnlyList<string> TrainFileNames { get; } =
        ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];

    static readonly CifarLayout Layout = new(FolderName, ArchiveName, TrainFileNames, TestFileName);

    /// <summary>Training set (data_batch_1..5, 50,000 images) and test set (test_batch, 10,000).</summary>
    public static DatasetSplit Load(string path) => Layout.Load(path, ReadFiles);

    public static ImageDataset LoadTrain(string path) => Layout.LoadTrain(path, ReadFiles);

    public static ImageDataset LoadTest(string path) => Layout.LoadTest(path, ReadFiles);

    /// <summary>(folder, null) or (null, archive): the archive, the batch folder, a folder holding it, or a folder holding the archive.</summary>
    public static (string? Folder, string? Archive) Locate(string path) => Layout.Locate(path);

    private static CifarRecordChunks[] ReadFiles(string? folder, string? archive, string[] names) =>
        folder != null ? ReadFromFolder(folder, names) : ReadFromArchive(archive!, names);

    private static CifarRecordChunks[] ReadFromFolder(string folder, string[] names)
    {
        var result = new CifarRecordChunks[names.Length];
        for (int i = 0; i < names.Length; i++)
        {
            string file = Path.Combine(folder, names[i]);
            if (!File.Exists(file))
                throw DataFormatException.ForFile(file, "missing (a CIFAR-10 binary folder holds data_batch_1.bin .. data_batch_5.bin and test_batch.bin)");
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
            result[i] = ReadRecords(stream, stream.Length, file);
        }
        return result;
    }

    private static CifarRecordChunks[] ReadFromArchive(string archive, string[] names)
    {
        var result = new CifarRecordChunks?[names.Length];
        int found = 0;
        try
        {
            using var file = new FileStream(archive, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
            using var gzip = GzipReader.Open(file, archive);
            using var tar = new TarReader(gzip);
            while (found < names.Length && tar.GetNextEntry() is { } entry)
            {
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
                int slot = Array.IndexOf(names, Path.GetFileName(entry.Name));
                if (slot < 0 || result[slot] != null || entry.DataStream == null) continue;
                result[slot] = ReadRecords(entry.DataStream, entry.Length, $"{archive}:{entry.Name}");
                found++;
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or FormatException)
        {
            throw DataFormatException.ForFile(archive, $"not a readable .tar.gz, or cut short ({e.Message})", e);
        }
        for (int i = 0; i < names.Length; i++)
        {
            if (result[i] == null)
                throw DataFormatException.ForFile(archive, $"holds no {names[i]} (expected {FolderName}/{names[i]})");
        }
        return result!;
    }

    /// <summary>Reads <paramref name="length"/> bytes of records from <paramref name="stream"/>, checking size and labels.</summary>
    internal static CifarRecordChunks ReadRecords(Stream stream, long length, string displayName)
    {
        if (length % RecordSize != 0)
            throw DataFormatException.ForFile(displayName,
                $"{length} bytes is not a whole number of {RecordSize}-byte records ({length / RecordSize} records and {length % RecordSize} bytes left over)");
        long records = length / RecordSize;
        var chunks = new CifarRecordChunks();
        var record = new byte[RecordSize];
        long done = 0;
        while (done < records)
        {
            var (pixels, labels) = chunks.Rent((int)Math.Min(records - done, int.MaxValue));
            int n = labels.Length;
            for (int r = 0; r < n; r++)
            {
                try
                {
                    stream.ReadExactly(record);
                }
                catch (EndOfStreamException e)
                {
                    throw DataFormatException.ForFile(displayName, $"ends inside record {done + r} of the {records} its size promises", e);
                }
                byte label = record[0];
                if (label >= Cifar10.ClassCount)
                    throw DataFormatException.ForFile(displayName, $"record {done + r} has label {label}, not one of 0-9");
                labels[r] = label;
                record.AsSpan(1).CopyTo(pixels.AsSpan(r * Cifar10.ImageSize, Cifar10.ImageSize));
            }
            chunks.Commit(pixels, labels, n);
            done += n;
        }
        return chunks;
    }
}
