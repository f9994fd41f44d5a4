namespace IlgpuUnlearn.Data;

/// <summary>CIFAR-10's fixed facts: ten classes in this order, 32x32 RGB images stored planar.</summary>
public static class Cifar10
{
    public const int ClassCount = 10;
    public const int Channels = 3;
    public const int Height = 32;
    public const int Width = 32;

    /// <summary>Bytes of one image: 1,024 red, 1,024 green, 1,024 blue.</summary>
    public const int ImageSize = Channels * Height * Width;

    private static readonly string[] Names =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    public static IReadOnlyList<string> ClassNames => Names;
}
