using IlgpuUnlearn.Weights.ResNet18;

namespace IlgpuUnlearn.Weights.Tests;

/// <summary>Files written by real PyTorch (fixtures/make_fixtures.py), read and compared value by value.</summary>
public class TorchReaderTests
{
    [Theory]
    [InlineData("resnet_w4_zip.pth", WeightsFileFormat.TorchZip, null, false, false)]
    [InlineData("resnet_w4_legacy.pth", WeightsFileFormat.TorchLegacy, null, false, false)]
    [InlineData("resnet_w4_wrapped_module.pth", WeightsFileFormat.TorchZip, "model_state_dict", true, false)]
    [InlineData("resnet_w4_kuangliu_net.pth", WeightsFileFormat.TorchLegacy, "net", false, true)]
    public void ResNetFixtureMapsWithEveryValueEqualToTorch(string file, WeightsFileFormat format, string? wrapper, bool prefixed, bool kuangliu)
    {
        LoadedWeights loaded = WeightsFile.Load(TestFiles.Fixture(file));
        Assert.Equal(format, loaded.Format);
        Assert.Equal(wrapper, loaded.WrapperKey);
        Assert.Equal(prefixed ? "module." : "", loaded.StrippedPrefix);

        ResNet18Weights weights = ResNet18Mapping.Map(loaded.Tensors, file, TestFiles.FixtureWidth);
        Dictionary<string, double[]> expected = TestFiles.ExpectedResNetValues();
        Assert.Equal(expected.Count, weights.Tensors.Count);
        foreach (MappedTensor tensor in weights.Tensors)
        {
            double[] want = expected[tensor.CanonicalName];
            Assert.Equal(want.Length, tensor.Values.Length);
            for (int i = 0; i < want.Length; i++)
            {
                Assert.Equal(want[i], (double)tensor.Values[i]);
            }
            bool counter = tensor.CanonicalName.EndsWith("num_batches_tracked", StringComparison.Ordinal);
            Assert.Equal(counter ? TensorDType.Int64 : TensorDType.Float32, tensor.SourceDType);
        }
        Assert.Equal(kuangliu ? "linear.weight" : "fc.weight", weights["fc.weight"].SourceName);
        Assert.Equal(kuangliu ? "layer2.0.shortcut.0.weight" : "layer2.0.downsample.0.weight", weights["layer2.0.downsample.0.weight"].SourceName);
    }

    [Theory]
    [InlineData("dtypes.pth")]
    [InlineData("dtypes_legacy.pth")]
    public void EveryDTypeStridedAndSharedTensorMatchesTorch(string file)
    {
        StateDict tensors = WeightsFile.Load(TestFiles.Fixture(file)).Tensors;
        var expected = TestFiles.ExpectedDTypeTensors();
        Assert.Equal(expected.Select(e => e.Name), tensors.Keys);
        foreach ((string name, TestFiles.ExpectedTensor want) in expected)
        {
            StoredTensor tensor = tensors[name];
            Assert.Equal(want.DType, tensor.DType.TorchName());
            Assert.Equal(want.Shape, tensor.Shape);
            Assert.Equal(want.Values, TestFiles.ValuesOf(tensor));
        }
    }

    [Fact]
    public void Int64ValuesBeyondFloatPrecisionAreExact()
    {
        StoredTensor i64 = WeightsFile.Load(TestFiles.Fixture("dtypes.pth")).Tensors["i64"];
        Assert.Equal(new long[] { -3, 0, (1L << 40) + 5 }, i64.ToInt64());
    }

    [Fact]
    public void ArchiveFolderNameDoesNotMatter()
    {
        // torch names the folder after the file; a renamed file keeps its old folder name inside.
        string folder = TestFiles.NewTempFolder();
        string renamed = Path.Combine(folder, "something_else.pth");
        File.Copy(TestFiles.Fixture("resnet_w4_zip.pth"), renamed);
        Assert.Equal(122, WeightsFile.Load(renamed).Tensors.Count);
        Directory.Delete(folder, true);
    }
}
