namespace IlgpuUnlearn.Download;

/// <summary>Where downloads are kept: $XDG_CACHE_HOME/ilgpu-unlearn, or ~/.cache/ilgpu-unlearn.</summary>
public static class DownloadCache
{
    public const string FolderName = "ilgpu-unlearn";

    public static string DefaultFolder() =>
        DefaultFolder(Environment.GetEnvironmentVariable("XDG_CACHE_HOME"), Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));

    /// <summary>The rule itself: XDG_CACHE_HOME when it is an absolute path (as the XDG spec asks), else ~/.cache.</summary>
    internal static string DefaultFolder(string? xdgCacheHome, string home)
    {
        if (!string.IsNullOrWhiteSpace(xdgCacheHome) && Path.IsPathRooted(xdgCacheHome))
            return Path.Combine(xdgCacheHome, FolderName);
        return Path.Combine(home, ".cache", FolderName);
    }
}
