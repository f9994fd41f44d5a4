using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tests.Support;

namespace IlgpuUnlearn.Tests.Model;

public class ResNet18LayoutTests
{
    [Fact]
    public void FullWidthNetworkHasTheCardsParameterCount()
    {
        var layout = new ResNet18Layout(ResNet18Config.Cifar10);
        Assert.Equal(11_173_962, layout.ParameterCount);
        Assert.Equal(20, layout.BatchNormCount);
        Assert.Equal(new[] { 10, 512 }, layout["fc.weight"].Shape);
        Assert.Equal(new[] { 256, 128, 1, 1 }, layout["layer3.0.downsample.0.weight"].Shape);
    }

    [Fact]
    public void NamesShapesAndOrderMatchPyTorchsStateDict()
    {
        var fixture = FixtureFile.Open(PyTorchFixtureCheck.NarrowFixtureFile);
        var torchNames = fixture.Names.Where(n => n.StartsWith("init.", StringComparison.Ordinal)).Select(n => n["init.".Length..]).ToList();
        var layout = new ResNet18Layout(new ResNet18Config(Width: 8, ImageSize: 16));
        Assert.Equal(torchNames.Order(StringComparer.Ordinal), layout.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
        foreach (var t in layout.Tensors)
            if (t.Role != TensorRole.BatchesTracked) Assert.Equal(fixture.Shape("init." + t.Name), t.Shape);
    }

    [Fact]
    public void ParametersAndStatisticsTileTheirFlatBuffersWithoutGaps()
    {
        var layout = new ResNet18Layout(new ResNet18Config(Width: 4, ImageSize: 8, Classes: 3));
        foreach (var role in new[] { TensorRole.Parameter, TensorRole.RunningStat })
        {
            long next = 0;
            foreach (var t in layout.Tensors.Where(t => t.Role == role))
            {
                Assert.Equal(next, t.Offset);
                next += t.Length;
            }
            Assert.Equal(role == TensorRole.Parameter ? layout.ParameterCount : layout.RunningStatCount, next);
        }
    }

    [Theory]
    [InlineData(0, 32, 10)]
    [InlineData(8, 4, 10)]
    [InlineData(8, 32, 1)]
    public void RejectsConfigurationsTheNetworkCannotHave(int width, int size, int classes) =>
        Assert.Throws<ArgumentException>(() => new ResNet18Layout(new ResNet18Config(width, size, classes)));

    [Fact]
    public void AGreyNetworkReadsOneChannelAndNeedsOneChannelNormalisation()
    {
        var grey = new ResNet18Config(Width: 4, ImageSize: 28, InputChannels: 1) { Normalization = InputNormalization.FashionMnist };
        Assert.Equal(new[] { 4, 1, 3, 3 }, new ResNet18Layout(grey)["conv1.weight"].Shape);
        var mismatched = grey with { Normalization = InputNormalization.Cifar10 };
        var e = Assert.Throws<ArgumentException>(() => new ResNet18Layout(mismatched));
        Assert.Contains("cifar10 has 3 channel(s), the network reads 1", e.Message, StringComparison.Ordinal);
    }

    /// <summary>PyTorch's conv arithmetic (s - 1) / 2 + 1 for the three stride-2 stages: 28 -> 14 -> 7 -> 4, 32 -> 16 -> 8 -> 4.</summary>
    [Theory]
    [InlineData(28, 14, 7, 4)]
    [InlineData(32, 16, 8, 4)]
    public void StridedStagesRoundUpAsPyTorchDoes(int size, int second, int third, int fourth)
    {
        Assert.Equal(second, ResNet18Config.StageSize(size, 2));
        Assert.Equal(third, ResNet18Config.StageSize(second, 2));
        Assert.Equal(fourth, ResNet18Config.StageSize(third, 2));
    }
}
