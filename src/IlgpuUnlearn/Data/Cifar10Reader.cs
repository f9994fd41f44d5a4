using System.Formats.Tar;

namespace IlgpuUnlearn.Data;

/// <summary>
/// CIFAR-10 from whichever version a path holds: the binary or the python version, as a
/// batch folder, a folder holding it, or the .tar.gz.
/// </summary>
public static class Cifar10Reader
{
    public enum Version { Binary, Python }

    public static DatasetSplit Load(string path) =>
        Detect(path) == Version.Binary ? Cifar10BinaryReader.Load(path) : Cifar10PythonReader.Load(path);

    /// <summary>Which version is at <paramref name="path"/>: by the files a folder holds, or the names inside an archive.</summary>
    public static Version Detect(string path)
    {
        if (Directory.Exists(path))
        {
            string[] binaryMarks = [Cifar10BinaryReader.TestFileName, Cifar10BinaryReader.TrainFileNames[0], Cifar10BinaryReader.FolderName, Cifar10BinaryReader.ArchiveName];
            string[] pythonMarks = [Cifar10PythonReader.TestFileName, Cifar10PythonReader.TrainFileNames[0], Cifar10PythonReader.FolderName, Cifar10PythonReader.ArchiveName];
            // In order of preference: batch files, then the batch folder, then the archive.
            for (int i = 0; i < binaryMarks.Length; i++)
            {
                if (Path.Exists(Path.Combine(path, binaryMarks[i]))) return Version.Binary;
                if (Path.Exists(Path.Combine(path, pythonMarks[i]))) return Version.Python;
            }
            throw new DataFormatException(
                $"{path}: holds no CIFAR-10 ({Cifar10BinaryReader.FolderName}/, {Cifar10BinaryReader.ArchiveName}, {Cifar10PythonReader.FolderName}/ or {Cifar10PythonReader.ArchiveName})")
            { FilePath = path };
        }
        if (!File.Exists(path))
            throw new DataFormatException($"{path}: no such file or folder") { FilePath = path };
        try
        {
            using var file = File.OpenRead(path);
            using var gzip = GzipReader.Open(file, path);
            using var tar = new TarReader(gzip);
            while (tar.GetNextEntry() is { } entry)
            {
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
                string name = Path.GetFileName(entry.Name);
                if (name.EndsWith(".bin", StringComparison.Ordinal)) return Version.Binary;
                if (name == Cifar10PythonReader.TestFileName || Cifar10PythonReader.TrainFileNames.Contains(name)) return Version.Python;
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or FormatException)
        {
            throw DataFormatException.ForFile(path, $"not a readable .tar.gz, or cut short ({e.Message})", e);
        }
        throw DataFormatException.ForFile(path, "holds no CIFAR-10 batch file");
    }
}
