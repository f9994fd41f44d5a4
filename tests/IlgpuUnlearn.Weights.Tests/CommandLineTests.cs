using IlgpuUnlearn.Weights.Commands;

namespace IlgpuUnlearn.Weights.Tests;

public class CommandLineTests
{
    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = WeightsCommandLine.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void InspectPrintsOneLinePerTensorWithDTypeShapeAndSum()
    {
        (int code, string output, string error) = Run("inspect", TestFiles.Fixture("dtypes.pth"));
        Assert.Equal(0, code);
        Assert.Empty(error);
        string[] lines = output.TrimEnd().Split('\n');
        Assert.Equal(14, lines.Length);
        Assert.Equal("i32  int32  [2]  sum=1073741817", lines[5]);
        Assert.Equal("shared_slice  float32  [6]  sum=7.5", lines[9]);
        Assert.Equal("scalar  float32  []  sum=3.5", lines[11]);
        Assert.Equal("bool  bool  [3]  sum=2", lines[7]);
    }

    [Fact]
    public void InspectAndConvertOfACheckpointSayWhatTheySkipped()
    {
        string checkpoint = TestFiles.Fixture(Path.Combine("checkpoints", "w2_checkpoint.pth"));
        (int code, string output, string error) = Run("inspect", checkpoint);
        Assert.Equal(0, code);
        Assert.Equal(122, output.TrimEnd().Split('\n').Length);
        string[] warnings = error.TrimEnd().Split('\n');
        Assert.Equal(2, warnings.Length);
        Assert.Equal($"warning: {checkpoint}: skipped args: a 'argparse.Namespace' object that is not on the allow-list (not part of the model)", warnings[1].TrimEnd('\r'));

        string folder = TestFiles.NewTempFolder();
        (code, _, error) = Run("convert", checkpoint, Path.Combine(folder, "model.safetensors"));
        Assert.Equal(0, code);
        Assert.Contains("skipped spectrum: a tensor of torch.ComplexFloatStorage", error);
        Directory.Delete(folder, true);
    }

    [Fact]
    public void ConvertGoesToSafetensorsAndBackWithTheSameInspectOutput()
    {
        string folder = TestFiles.NewTempFolder();
        string safetensors = Path.Combine(folder, "m.safetensors");
        string pth = Path.Combine(folder, "m.pth");
        Assert.Equal(0, Run("convert", TestFiles.Fixture("resnet_w4_wrapped_module.pth"), safetensors).Code);
        Assert.Equal(0, Run("convert", safetensors, pth).Code);
        string original = Run("inspect", TestFiles.Fixture("resnet_w4_zip.pth")).Output;
        Assert.Equal(original, Run("inspect", safetensors).Output);
        Assert.Equal(original, Run("inspect", pth).Output);
        Assert.Equal(2, Directory.GetFiles(folder).Length);
        Directory.Delete(folder, true);
    }

    [Fact]
    public void ErrorsAreOneLineNamingTheFileWithoutAStackTrace()
    {
        string folder = TestFiles.NewTempFolder();
        string bad = Path.Combine(folder, "bad.pth");
        File.WriteAllBytes(bad, File.ReadAllBytes(TestFiles.Fixture("resnet_w4_zip.pth"))[..5000]);
        string output = Path.Combine(folder, "out.safetensors");
        (int code, string stdout, string error) = Run("convert", bad, output);
        Assert.Equal(1, code);
        Assert.Empty(stdout);
        Assert.StartsWith($"error: {bad}: ", error);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.DoesNotContain("   at ", error);
        Assert.False(File.Exists(output));
        Assert.Single(Directory.GetFiles(folder));

        (code, _, error) = Run("inspect", Path.Combine(folder, "missing.pth"));
        Assert.Equal(1, code);
        Assert.Contains("missing.pth: cannot open the file", error);

        (code, _, error) = Run("convert", TestFiles.Fixture("dtypes.pth"), Path.Combine(folder, "out.bin"));
        Assert.Equal(1, code);
        Assert.Contains("out.bin: unknown extension", error);
        Directory.Delete(folder, true);
    }

    [Fact]
    public void WrongArgumentsPrintUsage()
    {
        (int code, _, string error) = Run();
        Assert.Equal(2, code);
        Assert.Contains("usage: weights-converter convert IN OUT", error);
        Assert.Equal(2, Run("convert", "only-one").Code);
    }

    [Fact]
    public void BenchReadReportsABestTime()
    {
        (int code, string output, _) = Run("bench-read", TestFiles.Fixture("resnet_w4_zip.pth"), "2");
        Assert.Equal(0, code);
        Assert.Contains("best of 2", output);
    }
}
