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
    public const string DatasetHelp = "cifar10, fashion-mnist (1x28x28 grey, padded to 3x32x32 for a model whose conv1 reads 3 channels) or synthetic";
    public const string MeanHelp = "The model's input normalisation: a preset (cifar10, fashion-mnist, mnist, imagenet, half, none) or the per-channel means " +
        "of pixels scaled to [0, 1], comma-separated (one value: every channel). Default: fashion-mnist for grey Fashion-MNIST models, else cifar10";
    public const string StdHelp = "The per-channel standard deviations that go with --mean (or a preset name)";
    public const string WeightsHelp = "The model to start from (.pth, .pt or .safetensors; torchvision or pytorch-cifar names). " +
        "Default: the base model jaeunglee/resnet18-cifar10-unlearning (resnet18_cifar10_full.pth), downloaded once into the cache";

    public static DatasetSplit LoadData(string dataset, string? path, CancellationToken cancel)
    {
        var kind = DatasetLoader.ParseKind(dataset);
        if (path is null && kind == DatasetKind.Cifar10)
        {
            using var downloader = new FileDownloader();
            path = downloader.EnsureAsync(DownloadSource.Cifar10Binary, cancel).GetAwaiter().GetResult();
        }
        Console.Error.WriteLine($"data: {(path ?? kind.ToString())}");
        var split = DatasetLoader.Load(kind, path);
        Console.Error.WriteLine($"  {split.Train}");
        Console.Error.WriteLine($"  {split.Test}");
        return split;
    }

    /// <summary>Refuses, before any work, a run that would need a base model where none is published (only CIFAR-10 has one).</summary>
    public static void RequireWeights(string dataset, string? weights)
    {
        var kind = DatasetLoader.ParseKind(dataset);
        if (weights is null && kind != DatasetKind.Cifar10)
        {
            string name = kind == DatasetKind.FashionMnist ? "fashion-mnist" : "synthetic";
            throw new UserError($"--dataset {dataset} has no published base model: needs --weights (or `train` one: " +
                $"ilgpu-unlearn demo --dataset {name} saves DIR/{name}_resnet18_base.pth)");
        }
    }

    /// <summary>
    /// The network <paramref name="weights"/> is and the data as it reads them: input channels from conv1.weight, image size
    /// from the data; grey images padded to 3x32x32 for a model that reads colour (ALGORITHM.md "Data"); the normalisation
    /// from --mean/--std, else fashion-mnist's for grey images and cifar10's for colour ones. Prints both; refuses data the
    /// model cannot read.
    /// </summary>
    public static (DatasetSplit Data, ResNet18Config Config) FitModel(DatasetSplit data, Weights.ResNet18.ResNet18Weights weights,
        string? mean, string? std)
    {
        int channels = weights.InputChannels;
        if (data.Train.Channels == 1 && channels == 3)
        {
            data = FashionMnistReader.PadToRgb(data);
            Console.Error.WriteLine($"  grey images padded to 3x{data.Train.Height}x{data.Train.Width}, grey copied to R, G and B (the model's conv1 reads 3 channels)");
        }
        if (data.Train.Channels != channels)
            throw new UserError($"the model reads {channels}-channel images (conv1.weight is {weights.Width}x{channels}x3x3), " +
                $"the data holds {data.Train.Channels}-channel ones");
        if (data.Train.Height != data.Train.Width)
            throw new UserError($"the data's images are {data.Train.Height}x{data.Train.Width}; the network takes square images");
        var fallback = channels == 1 ? InputNormalization.FashionMnist : InputNormalization.Cifar10;
        var normalization = InputNormalization.Parse(mean, std, fallback).ForChannels(channels);
        bool chosen = !string.IsNullOrWhiteSpace(mean) || !string.IsNullOrWhiteSpace(std);
        Console.Error.WriteLine($"normalisation: {normalization} ({normalization.Source}; {(chosen ? "--mean/--std" : "default, change with --mean/--std")})");
        return (data, ModelFiles.ConfigOf(weights, data.Train.Height) with { Normalization = normalization });
    }

    public static (Weights.ResNet18.ResNet18Weights Weights, string Path) LoadWeights(string? path, CancellationToken cancel)
    {
        if (path is null)
        {
            using var downloader = new FileDownloader();
            path = downloader.EnsureAsync(DownloadSource.BaseModel, cancel).GetAwaiter().GetResult();
        }
        var weights = ModelFiles.Read(path);
        Console.Error.WriteLine($"weights: {path} (ResNet18, width {weights.Width}, {weights.NumClasses} classes, {weights.InputChannels}-channel input)");
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
