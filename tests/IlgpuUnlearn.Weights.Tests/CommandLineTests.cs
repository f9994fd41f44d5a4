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
    public void InspectPrintsAHeaderAlignedRowsAndASummary()
    {
        string file = TestFiles.Fixture("dtypes.pth");
        (int code, string output, string error) = Run("inspect", file);
        Assert.Equal(0, code);
        Assert.Empty(error);
        string[] lines = output.TrimEnd().Split('\n');
        Assert.Equal($"{file}: torch.save zip, 14 tensors", lines[0]);
        // Column header, then one row per tensor: every column starts where its header does.
        string header = lines[2];
        Assert.Matches(@"^name +dtype +shape +sum$", header);
        string[] rows = lines[3..17];
        int dtypeColumn = header.IndexOf("dtype", StringComparison.Ordinal), shapeColumn = header.IndexOf("shape", StringComparison.Ordinal);
        int sumColumn = header.IndexOf("sum", StringComparison.Ordinal);
        foreach (string row in rows)
        {
            Assert.NotEqual(' ', row[dtypeColumn]);
            Assert.Equal(' ', row[dtypeColumn - 1]);
            Assert.NotEqual(' ', row[shapeColumn]);
            Assert.NotEqual(' ', row[sumColumn]);
            Assert.Equal(' ', row[sumColumn - 1]);
        }
        Assert.Contains(rows, r => System.Text.RegularExpressions.Regex.IsMatch(r, @"^i32 +int32 +\[2\] +1073741817$"));
        Assert.Contains(rows, r => System.Text.RegularExpressions.Regex.IsMatch(r, @"^shared_slice +float32 +\[6\] +7\.5$"));
        Assert.Contains(rows, r => System.Text.RegularExpressions.Regex.IsMatch(r, @"^scalar +float32 +\[\] +3\.5$"));
        Assert.Equal("", lines[17]);
        Assert.StartsWith("parameters: ", lines[18]);
        Assert.Contains("float32 ", lines[19]);
        Assert.Equal("architecture: not a ResNet (no layer1..layer4 blocks)", lines[20]);
    }

    [Theory]
    [InlineData(false, new[] { 2, 2, 2, 2 }, 3, "ResNet18 (basic blocks 2-2-2-2; CIFAR stem (3x3 conv1), width 8, 3 input channels; 10 classes)")]
    [InlineData(false, new[] { 3, 4, 6, 3 }, 3, "ResNet34 (basic blocks 3-4-6-3; CIFAR stem (3x3 conv1), width 8, 3 input channels; 10 classes)")]
    [InlineData(false, new[] { 3, 4, 6, 3 }, 7, "ResNet34 (basic blocks 3-4-6-3; ImageNet stem (7x7 conv1), width 8, 3 input channels; 10 classes)")]
    [InlineData(true, new[] { 3, 4, 6, 3 }, 7, "ResNet50 (bottleneck blocks 3-4-6-3; ImageNet stem (7x7 conv1), width 8, 3 input channels; 10 classes)")]
    [InlineData(true, new[] { 3, 4, 23, 3 }, 7, "ResNet101 (bottleneck blocks 3-4-23-3; ImageNet stem (7x7 conv1), width 8, 3 input channels; 10 classes)")]
    [InlineData(false, new[] { 1, 1, 1, 1 }, 3, "a ResNet of no standard depth (basic blocks 1-1-1-1; CIFAR stem (3x3 conv1), width 8, 3 input channels; 10 classes)")]
    public void InspectNamesTheArchitectureFromTheBlocks(bool bottleneck, int[] blocks, int stem, string expected)
    {
        var state = new StateDict();
        state.Set("conv1.weight", StoredTensor.FromFloat32(TensorDType.Float32, [8, 3, stem, stem], new float[8 * 3 * stem * stem]));
        for (int stage = 0; stage < 4; stage++)
        {
            for (int block = 0; block < blocks[stage]; block++)
            {
                foreach (string conv in bottleneck ? new[] { "conv1", "conv2", "conv3" } : new[] { "conv1", "conv2" })
                {
                    state.Set($"layer{stage + 1}.{block}.{conv}.weight", StoredTensor.FromFloat32(TensorDType.Float32, [1, 1, 1, 1], [1f]));
                }
                state.Set($"layer{stage + 1}.{block}.bn1.running_mean", StoredTensor.FromFloat32(TensorDType.Float32, [1], [0f]));
            }
        }
        state.Set("fc.weight", StoredTensor.FromFloat32(TensorDType.Float32, [10, 8], new float[80]));
        string folder = TestFiles.NewTempFolder();
        string file = Path.Combine(folder, "resnet.safetensors");
        WeightsFile.Save(file, state);
        (int code, string output, _) = Run("inspect", file);
        Assert.Equal(0, code);
        string[] lines = output.TrimEnd().Split('\n');
        Assert.Equal($"architecture: {expected}", lines[^1]);
        // Running statistics are buffers: the parameters are conv1, every block conv and fc.
        long parameters = 8 * 3 * stem * stem + blocks.Sum() * (bottleneck ? 3 : 2) + 80;
        Assert.Equal($"parameters: {parameters:N0} in {state.Count - blocks.Sum()} tensors (without BatchNorm's running statistics and counters)", lines[^3]);
        Directory.Delete(folder, true);
    }

    [Fact]
    public void InspectAndConvertOfACheckpointSayWhatTheySkipped()
    {
        string checkpoint = TestFiles.Fixture(Path.Combine("checkpoints", "w2_checkpoint.pth"));
        (int code, string output, string error) = Run("inspect", checkpoint);
        Assert.Equal(0, code);
        // The header and a blank line, the column titles, 117 tensors, then a blank line and the summary (parameters, dtypes, architecture).
        Assert.Equal(129, output.TrimEnd().Split('\n').Length);
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
        // Everything but the header line (which names the file and its format) is the same.
        static string Body(string output) => output[output.IndexOf('\n', StringComparison.Ordinal)..];
        string original = Run("inspect", TestFiles.Fixture("resnet_w4_zip.pth")).Output;
        Assert.Equal(Body(original), Body(Run("inspect", safetensors).Output));
        Assert.Equal(Body(original), Body(Run("inspect", pth).Output));
        Assert.EndsWith("architecture: ResNet18 (basic blocks 2-2-2-2; CIFAR stem (3x3 conv1), width 4, 3 input channels; 10 classes)\n", original);
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
