namespace IlgpuUnlearn.Data;

/// <summary>One entry point for the command line: a dataset by kind and path.</summary>
public static class DatasetLoader
{
    /// <summary>"cifar10", "fashion-mnist" or "synthetic" (case and '-'/'_' ignored).</summary>
    public static DatasetKind ParseKind(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal).ToLowerInvariant() switch
        {
            "cifar10" or "cifar" => DatasetKind.Cifar10,
            "fashionmnist" or "fmnist" => DatasetKind.FashionMnist,
            "synthetic" or "synth" => DatasetKind.Synthetic,
            _ => throw new ArgumentException($"unknown dataset '{name}' (cifar10, fashion-mnist, synthetic)", nameof(name)),
        };
    }

    /// <summary>The class names of a dataset, known before any file is read (so a --forget-class name is checked first).</summary>
    public static IReadOnlyList<string> ClassNames(DatasetKind kind) => kind switch
    {
        DatasetKind.Cifar10 => Cifar10.ClassNames,
        DatasetKind.FashionMnist => FashionMnist.ClassNames,
        DatasetKind.Synthetic => SyntheticDataset.ClassNames,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <param name="path">CIFAR-10: folder or archive (required); Fashion-MNIST: folder (default: Debian's); synthetic: unused.</param>
    /// <param name="seed">Synthetic set only.</param>
    /// <param name="syntheticTrainPerClass">Synthetic set only.</param>
    /// <param name="syntheticTestPerClass">Synthetic set only.</param>
    public static DatasetSplit Load(DatasetKind kind, string? path, int seed = 0, int syntheticTrainPerClass = 500, int syntheticTestPerClass = 100) => kind switch
    {
        DatasetKind.Cifar10 => Cifar10Reader.Load(path ?? throw new ArgumentException(
            "CIFAR-10 needs a path: a cifar-10-batches-bin/ or cifar-10-batches-py/ folder, or its .tar.gz", nameof(path))),
        DatasetKind.FashionMnist => FashionMnistReader.Load(path ?? FashionMnist.DebianFolder),
        DatasetKind.Synthetic => SyntheticDataset.Generate(syntheticTrainPerClass, syntheticTestPerClass, seed),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
