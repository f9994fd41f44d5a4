namespace IlgpuUnlearn.Tests.Support;

/// <summary>The repository the tests were built from: found by walking up from the test assembly to IlgpuUnlearn.sln.</summary>
internal static class Repository
{
    public static string Root { get; } = FindRoot();

    /// <summary>A file of the repository by its path from the root, '/'-separated (<c>scripts/test-setup.sh</c>).</summary>
    public static string File(string relative) => Path.Combine([Root, .. relative.Split('/')]);

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (System.IO.File.Exists(Path.Combine(dir.FullName, "IlgpuUnlearn.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no IlgpuUnlearn.sln above {AppContext.BaseDirectory}");
    }
}
