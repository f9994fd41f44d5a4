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
    public const string DatasetHelp = "cifar10, fashion-mnist (1x28x28 grey, padded to 3x32x32 for a model whose conv1 reads 3 channels) or synthetic. " +
        "The default is the model card's data set";
    public const string MeanHelp = "The model's input normalisation: a preset (cifar10, fashion-mnist, mnist, imagenet, half, none) or the per-channel means " +
        "of pixels scaled to [0, 1], comma-separated: one per input channel of the model (1 for a grey model, 3 for colour), or one for every channel. " +
        "Default: fashion-mnist for grey Fashion-MNIST models, else cifar10";
    public const string StdHelp = "The per-channel standard deviations that go with --mean (or a preset name). Default: those of the --mean preset";
    public const string WeightsHelp = "The model to start from (.pth, .pt or .safetensors; torchvision or pytorch-cifar names). " +
        "Default: the base model jaeunglee/resnet18-cifar10-unlearning (resnet18_cifar10_full.pth), downloaded once into the cache";
    public const string EvalWeightsHelp = "The model to evaluate (.pth, .pt or .safetensors; torchvision or pytorch-cifar names). " +
        "Default: the base model jaeunglee/resnet18-cifar10-unlearning (resnet18_cifar10_full.pth), downloaded once into the cache";
    public const string LimitHelp = "Use at most N images of each split (train and test): the first N/10 of each class. For a quick trial.";

    /// <summary>
    /// --data for a dataset, checked before anything loads: a path the user gave must exist; Fashion-MNIST without one
    /// needs Debian's folder. Returns the path as given (null: the default).
    /// </summary>
    public static string? CheckData(DatasetKind kind, string? path)
    {
        CheckDataPath(kind, path);
        if (path is null && kind == DatasetKind.FashionMnist && !Directory.Exists(FashionMnist.DebianFolder))
            throw new UserError($"--dataset fashion-mnist needs --data FOLDER (its four IDX files, or torchvision's root holding FashionMNIST/raw/); " +
                                $"Debian's {FashionMnist.DebianFolder} is not here (apt-get install dataset-fashion-mnist)");
        return path;
    }

    /// <summary>
    /// --data exists and is what the dataset reads: Fashion-MNIST a folder (of its IDX files); CIFAR-10 a folder or a .tar.gz
    /// archive. A file where a folder is expected is one line that says so and names the folder that holds it.
    /// </summary>
    public static void CheckDataPath(DatasetKind kind, string? path)
    {
        PlanChecks.InputPath(path, "--data");
        if (path is null || !File.Exists(path)) return;
        string folder = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        if (kind == DatasetKind.FashionMnist)
            throw new UserError($"--data {path} is a file; with --dataset fashion-mnist, --data names the folder of its four IDX files " +
                                $"({FashionMnist.TrainImagesFile}, ...), here perhaps {folder}");
        if (kind == DatasetKind.Cifar10 && !path.EndsWith(".tar.gz", StringComparison.OrdinalIgnoreCase) && !path.EndsWith(".tgz", StringComparison.OrdinalIgnoreCase))
            throw new UserError($"--data {path} is a file but not a .tar.gz archive; CIFAR-10's --data is a folder (cifar-10-batches-bin/, " +
                                $"cifar-10-batches-py/, or one holding them; here perhaps {folder}) or cifar-10-binary.tar.gz / cifar-10-python.tar.gz");
    }

    /// <summary>
    /// What <see cref="FitModel"/> checks that the dataset's kind and the options alone decide, run right after the weights
    /// are read (the first moment the model's input channels are known) and before the data is: the number of classes, a
    /// grey model given colour data, and --mean/--std with as many values as the model has input channels (or one).
    /// </summary>
    public static void CheckWeightsFitDataset(ResNet18Weights weights, string path, DatasetKind kind, int classCount, string? mean, string? std)
    {
        if (weights.NumClasses != classCount)
            throw new UserError($"--weights {path}: the model has {weights.NumClasses} classes, the data {classCount}");
        if (weights.InputChannels == 1 && kind != DatasetKind.FashionMnist)
            throw new UserError($"--weights {path}: the model reads 1-channel images (conv1.weight is {weights.Width}x1x3x3), " +
                $"--dataset {(kind == DatasetKind.Cifar10 ? "cifar10" : "synthetic")} holds 3-channel ones");
        CheckNormalizationChannels(weights, path, mean, std);
    }

    /// <summary>
    /// --mean/--std give one value (every channel) or one per input channel of the model: "--mean cifar10: 3 values per
    /// statistic, but --weights grey.pth reads 1-channel images (conv1.weight is 16x1x3x3); give 1 value ...".
    /// </summary>
    static void CheckNormalizationChannels(ResNet18Weights weights, string path, string? mean, string? std)
    {
        var normalization = InputNormalization.Parse(mean, std, InputNormalization.DefaultFor(weights.InputChannels));
        int channels = weights.InputChannels;
        if (normalization.Channels == 1 || normalization.Channels == channels) return;
        string given = string.Join(" ", new[] { ("--mean", mean), ("--std", std) }
            .Where(o => !string.IsNullOrWhiteSpace(o.Item2)).Select(o => $"{o.Item1} {o.Item2!.Trim()}"));
        string presets = string.Join(", ", InputNormalization.Presets.Where(p => p.Channels == 1 || p.Channels == channels).Select(p => p.Name));
        throw new UserError($"{given}: {normalization.Channels} values per statistic, but --weights {path} reads {channels}-channel images " +
            $"(conv1.weight is {weights.Width}x{channels}x3x3); give {(channels == 1 ? "1 value" : $"{channels} values (or 1 for every channel)")} " +
            $"to --mean and --std, or a preset that fits ({presets})");
    }

    /// <summary>The plan's data (CIFAR-10 downloaded when no --data), cut to --limit; says which file or folder was read.</summary>
    public static DatasetSplit LoadData(RunPlan plan, CancellationToken cancel) => LoadData(plan, cancel, out _);

    /// <summary>As <see cref="LoadData(RunPlan, CancellationToken)"/>; <paramref name="resolved"/> is the file or folder read (null for synthetic data).</summary>
    public static DatasetSplit LoadData(RunPlan plan, CancellationToken cancel, out string? resolved)
    {
        string? path = plan.DataPath;
        if (path is null && plan.Dataset == DatasetKind.Cifar10) path = Downloads.Ensure(DownloadSource.Cifar10Binary, cancel);
        if (plan.Dataset == DatasetKind.FashionMnist) path = FashionMnistReader.Locate(path ?? FashionMnist.DebianFolder);
        Console.Error.WriteLine(path is null ? "data: generated (synthetic shapes)" : $"data: {Path.GetFullPath(path)}");
        resolved = path;
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

    /// <summary>Refuses, before any work, a run that would need a base model where none is published (only CIFAR-10 has one).</summary>
    public static void RequireWeights(DatasetKind kind, string? weights)
    {
        if (weights is null && kind != DatasetKind.Cifar10)
        {
            string name = kind == DatasetKind.FashionMnist ? "fashion-mnist" : "synthetic";
            throw new UserError($"--dataset {name} has no published base model: needs --weights (or `train` one: " +
                $"ilgpu-unlearn demo --dataset {name} saves DIR/{name}_resnet18_base.pth)");
        }
    }

    /// <summary>
    /// The network <paramref name="weights"/> is and the data as it reads them: input channels from conv1.weight, image size
    /// from the data; grey images padded to 3x32x32 for a model that reads colour (docs/methods.md); the normalisation
    /// from --mean/--std, else fashion-mnist's for grey images and cifar10's for colour ones. Prints both; refuses data the
    /// model cannot read.
    /// </summary>
    public static (DatasetSplit Data, ResNet18Config Config) FitModel(DatasetSplit data, ResNet18Weights weights, string path,
        string? mean, string? std)
    {
        if (weights.NumClasses != data.Test.ClassCount)
            throw new UserError($"--weights {path}: the model has {weights.NumClasses} classes, the data {data.Test.ClassCount}");
        int channels = weights.InputChannels;
        if (data.Train.Channels == 1 && channels == 3)
        {
            data = FashionMnistReader.PadToRgb(data);
            Console.Error.WriteLine($"  grey images padded to 3x{data.Train.Height}x{data.Train.Width}, grey copied to R, G and B (the model's conv1 reads 3 channels)");
        }
        if (data.Train.Channels != channels)
            throw new UserError($"--weights {path}: the model reads {channels}-channel images (conv1.weight is {weights.Width}x{channels}x3x3), " +
                $"the data holds {data.Train.Channels}-channel ones");
        if (data.Train.Height != data.Train.Width)
            throw new UserError($"the data's images are {data.Train.Height}x{data.Train.Width}; the network takes square images");
        var fallback = InputNormalization.DefaultFor(channels);
        var normalization = InputNormalization.Parse(mean, std, fallback).ForChannels(channels);
        bool chosen = !string.IsNullOrWhiteSpace(mean) || !string.IsNullOrWhiteSpace(std);
        Console.Error.WriteLine($"normalisation: {normalization} ({normalization.Source}; {(chosen ? "--mean/--std" : "default, change with --mean/--std")})");
        return (data, ModelFiles.ConfigOf(weights, data.Train.Height) with { Normalization = normalization });
    }

    /// <summary>--limit N: at least one image of each class.</summary>
    public static int? CheckLimit(int? limit, int classCount) =>
        limit is { } n && n < classCount ? throw new UserError($"--limit must be at least {classCount} (one image of each class), got {n}") : limit;

    public static (ResNet18Weights Weights, string Path) LoadWeights(string? path, CancellationToken cancel)
    {
        path ??= Downloads.Ensure(DownloadSource.BaseModel, cancel);
        var weights = ModelFiles.Read(path);
        Console.Error.WriteLine($"weights: {Path.GetFullPath(path)} (ResNet18, width {weights.Width}, {weights.NumClasses} classes, {weights.InputChannels}-channel input)");
        foreach (string note in weights.Notes) Console.Error.WriteLine($"warning: {path}: {note}");
        return (weights, path);
    }

    /// <summary>--mean/--std checked before anything loads (a preset name, or numbers in range, as many of each).</summary>
    public static void CheckNormalization(string? mean, string? std) => InputNormalization.Parse(mean, std, InputNormalization.Cifar10);
}
