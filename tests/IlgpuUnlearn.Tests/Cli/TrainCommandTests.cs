using System.Xml.Linq;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tests.Data;
using IlgpuUnlearn.Training;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// <c>ilgpu-unlearn train</c> as a user runs it (a child process), on the synthetic set cut to 3 images a class, width 2:
/// every output written and consistent with the others, a second start refused while a checkpoint exists, --resume of a
/// finished run writing the same model, and bad options refused on one line before anything is written.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class TrainCommandTests(ITestOutputHelper output)
{
    static readonly string[] Tiny = ["train", "--dataset", "synthetic", "--limit", "30", "--width", "2", "--epochs", "2",
        "--batch-size", "8", "--exclude-class", "3", "--device", "cpu", "--out", "m.pth"];

    [Fact]
    public void Trains_writes_model_checkpoint_log_and_curves_and_resumes_a_finished_run()
    {
        using var temp = new TempFolder();
        var run = CliProcess.Run(temp.Path, Tiny);
        output.WriteLine(run.ToString());
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(["m.ckpt.safetensors", "m.curves.svg", "m.log.jsonl", "m.pth"],
            Directory.GetFiles(temp.Path).Select(p => Path.GetFileName(p)).Order(StringComparer.Ordinal).ToArray());

        var log = File.ReadAllLines(temp.File("m.log.jsonl")).Select(EpochRecord.FromJsonLine).ToArray();
        Assert.Equal([1, 2], log.Select(r => r.Epoch));
        Assert.Equal(0.1, log[0].LearningRate, 12);        // cosine, T_max = 2 epochs
        Assert.Equal(0.05, log[1].LearningRate, 12);
        Assert.All(log, r => Assert.True(r.TestAccuracy is >= 0 and <= 100 && r.ExcludedClassTestAccuracy is not null && double.IsFinite(r.TrainLoss)));

        var checkpoint = TrainingCheckpoint.Load(temp.File("m.ckpt.safetensors"));
        Assert.Equal(2, checkpoint.EpochsDone);
        Assert.Equal(8, checkpoint.Steps);                  // 27 images (class 3 left out) in batches of 8: 4 steps an epoch
        Assert.Equal(log.Select(r => r with { Seconds = 0 }), checkpoint.History.Select(r => r with { Seconds = 0 }));
        var model = ModelFiles.Read(temp.File("m.pth"));
        Assert.Equal(2, model.Width);
        foreach (var t in model.Tensors) Assert.Equal(checkpoint.State[t.CanonicalName], t.Values);

        var svg = XDocument.Load(temp.File("m.curves.svg"));
        Assert.True(svg.Descendants().Count(e => e.Name.LocalName == "polyline") >= 4, "curves: train and test loss, test accuracy, excluded class");

        var again = CliProcess.Run(temp.Path, Tiny);
        Assert.Equal(1, again.ExitCode);
        Assert.Single(again.StderrLines, l => l.StartsWith("ilgpu-unlearn: error:", StringComparison.Ordinal) && l.Contains("--resume"));

        File.Delete(temp.File("m.pth"));
        var resumed = CliProcess.Run(temp.Path, [.. Tiny, "--resume"]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        foreach (var t in ModelFiles.Read(temp.File("m.pth")).Tensors) Assert.Equal(checkpoint.State[t.CanonicalName], t.Values);
    }

    [Theory]
    [InlineData("--lr-schedule", "linear", "--lr-schedule 'linear'")]
    [InlineData("--exclude-class", "dragon", "--exclude-class 'dragon'")]
    [InlineData("--augment", "rotate", "--augment 'rotate'")]
    [InlineData("--out", "m.onnx", "--out m.onnx")]
    [InlineData("--epochs", "0", "--epochs")]
    public void Bad_options_are_refused_on_one_line_and_nothing_is_written(string option, string value, string mention)
    {
        using var temp = new TempFolder();
        var args = Tiny.ToList();
        int at = args.IndexOf(option);
        if (at >= 0) args[at + 1] = value; else args.AddRange([option, value]);
        var run = CliProcess.Run(temp.Path, [.. args]);
        Assert.Equal(1, run.ExitCode);
        var line = Assert.Single(run.StderrLines, l => l.StartsWith("ilgpu-unlearn: error:", StringComparison.Ordinal));
        Assert.Contains(mention, line);
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.Empty(Directory.GetFiles(temp.Path)); // the cache is a folder, and only made if something is downloaded
    }
}
