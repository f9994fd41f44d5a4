using IlgpuUnlearn.Weights.ResNet18;

namespace IlgpuUnlearn.Weights.Tests;

public class ResNet18MappingTests
{
    [Fact]
    public void FullWidthLayoutHasTheTorchvisionKeysAndParameterCount()
    {
        IReadOnlyList<ResNet18TensorSpec> layout = ResNet18StateDictLayout.Cifar();
        Assert.Equal(122, layout.Count);
        Assert.Equal(11_173_962, ResNet18StateDictLayout.ParameterCount());
        Assert.Equal("conv1.weight", layout[0].Name);
        Assert.Equal([64, 3, 3, 3], layout[0].Shape);
        Assert.Equal("fc.bias", layout[^1].Name);
        ResNet18TensorSpec downsample = layout.Single(s => s.Name == "layer3.0.downsample.0.weight");
        Assert.Equal([256, 128, 1, 1], downsample.Shape);
        Assert.Equal(TensorDType.Int64, layout.Single(s => s.Name == "bn1.num_batches_tracked").DType);
        Assert.Empty(layout.Single(s => s.Name == "bn1.num_batches_tracked").Shape);
    }

    [Fact]
    public void NarrowLayoutScalesWidthAndClasses()
    {
        IReadOnlyList<ResNet18TensorSpec> layout = ResNet18StateDictLayout.Cifar(width: 8, numClasses: 3);
        Assert.Equal([3, 64], layout.Single(s => s.Name == "fc.weight").Shape);
        Assert.Equal([64, 64, 3, 3], layout.Single(s => s.Name == "layer4.1.conv2.weight").Shape);
    }

    [Fact]
    public void KuangliuNamesMapToTorchvisionNames()
    {
        Assert.Equal("layer2.0.downsample.1.running_var", ResNet18Mapping.CanonicalNameOf("layer2.0.shortcut.1.running_var"));
        Assert.Equal("fc.weight", ResNet18Mapping.CanonicalNameOf("linear.weight"));
        Assert.Equal("layer1.0.conv1.weight", ResNet18Mapping.CanonicalNameOf("layer1.0.conv1.weight"));
    }

    [Fact]
    public void WritingBackKeepsTheFileNamesAndDTypes()
    {
        StateDict source = SyntheticStateDict(width: 2, kuangliu: true, dtype: TensorDType.Float16);
        ResNet18Weights weights = ResNet18Mapping.Map(source, "synthetic", width: 2);
        StateDict written = weights.ToStateDict();
        Assert.Equal(source.Keys, written.Keys);
        foreach ((string key, StoredTensor tensor) in source)
        {
            Assert.Equal(tensor.DType, written[key].DType);
            Assert.Equal(tensor.Data, written[key].Data);
        }
        Assert.Equal(TensorDType.Int64, written["bn1.num_batches_tracked"].DType);
        StateDict canonical = weights.ToCanonicalStateDict();
        Assert.True(canonical.ContainsKey("fc.weight"));
        Assert.Equal(TensorDType.Float32, canonical["fc.weight"].DType);
    }

    [Fact]
    public void MissingUnexpectedAndMisshapenTensorsAreNamedWithShapes()
    {
        StateDict source = SyntheticStateDict(width: 2, kuangliu: false, dtype: TensorDType.Float32);
        var broken = new StateDict();
        foreach ((string key, StoredTensor tensor) in source)
        {
            if (key == "layer1.0.bn1.bias")
            {
                continue; // missing
            }
            broken.Set(key, key == "fc.weight" ? StoredTensor.FromFloat32(TensorDType.Float32, [10, 15], new float[150]) : tensor);
        }
        broken.Set("extra.weight", StoredTensor.FromFloat32(TensorDType.Float32, [3], new float[3]));
        var error = Assert.Throws<WeightsFormatException>(() => ResNet18Mapping.Map(broken, "broken.pth", width: 2));
        Assert.StartsWith("broken.pth: ", error.Message);
        Assert.Contains("missing tensor layer1.0.bn1.bias [2]", error.Message);
        Assert.Contains("unexpected tensor extra.weight [3]", error.Message);
        Assert.Contains("fc.weight has shape [10, 15] but the model expects [10, 16]", error.Message);
    }

    [Fact]
    public void WrongWidthIsReportedAsShapeMismatch()
    {
        StateDict source = SyntheticStateDict(width: 2, kuangliu: false, dtype: TensorDType.Float32);
        var error = Assert.Throws<WeightsFormatException>(() => ResNet18Mapping.Map(source, "w2.pth", width: 4));
        Assert.Contains("conv1.weight has shape [2, 3, 3, 3] but the model expects [4, 3, 3, 3]", error.Message);
        Assert.Equal(2, ResNet18Mapping.InferWidth(source));
        Assert.Equal(10, ResNet18Mapping.InferClasses(source));
    }

    [Fact]
    public void ImageNetResNet18IsRefusedWithAMessageThatSaysSo()
    {
        var imagenet = new StateDict();
        imagenet.Set("conv1.weight", StoredTensor.FromFloat32(TensorDType.Float32, [4, 3, 7, 7], new float[4 * 3 * 49]));
        imagenet.Set("fc.weight", StoredTensor.FromFloat32(TensorDType.Float32, [1000, 32], new float[32000]));
        var error = Assert.Throws<WeightsFormatException>(() => ResNet18Mapping.Map(imagenet, "resnet18-imagenet.pth", width: 4));
        Assert.Contains("ImageNet-style torchvision ResNet18", error.Message);
        Assert.Contains("7x7", error.Message);
        Assert.Contains("1000 output classes", error.Message);
    }

    /// <summary>A complete state dict of the given width with distinct values, in either naming style.</summary>
    internal static StateDict SyntheticStateDict(int width, bool kuangliu, TensorDType dtype)
    {
        var stateDict = new StateDict();
        int seed = 0;
        foreach (ResNet18TensorSpec spec in ResNet18StateDictLayout.Cifar(width))
        {
            string name = spec.Name;
            if (kuangliu)
            {
                name = name.Replace(".downsample.", ".shortcut.", StringComparison.Ordinal);
                name = name.StartsWith("fc.", StringComparison.Ordinal) ? "linear." + name[3..] : name;
            }
            long count = StoredTensor.ElementCountOf(spec.Shape);
            if (spec.DType == TensorDType.Int64)
            {
                stateDict.Set(name, StoredTensor.FromInt64(TensorDType.Int64, spec.Shape, [1000 + seed++]));
                continue;
            }
            float[] values = Enumerable.Range(0, (int)count).Select(i => (float)((i + seed) % 17 - 8) / 8).ToArray();
            seed++;
            stateDict.Set(name, StoredTensor.FromFloat32(dtype, spec.Shape, values));
        }
        return stateDict;
    }
}
