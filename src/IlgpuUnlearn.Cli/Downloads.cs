using IlgpuUnlearn.Download;

namespace IlgpuUnlearn.Cli;

/// <summary>Files the program fetches into the cache, and what to do instead when the network is not there.</summary>
internal static class Downloads
{
    /// <summary>The cached file of <paramref name="source"/>, downloaded first when missing; a failure says how to go on offline.</summary>
    /// <param name="byDownloadVerb">The download verb asks: its hint names no option of the other verbs (it takes none).</param>
    public static string Ensure(DownloadSource source, CancellationToken cancel, bool byDownloadVerb = false)
    {
        using var downloader = new FileDownloader();
        try
        {
            return downloader.EnsureAsync(source, cancel).GetAwaiter().GetResult();
        }
        catch (DownloadException e)
        {
            throw new UserError($"download failed: {e.Message}; {(byDownloadVerb ? CacheHint(source, downloader.CacheFolder) : OfflineHint(source, downloader.CacheFolder))}");
        }
    }

    /// <summary>For the download verb: "to fill the cache without this network, copy … into …, or set ILGPU_UNLEARN_MIRROR …".</summary>
    public static string CacheHint(DownloadSource source, string cacheFolder) =>
        $"to fill the cache without this network, copy {source.FileName} (from a machine that has it) into {cacheFolder}, " +
        $"or set {FileDownloader.MirrorVariable}=http://host/folder/ to a server that has it";

    /// <summary>"to continue offline, pass --data …, copy … into the cache, or set ILGPU_UNLEARN_MIRROR …".</summary>
    public static string OfflineHint(DownloadSource source, string cacheFolder)
    {
        string option = source == DownloadSource.Cifar10Binary ? "pass --data cifar-10-binary.tar.gz (or a cifar-10-batches-bin/ folder)"
            : source == DownloadSource.BaseModel ? $"pass --weights {source.FileName}"
            : source.FileName.StartsWith("resnet18_cifar10_no_", StringComparison.Ordinal) ? $"pass --retrained {source.FileName} (or --retrained none)"
            : $"pass your copy of {source.FileName} with the option that names it";
        return $"to continue offline, {option}, copy {source.FileName} into {cacheFolder}, " +
               $"or set {FileDownloader.MirrorVariable}=http://host/folder/ to a server that has it";
    }
}
