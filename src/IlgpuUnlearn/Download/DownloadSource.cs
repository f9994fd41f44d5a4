namespace IlgpuUnlearn.Download;

/// <summary>
/// A file to fetch: its name in the cache, where it lives, and what verifies it.
/// With no <see cref="Md5"/>, the server's Content-Length must match the bytes received, and the file must be
/// at least <see cref="MinimumSize"/> bytes when that is given.
/// </summary>
public sealed record DownloadSource(string Description, string FileName, Uri Address, string? Md5 = null, long? MinimumSize = null)
{
    /// <summary>CIFAR-10, binary version (about 163 MB), from its authors.</summary>
    public static DownloadSource Cifar10Binary { get; } = new(
        "CIFAR-10 (binary version)",
        "cifar-10-binary.tar.gz",
        new Uri("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"),
        Md5: "c32a1d4ab5d03f1284b67883e8d87530");

    /// <summary>The base ResNet18 trained on CIFAR-10 (about 45 MB), from Hugging Face; no MD5 is published.</summary>
    public static DownloadSource BaseModel { get; } = new(
        "base model resnet18_cifar10_full.pth",
        "resnet18_cifar10_full.pth",
        new Uri("https://huggingface.co/jaeunglee/resnet18-cifar10-unlearning/resolve/main/resnet18_cifar10_full.pth"),
        MinimumSize: 40_000_000);

    /// <summary>Where the base model and the retrained references are published (Hugging Face, jaeunglee/resnet18-cifar10-unlearning).</summary>
    public const string ModelRepository = "https://huggingface.co/jaeunglee/resnet18-cifar10-unlearning/resolve/main/";

    /// <summary>
    /// The published ResNet18 retrained on CIFAR-10 without class <paramref name="className"/> (resnet18_cifar10_no_{class}.pth,
    /// e.g. resnet18_cifar10_no_cat.pth, about 45 MB), beside the base model: the exact-unlearning reference.
    /// </summary>
    /// <exception cref="ArgumentException">A name that is not a plain lower-case word (a CIFAR-10 class name).</exception>
    public static DownloadSource RetrainedModel(string className)
    {
        ArgumentNullException.ThrowIfNull(className);
        string name = className.Trim().ToLowerInvariant();
        if (name.Length == 0 || !name.All(char.IsAsciiLetterLower))
            throw new ArgumentException($"'{className}' is not a class name the retrained models are published under");
        string file = $"resnet18_cifar10_no_{name}.pth";
        return new DownloadSource($"retrained model {file}", file, new Uri(ModelRepository + file), MinimumSize: 40_000_000);
    }

    /// <summary>The sources the program knows, by a short name: cifar10, base-model, retrained-&lt;class&gt; (one per file).</summary>
    public static IReadOnlyDictionary<string, DownloadSource> Known { get; } = new Dictionary<string, DownloadSource>(StringComparer.OrdinalIgnoreCase)
    {
        ["cifar10"] = Cifar10Binary,
        ["base-model"] = BaseModel,
        ["retrained-airplane"] = RetrainedModel("airplane"),
        ["retrained-automobile"] = RetrainedModel("automobile"),
        ["retrained-bird"] = RetrainedModel("bird"),
        ["retrained-cat"] = RetrainedModel("cat"),
        ["retrained-deer"] = RetrainedModel("deer"),
        ["retrained-dog"] = RetrainedModel("dog"),
        ["retrained-frog"] = RetrainedModel("frog"),
        ["retrained-horse"] = RetrainedModel("horse"),
        ["retrained-ship"] = RetrainedModel("ship"),
        ["retrained-truck"] = RetrainedModel("truck"),
    };
}
