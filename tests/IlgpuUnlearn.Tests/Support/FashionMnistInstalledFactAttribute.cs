using IlgpuUnlearn.Data;

namespace IlgpuUnlearn.Tests.Support;

/// <summary>
/// A test on Debian's real Fashion-MNIST files (<c>dataset-fashion-mnist</c>, in /usr/share/datasets/fashion-mnist). Where
/// they are not installed the test is reported as skipped with that reason (never as passed); <c>scripts/test-setup.sh</c>, the
/// README's test command, installs them, so there it runs.
/// </summary>
public sealed class FashionMnistInstalledFactAttribute : FactAttribute
{
    public FashionMnistInstalledFactAttribute()
    {
        string[] files = [FashionMnist.TrainImagesFile, FashionMnist.TrainLabelsFile, FashionMnist.TestImagesFile, FashionMnist.TestLabelsFile];
        if (!files.All(f => File.Exists(Path.Combine(FashionMnist.DebianFolder, f))))
            Skip = $"Debian's dataset-fashion-mnist is not installed in {FashionMnist.DebianFolder} (bash scripts/test-setup.sh installs it)";
    }
}
