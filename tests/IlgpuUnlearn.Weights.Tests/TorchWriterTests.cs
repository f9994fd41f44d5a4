using System.IO.Compression;
using IlgpuUnlearn.Weights.ResNet18;
using IlgpuUnlearn.Weights.Torch;

namespace IlgpuUnlearn.Weights.Tests;

public class TorchWriterTests
{
    [Fact]
    public void WrittenZipHasTorchLayoutWithStoredEntries()
    {
        StateDict tensors = WeightsFile.Load(TestFiles.Fixture("dtypes.pth")).Tensors;
        string folder = TestFiles.NewTempFolder();
        string path = Path.Combine(folder, "model_out.pth");
        WeightsFile.Save(path, tensors);
        using (ZipArchive archive = ZipFile.OpenRead(path))
        {
            var names = archive.Entries.Select(e => e.FullName).ToList();
            Assert.Equal("model_out/data.pkl", names[0]);
            Assert.Contains("model_out/byteorder", names);
            Assert.Contains("model_out/version", names);
            for (int i = 0; i < tensors.Count; i++)
            {
                Assert.Contains($"model_out/data/{i}", names);
            }
            Assert.All(archive.Entries, e => Assert.Equal(e.Length, e.CompressedLength));
        }
        Assert.Single(Directory.GetFiles(folder)); // no temporary file left
        Directory.Delete(folder, true);
    }

    [Fact]
    public void WrittenZipReadsBackIdentically()
    {
        StateDict original = WeightsFile.Load(TestFiles.Fixture("dtypes_legacy.pth")).Tensors;
        using var stream = new MemoryStream();
        TorchZipWriter.Write(stream, original, "archive");
        StateDict again = WeightsFile.Load(stream.ToArray(), "mem.pth").Tensors;
        Assert.Equal(original.Keys, again.Keys);
        foreach ((string name, StoredTensor tensor) in original)
        {
            Assert.Equal(tensor.DType, again[name].DType);
            Assert.Equal(tensor.Shape, again[name].Shape);
            Assert.Equal(tensor.Data, again[name].Data);
        }
    }

    [Fact]
    public void AFailedSaveLeavesNothingBehind()
    {
        string folder = TestFiles.NewTempFolder();
        string target = Path.Combine(folder, "out.pth");
        Directory.CreateDirectory(target); // a folder where the file should go: the final rename fails
        StateDict tensors = WeightsFile.Load(TestFiles.Fixture("dtypes.pth")).Tensors;
        var error = Assert.Throws<WeightsFormatException>(() => WeightsFile.Save(target, tensors));
        Assert.Contains("cannot write the file", error.Message);
        Assert.Empty(Directory.GetFiles(folder));
        Directory.Delete(folder, true);
    }

    [Fact]
    public void AnUnknownOutputExtensionIsRefused()
    {
        var error = Assert.Throws<WeightsFormatException>(() => WeightsFile.Save("model.onnx", new StateDict()));
        Assert.Contains("unknown extension '.onnx'", error.Message);
    }
}

/// <summary>Files the converter writes, loaded and checked by real PyTorch (fixtures/roundtrip_check.py).</summary>
public class PyTorchRoundTripTests
{
    private static readonly Lazy<string?> TorchPython = new(TestFiles.FindTorchPython);

    private static void CheckWithPyTorch(params string[] arguments)
    {
        string python = TorchPython.Value ?? throw new InvalidOperationException(
            "No Python with PyTorch found (tried /usr/bin/python3 and python3 with 'import torch'). The round-trip tests need it: install python3-torch.");
        (int code, string output) = TestFiles.RunProcess(python, [TestFiles.Fixture("roundtrip_check.py"), .. arguments], TimeSpan.FromSeconds(120));
        Assert.True(code == 0 && output.Contains("OK", StringComparison.Ordinal), $"PyTorch check failed ({code}): {output}");
    }

    [Theory]
    [InlineData("resnet_w4_zip.pth")]
    [InlineData("resnet_w4_wrapped_module.pth")]
    [InlineData("resnet_w4_kuangliu_net.pth")]
    public void MappedResNetWrittenBackLoadsIntoTorchWithEqualValues(string fixture)
    {
        string folder = TestFiles.NewTempFolder();
        string output = Path.Combine(folder, "unlearned.pth");
        ResNet18Weights weights = ResNet18Mapping.Load(TestFiles.Fixture(fixture), width: TestFiles.FixtureWidth);
        weights.Save(output);
        CheckWithPyTorch("resnet", output, TestFiles.Fixture("resnet_w4_expected.bin"), TestFiles.FixtureWidth.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Directory.Delete(folder, true);
    }

    [Theory]
    [InlineData("dtypes.pth")]
    [InlineData("dtypes_legacy.pth")]
    public void EveryDTypeWrittenBackEqualsTheOriginalInTorch(string fixture)
    {
        string folder = TestFiles.NewTempFolder();
        string output = Path.Combine(folder, "copy.pt");
        Commands.WeightsConverter.Convert(TestFiles.Fixture(fixture), output);
        CheckWithPyTorch("same", output, TestFiles.Fixture(fixture));
        Directory.Delete(folder, true);
    }
}
