namespace IlgpuUnlearn.Data;

/// <summary>The datasets the program can unlearn on.</summary>
public enum DatasetKind
{
    /// <summary>CIFAR-10, binary or python version, from a folder or .tar.gz.</summary>
    Cifar10,

    /// <summary>Fashion-MNIST from a folder of IDX files: 1x28x28 grey (padded to 3x32x32 for a colour network).</summary>
    FashionMnist,

    /// <summary>The seeded 10-class synthetic set (no files needed).</summary>
    Synthetic,
}
