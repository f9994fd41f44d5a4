using IlgpuUnlearn.Data;
using IlgpuUnlearn.Download;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Weights.ResNet18;

namespace IlgpuUnlearn.Cli.Commands;

/// <summary>Where the data and the weights of a run come from: the user's files, or the cache (downloaded once, verified).</summary>
internal static class DataChoice
{
    public const string DataHelp = "CIFAR-10 as cifar-10-batches-bin/ (or a folder holding it), cifar-10-binary.tar.gz or cifar-10-python.tar.gz; " +
        "with --dataset fashion-mnist, the folder of its IDX files (or torchvision's root holding FashionMNIST/raw/). Default: CIFAR-10 binary, downloaded once into the cache " +
        "($XDG_CACHE_HOME or ~/.cache, subfolder ilgpu-unlearn)";
    public const string DatasetHelp = "cifar10, fashion-mnist or synthetic";
    public const string WeightsHelp = "The model to start from (.pth, .pt or .safetensors; torchvision or pytorch-cifar names). " +
        "Default: the base model jaeunglee/resnet18-cifar10-unlearning (resnet18_cifar10_full.pth), downloaded once into the cache";
    public const string LimitHelp = "Use at most N images of each split (train and test): the first N/10 of each class. For a quick trial.";

    /// <summary>
    /// --data for a dataset, checked before anything loads: a path the user gave must exist; Fashion-MNIST without one
    /// needs Debian's folder. Returns the path as given (null: the default).
    /// </summary>
    public static string? CheckData(DatasetKind kind, string? path)
    {
        PlanChecks.InputPath(path, "--data");
        if (path is null && kind == DatasetKind.FashionMnist && !Directory.Exists(FashionMnist.DebianFolder))
            throw new UserError($"--dataset fashion-mnist needs --data FOLDER (its four IDX files, or torchvision's root holding FashionMNIST/raw/); " +
                                $"Debian's {FashionMnist.DebianFolder} is not here (apt-get install dataset-fashion-mnist)");
        return path;
    }

    /// <summary>The plan's data (CIFAR-10 downloaded when no --data), cut to --limit; says which file or folder was read.</summary>
    public static DatasetSplit LoadData(RunPlan plan, CancellationToken cancel)
    {
        string? path = plan.DataPath;
        if (path is null && plan.Dataset == DatasetKind.Cifar10) path = Downloads.Ensure(DownloadSource.Cifar10Binary, cancel);
        if (plan.Dataset == DatasetKind.FashionMnist) path = FashionMnistReader.Locate(path ?? FashionMnist.DebianFolder);
        Console.Error.WriteLine(path is null ? "data: generated (synthetic shapes)" : $"data: {Path.GetFullPath(path)}");
        var split = DatasetLoader.Load(plan.Dataset, path);
        if (plan.Limit is { } limit)
        {
            int perClass = limit / split.Train.ClassCount;
            split = new DatasetSplit(split.Train.FirstPerClass(perClass), split.Test.FirstPerClass(perClass));
            Console.Error.WriteLine($"  --limit {limit}: the first {perClass} images of each class of each split");
        }
        Console.Error.WriteLine($"  {split.Train}");
        Console.Error.WriteLine($"  {split.Test}");
        return split;
    }

    /// <summary>--limit N: at least one image of each class.</summary>
    public static int? CheckLimit(int? limit, int classCount) =>
        limit is { } n && n < classCount ? throw new UserError($"--limit must be at least {classCount} (one image of each class), got {n}") : limit;

    public static (ResNet18Weights Weights, string Path) LoadWeights(string? path, CancellationToken cancel)
    {
        path ??= Downloads.Ensure(DownloadSource.BaseModel, cancel);
        var weights = ModelFiles.Read(path);
        Console.Error.WriteLine($"weights: {Path.GetFullPath(path)} (ResNet18, width {weights.Width}, {weights.NumClasses} classes)");
        return (weights, path);
    }

    /// <summary>The model's class count must be the data's.</summary>
    public static void CheckFits(ResNet18Weights weights, string path, DatasetSplit data)
    {
        if (weights.NumClasses != data.Test.ClassCount)
            throw new UserError($"--weights {path}: the model has {weights.NumClasses} classes, the data {data.Test.ClassCount}");
    }
}
