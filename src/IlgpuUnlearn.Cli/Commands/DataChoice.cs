using IlgpuUnlearn.Data;
using IlgpuUnlearn.Download;
using IlgpuUnlearn.Model;

namespace IlgpuUnlearn.Cli.Commands;

/// <summary>Where the data and the weights of a run come from: the user's files, or the cache (downloaded once, verified).</summary>
internal static class DataChoice
{
    public const string DataHelp = "CIFAR-10 as cifar-10-batches-bin/ (or a folder holding it), cifar-10-binary.tar.gz or cifar-10-python.tar.gz; " +
        "with --dataset fashion-mnist, the folder of its IDX files. Default: CIFAR-10 binary, downloaded once into the cache " +
        "($XDG_CACHE_HOME or ~/.cache, subfolder ilgpu-unlearn)";
    public const string DatasetHelp = "cifar10, fashion-mnist or synthetic";
    public const string WeightsHelp = "The model to start from (.pth, .pt or .safetensors; torchvision or pytorch-cifar names). " +
        "Default: the base model jaeunglee/resnet18-cifar10-unlearning (resnet18_cifar10_full.pth), downloaded once into the cache";

    public static DatasetSplit LoadData(string dataset, string? path, CancellationToken cancel) => LoadData(dataset, path, cancel, out _);

    /// <summary>As <see cref="LoadData(string, string?, CancellationToken)"/>; <paramref name="resolved"/> is the file or folder read (null for synthetic data).</summary>
    public static DatasetSplit LoadData(string dataset, string? path, CancellationToken cancel, out string? resolved)
    {
        var kind = DatasetLoader.ParseKind(dataset);
        if (path is null && kind == DatasetKind.Cifar10)
        {
            using var downloader = new FileDownloader();
            path = downloader.EnsureAsync(DownloadSource.Cifar10Binary, cancel).GetAwaiter().GetResult();
        }
        Console.Error.WriteLine($"data: {(path ?? kind.ToString())}");
        resolved = path;
        var split = DatasetLoader.Load(kind, path);
        Console.Error.WriteLine($"  {split.Train}");
        Console.Error.WriteLine($"  {split.Test}");
        return split;
    }

    public static (Weights.ResNet18.ResNet18Weights Weights, string Path) LoadWeights(string? path, CancellationToken cancel)
    {
        if (path is null)
        {
            using var downloader = new FileDownloader();
            path = downloader.EnsureAsync(DownloadSource.BaseModel, cancel).GetAwaiter().GetResult();
        }
        var weights = ModelFiles.Read(path);
        Console.Error.WriteLine($"weights: {path} (ResNet18, width {weights.Width}, {weights.NumClasses} classes)");
        return (weights, path);
    }

    /// <summary>"3", "cat" (any case) or "all" -> class indices.</summary>
    public static int[] ParseForgetClasses(string text, IReadOnlyList<string> classNames)
    {
        text = text.Trim();
        if (text.Equals("all", StringComparison.OrdinalIgnoreCase)) return Enumerable.Range(0, classNames.Count).ToArray();
        if (int.TryParse(text, out int k))
        {
            if (k >= 0 && k < classNames.Count) return [k];
            throw new UserError($"--forget-class {k} is outside 0..{classNames.Count - 1}");
        }
        for (int i = 0; i < classNames.Count; i++)
            if (string.Equals(classNames[i], text, StringComparison.OrdinalIgnoreCase)) return [i];
        throw new UserError($"--forget-class '{text}' is not a class index, a class name ({string.Join(", ", classNames)}) or 'all'");
    }
}
