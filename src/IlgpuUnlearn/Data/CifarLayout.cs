namespace IlgpuUnlearn.Data;

/// <summary>
/// The file names of one CIFAR-10 version (binary or python) and what both do alike with them: finding the batch files
/// (the archive, the batch folder, a folder holding it, or a folder holding the archive) and splitting what a version's
/// reader returns for them into the training set (data_batch_1..5, in that order) and the test set (test_batch).
/// </summary>
internal sealed record CifarLayout(string FolderName, string ArchiveName, IReadOnlyList<string> TrainFileNames, string TestFileName)
{
    /// <summary>Reads the named batch files, in order, from a folder (archive null) or a .tar.gz (folder null).</summary>
    public delegate CifarRecordChunks[] ReadBatches(string? folder, string? archive, string[] names);

    public DatasetSplit Load(string path, ReadBatches read)
    {
        var files = Read(path, [.. TrainFileNames, TestFileName], read);
        var train = CifarRecordChunks.Concatenate("cifar10 train", files.Take(TrainFileNames.Count).ToArray());
        var test = CifarRecordChunks.Concatenate("cifar10 test", [files[^1]]);
        return new DatasetSplit(train, test);
    }

    public ImageDataset LoadTrain(string path, ReadBatches read) =>
        CifarRecordChunks.Concatenate("cifar10 train", Read(path, [.. TrainFileNames], read));

    public ImageDataset LoadTest(string path, ReadBatches read) =>
        CifarRecordChunks.Concatenate("cifar10 test", Read(path, [TestFileName], read));

    /// <summary>Where the batch files are: (folder, null) or (null, archive).</summary>
    public (string? Folder, string? Archive) Locate(string path)
    {
        if (File.Exists(path)) return (null, path);
        if (!Directory.Exists(path))
            throw new DataFormatException($"{path}: no such file or folder (expected {FolderName}/ or {ArchiveName})") { FilePath = path };
        if (File.Exists(Path.Combine(path, TestFileName)) || File.Exists(Path.Combine(path, TrainFileNames[0])))
            return (path, null);
        string inner = Path.Combine(path, FolderName);
        if (Directory.Exists(inner)) return (inner, null);
        string archive = Path.Combine(path, ArchiveName);
        if (File.Exists(archive)) return (null, archive);
        // A folder with none of the batch files: the reader reports the first missing one.
        return (path, null);
    }

    CifarRecordChunks[] Read(string path, string[] names, ReadBatches read)
    {
        var (folder, archive) = Locate(path);
        return read(folder, archive, names);
    }
}
