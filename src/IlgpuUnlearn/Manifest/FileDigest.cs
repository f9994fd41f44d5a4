using System.Security.Cryptography;

namespace IlgpuUnlearn.Manifest;

/// <summary>SHA-256 (FIPS 180-4) of files, streamed, as lower-case hex; a folder is every regular file under it, in ordinal path order.</summary>
public static class FileDigest
{
    public static string Sha256(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>Records for <paramref name="path"/>: one for a file, one per file for a folder; paths relative to <paramref name="relativeTo"/> when inside it.</summary>
    /// <exception cref="FileNotFoundException">Neither a file nor a folder.</exception>
    public static IEnumerable<FileRecord> Records(string role, string path, string relativeTo)
    {
        if (File.Exists(path)) return [Record(role, path, relativeTo)];
        if (Directory.Exists(path))
            return Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(f => Record(role, f, relativeTo)).ToList();
        throw new FileNotFoundException($"{path}: no such file or folder to hash", path);
    }

    public static FileRecord Record(string role, string path, string relativeTo) =>
        new(role, DisplayPath(path, relativeTo), new FileInfo(path).Length, Sha256(path));

    /// <summary>The path relative to <paramref name="folder"/> when it lies inside it, else absolute.</summary>
    public static string DisplayPath(string path, string folder)
    {
        string full = System.IO.Path.GetFullPath(path), root = System.IO.Path.GetFullPath(folder);
        string relative = System.IO.Path.GetRelativePath(root, full);
        return relative.StartsWith("..", StringComparison.Ordinal) || System.IO.Path.IsPathRooted(relative) ? full : relative;
    }
}
