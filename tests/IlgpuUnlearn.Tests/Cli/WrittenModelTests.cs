using System.Text.Json;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Weights;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// What unlearn writes and reports, on the tiny CIFAR-10 files with a width-2 hashed ResNet18 (seconds): the report describes
/// the file as written (float16 weights rounded before evaluating), a final model with a non-finite loss is not written,
/// and a checkpoint's extra entries and missing counters are reported without stopping the run.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class WrittenModelTests(TinyCifarFiles files)
{
    /// <summary>The hashed width-2 model as a bare state dict, its floats stored as <paramref name="dtype"/>.</summary>
    string WidthTwoModel(string name, TensorDType dtype, bool withCounters = true)
    {
        var layout = new ResNet18Layout(new ResNet18Config(2, 32, 10));
        var state = HashedParameters.State(layout);
        var dict = new StateDict();
        foreach (var spec in layout.Tensors)
        {
            if (spec.Role == TensorRole.BatchesTracked)
            {
                if (withCounters) dict.Set(spec.Name, StoredTensor.FromInt64(TensorDType.Int64, [], [(long)state[spec.Name][0]]));
                continue;
            }
            dict.Set(spec.Name, StoredTensor.FromFloat32(dtype, spec.Shape, state[spec.Name]));
        }
        string path = Path.Combine(files.NewFolder(name), "model.pth");
        WeightsFile.Save(path, dict);
        return path;
    }

    static (double ForgetLoss, double RetainLoss, double ForgetAccuracy, double RetainAccuracy) Losses(string json)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(json));
        var root = document.RootElement;
        return (root.GetProperty("forget_loss").GetDouble(), root.GetProperty("retain_loss").GetDouble(),
            root.GetProperty("forget_accuracy").GetDouble(), root.GetProperty("retain_accuracy").GetDouble());
    }

    [Fact]
    public void TheReportOfAFloat16RunIsWhatEvalOfTheWrittenFileGives()
    {
        string weights = WidthTwoModel("half", TensorDType.Float16, withCounters: false);
        string folder = Path.GetDirectoryName(weights)!;
        string model = Path.Combine(folder, "unlearned.pth"), report = Path.Combine(folder, "unlearn.json"), evaluated = Path.Combine(folder, "eval.json");
        var run = CliProcess.Run(folder, "unlearn", "--forget-class", "3", "--weights", weights, "--data", files.DataFolder,
            "--no-shuffle", "--augment", "none", "--batch-size", "4", "--device", "cpu", "--out", model, "--json", report);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("20 BatchNorm num_batches_tracked counters are not in the file", run.Stderr);
        var written = WeightsFile.Load(model).Tensors;
        Assert.Equal(TensorDType.Float16, written["conv1.weight"].DType);
        Assert.Equal([6L], written["bn1.num_batches_tracked"].ToInt64()); // from 0: two training-mode forwards in each of 3 steps

        var check = CliProcess.Run(folder, "eval", "--weights", model, "--forget-class", "3", "--data", files.DataFolder, "--device", "cpu", "--json", evaluated);
        Assert.True(check.ExitCode == 0, check.ToString());
        // The same weights, data, device and batches: the same numbers to the last bit (not rounding float16 first moved
        // the losses by ~4e-4 relative).
        Assert.Equal(Losses(evaluated), Losses(report));
    }

    [Fact]
    public void AFinalModelWithANonFiniteLossIsNotWritten()
    {
        string weights = WidthTwoModel("diverges", TensorDType.Float32);
        string folder = Path.GetDirectoryName(weights)!;
        string model = Path.Combine(folder, "unlearned.pth");
        // One step (the 11 retain images in one batch) with a huge learning rate: the step's losses are finite, the model after it is not.
        var run = CliProcess.Run(folder, "unlearn", "--forget-class", "3", "--weights", weights, "--data", files.DataFolder,
            "--no-shuffle", "--augment", "none", "--batch-size", "11", "--lr", "1e30", "--device", "cpu", "--out", model);
        Assert.Equal(1, run.ExitCode);
        Assert.Matches("^ilgpu-unlearn: error: the final model's .* stopping without writing a model \\(try a lower --lr or --alpha\\)$", run.StderrLines[^1]);
        Assert.False(File.Exists(model));
        Assert.Empty(Directory.GetFiles(folder, "*.svg"));
    }

    [Fact]
    public void HugeFiniteLossesPrintReadably()
    {
        Assert.Equal("26.171", ModelCardTable.Loss(26.1714));
        Assert.Equal("999999.000", ModelCardTable.Loss(999999));
        Assert.Equal("2.5e+24", ModelCardTable.Loss(2.5e24));
        Assert.Equal("NaN", ModelCardTable.Loss(double.NaN));
    }
}
