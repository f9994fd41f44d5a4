namespace IlgpuUnlearn.Manifest;

/// <summary>Re-hashes every file a manifest names (relative paths against the manifest's folder) and says which match.</summary>
public static class ManifestVerifier
{
    public enum Status { Match, Mismatch, Missing }

    public sealed record Result(FileRecord Expected, string ResolvedPath, Status Status, string? ActualSha256);

    public static IReadOnlyList<Result> Verify(string manifestPath)
    {
        var manifest = RunManifestJson.Read(manifestPath);
        string folder = Path.GetDirectoryName(Path.GetFullPath(manifestPath)) ?? ".";
        var results = new List<Result>();
        foreach (var record in manifest.Inputs.Concat(manifest.Outputs))
        {
            string path = Path.IsPathRooted(record.Path) ? record.Path : Path.Combine(folder, record.Path);
            if (!File.Exists(path))
            {
                results.Add(new Result(record, path, Status.Missing, null));
                continue;
            }
            string actual = FileDigest.Sha256(path);
            results.Add(new Result(record, path, string.Equals(actual, record.Sha256, StringComparison.OrdinalIgnoreCase) ? Status.Match : Status.Mismatch, actual));
        }
        return results;
    }
}
