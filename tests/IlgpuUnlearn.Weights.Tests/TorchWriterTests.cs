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

/// <summary>
/// Files the converter writes, loaded and checked by real PyTorch (fixtures/roundtrip_check.py, all checks in one
/// Python start-up). Needs a Python with torch (/usr/bin/python3 or python3); without one the test FAILS.
/// </summary>
public class PyTorchRoundTripTests
{
    [Trait("Category", "Slow")]
    [Fact]
    public void ConverterOutputLoadsInPyTorchWithEqualValuesNamesAndDTypes()
    {
        string folder = TestFiles.NewTempFolder();
        var checks = new List<string>();
        string width = TestFiles.FixtureWidth.ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (string fixture in new[] { "resnet_w4_zip.pth", "resnet_w4_wrapped_module.pth", "resnet_w4_kuangliu_net.pth" })
        {
            // Map onto the canonical model and write back with the file's names and dtypes.
            string output = Path.Combine(folder, "unlearned_" + fixture);
            ResNet18Mapping.Load(TestFiles.Fixture(fixture), width: TestFiles.FixtureWidth).Save(output);
            checks.AddRange(["resnet", output, TestFiles.Fixture("resnet_w4_expected.bin"), width, "--"]);
        }
        foreach (string fixture in new[] { "dtypes.pth", "dtypes_legacy.pth" })
        {
            string output = Path.Combine(folder, "copy_" + Path.ChangeExtension(fixture, ".pt"));
            Commands.WeightsConverter.Convert(TestFiles.Fixture(fixture), output);
            checks.AddRange(["same", output, TestFiles.Fixture(fixture), "--"]);
        }

        (int code, string log) = TestFiles.RunWithTorchPython([TestFiles.Fixture("roundtrip_check.py"), .. checks], TimeSpan.FromSeconds(240));
        Assert.True(code == 0 && log.TrimEnd().EndsWith("OK", StringComparison.Ordinal), $"PyTorch check failed ({code}): {log}");
        Assert.Equal(5, log.Split('\n').Count(line => line.StartsWith("checked ", StringComparison.Ordinal)));
        Directory.Delete(folder, true);
    }
}
