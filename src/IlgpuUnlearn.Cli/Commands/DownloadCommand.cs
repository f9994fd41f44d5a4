using CommandLine;
using IlgpuUnlearn.Download;

namespace IlgpuUnlearn.Cli.Commands;

[Verb("download", HelpText = "Fetch CIFAR-10, the base model and the retrained models into the cache ahead of an offline run (each verified, kept once).")]
public sealed class DownloadOptions
{
    [Value(0, MetaName = "WHAT", HelpText = "cifar10, base-model, retrained (the ten resnet18_cifar10_no_<class>.pth), retrained-<class> (retrained-cat), or all. Default: cifar10 base-model.")]
    public IEnumerable<string> What { get; set; } = [];
}

/// <summary>download: every name checked first, then each file fetched into the cache (or found there) and its path printed.</summary>
internal static class DownloadCommand
{
    public static int Run(DownloadOptions o)
    {
        var sources = Resolve(o.What.Any() ? o.What.ToList() : ["cifar10", "base-model"]);
        using var cancel = new Cancellation();
        using var downloader = new FileDownloader();
        Console.Error.WriteLine($"cache: {downloader.CacheFolder}");
        var fetched = new WrittenFiles();
        try
        {
            foreach (var source in sources)
            {
                bool cached = downloader.IsCached(source);
                string path = Downloads.Ensure(source, cancel.Token, byDownloadVerb: true);
                if (!cached) fetched.Add(path);
                Console.WriteLine($"{(cached ? "cached" : "downloaded")}: {path}");
            }
        }
        catch (OperationCanceledException e) when (e is not RunInterruptedException)
        {
            throw fetched.Interrupted("rerun download to fetch the rest");
        }
        return 0;
    }

    /// <summary>The names as sources, in the order given, each once; an unknown name is refused before anything is fetched.</summary>
    static List<DownloadSource> Resolve(IReadOnlyList<string> names)
    {
        var known = DownloadSource.Known;
        var sources = new List<DownloadSource>();
        foreach (string name in names)
        {
            IEnumerable<DownloadSource> these = name.ToLowerInvariant() switch
            {
                "all" => known.Values,
                "retrained" => known.Where(kv => kv.Key.StartsWith("retrained-", StringComparison.OrdinalIgnoreCase)).Select(kv => kv.Value),
                _ when known.TryGetValue(name, out var one) => [one],
                _ => throw new UserError($"download: '{name}' is not something to download: use {string.Join(", ", known.Keys.Where(k => !k.StartsWith("retrained-", StringComparison.Ordinal)))}, retrained, retrained-<class> or all"),
            };
            sources.AddRange(these.Where(s => !sources.Contains(s)));
        }
        return sources;
    }
}
