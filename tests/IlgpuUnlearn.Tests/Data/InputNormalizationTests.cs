using IlgpuUnlearn.Data;
using IlgpuUnlearn.Tests.Support;

namespace IlgpuUnlearn.Tests.Data;

public sealed class InputNormalizationTests
{
    [Theory]
    [InlineData("cifar10", null, "cifar10")]
    [InlineData(null, "fashion-mnist", "fashion-mnist")]
    [InlineData("FMNIST", "fashion_mnist", "fashion-mnist")]
    [InlineData("imagenet", "imagenet", "imagenet")]
    [InlineData("none", null, "none")]
    public void APresetNameInEitherOptionGivesThePreset(string? mean, string? std, string preset) =>
        Assert.Equal(preset, InputNormalization.Parse(mean, std, InputNormalization.Cifar10).Name);

    [Fact]
    public void NothingGivenKeepsTheFallback() =>
        Assert.Same(InputNormalization.FashionMnist, InputNormalization.Parse(null, " ", InputNormalization.FashionMnist));

    [Fact]
    public void NumbersArePerChannelOrOneForAll()
    {
        var perChannel = InputNormalization.Parse("0.5, 0.25,0", "0.2,0.3,1", InputNormalization.Cifar10);
        Assert.Equal(new[] { 0.5f, 0.25f, 0f }, perChannel.Mean);
        Assert.Equal(new[] { 0.2f, 0.3f, 1f }, perChannel.Std);
        var oneForAll = InputNormalization.Parse("0.5", "0.2,0.3,0.4", InputNormalization.Cifar10);
        Assert.Equal(new[] { 0.5f, 0.5f, 0.5f }, oneForAll.Mean);
    }

    [Fact]
    public void AOneValuePresetRepeatsOnEveryChannelAndAThreeValueOneFitsOnlyThree()
    {
        var grey = InputNormalization.FashionMnist.ForChannels(3);
        Assert.Equal(new[] { 0.2860f, 0.2860f, 0.2860f }, grey.Mean);
        Assert.Equal(new[] { 0.3530f, 0.3530f, 0.3530f }, grey.Std);
        Assert.Same(InputNormalization.Cifar10, InputNormalization.Cifar10.ForChannels(3));
        var e = Assert.Throws<ArgumentException>(() => InputNormalization.Cifar10.ForChannels(1));
        Assert.Contains("cifar10 has 3 values", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0.5", null, "--std is missing")]
    [InlineData("0.5,0.5", "0.2,0.2,0.2", "--mean has 2 values and --std 3")]
    [InlineData("1.5", "0.2", "--mean 1.5 is outside [0, 1]")]
    [InlineData("0.5", "-0.2", "--std -0.2 is outside (0, 1]")]
    [InlineData("cifar10", "imagenet", "--std 'imagenet': with the preset cifar10")]
    [InlineData("half", "0.5", "--std '0.5': with the preset half")]
    [InlineData("0.5", "abc", "--std 'abc': 'abc' is neither a number nor a preset")]
    public void BadValuesAreRefusedNamingTheOption(string? mean, string? std, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => InputNormalization.Parse(mean, std, InputNormalization.Cifar10));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    /// <summary>The Fashion-MNIST preset is the training images' own statistics (pixels / 255: mean 0.28604, population std 0.35302).</summary>
    [FashionMnistInstalledFact]
    public void TheFashionMnistPresetIsTheTrainingImagesStatistics()
    {
        string file = Path.Combine(FashionMnist.DebianFolder, FashionMnist.TrainImagesFile);
        var (pixels, _, _, _) = IdxReader.ReadImages(file);
        double sum = 0, squares = 0;
        foreach (byte p in pixels) { sum += p / 255.0; squares += p / 255.0 * (p / 255.0); }
        double mean = sum / pixels.Length, std = Math.Sqrt(squares / pixels.Length - mean * mean);
        Assert.Equal(mean, InputNormalization.FashionMnist.Mean[0], 4);   // the preset keeps 4 decimals
        Assert.Equal(std, InputNormalization.FashionMnist.Std[0], 4);
    }
}
