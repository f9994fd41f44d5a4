using System.Text.RegularExpressions;
using IlgpuUnlearn.Evaluation;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// <c>unlearn --forget-class all</c> as a user meets it (child processes, the tiny CIFAR-10 files, a width-16 network, a
/// whole epoch of batch 1 per class, so that a class takes long enough to be interrupted in): its folder is created, classes run in parallel on several devices (two <c>cpu</c> devices stand in for GPUs) with
/// the same results as one class run alone, Ctrl-C says exactly which files are on disk, and <c>--resume</c> finishes the
/// run with the same reports as an uninterrupted one.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class ForgetAllTests(TinyCifarFiles files, ITestOutputHelper output)
{
    sealed record Run(CliResult Result, string Folder, string Models, string Json);

    string[] Options(string models, string json) =>
    [
        "unlearn", "--forget-class", "all", "--weights", files.NarrowWeights, "--data", files.DataFolder, "--no-shuffle", "--augment", "none",
        "--batch-size", "1", "--out", models, "--json", json,
    ];

    /// <summary>All ten classes on two cpu devices at once, into a folder that does not exist yet.</summary>
    Run Parallel() => files.Once("all on cpu,cpu", () =>
    {
        string folder = files.NewFolder("all-parallel");
        string models = Path.Combine(folder, "new", "models"), json = Path.Combine(folder, "all.json");
        var result = CliProcess.Run(folder, [.. Options(models, json), "--device", "cpu,cpu"]);
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        return new Run(result, folder, models, json);
    });

    [Trait("Category", "Slow")]
    [Fact]
    public void AllOnTwoDevicesWritesEveryClassAndTheCardsTable()
    {
        var run = Parallel();
        var names = IlgpuUnlearn.Data.Cifar10.ClassNames;
        for (int k = 0; k < 10; k++)
        {
            string model = Path.Combine(run.Models, ModelCardTable.ModelName(k));
            Assert.True(File.Exists(model), $"no {model}");
            Assert.True(File.Exists(Path.ChangeExtension(model, ".card.json")), $"no report next to {model}");
            Assert.True(File.Exists(Path.ChangeExtension(model, ".confusion.svg")), $"no picture next to {model}");
        }
        // Both devices took classes, each line labelled with its device.
        Assert.Contains(run.Result.StderrLines, l => l.StartsWith("[cpu #1 class ", StringComparison.Ordinal));
        Assert.Contains(run.Result.StderrLines, l => l.StartsWith("[cpu #2 class ", StringComparison.Ordinal));
        // The table lists the ten classes in order, whichever device finished first.
        var rows = run.Result.Stdout.Split('\n').Where(l => l.StartsWith("| cifar10_resnet18_AdvNegGrad_", StringComparison.Ordinal)).ToList();
        var table = rows.TakeLast(10).ToList();
        Assert.Equal(Enumerable.Range(0, 10).Select(k => $"| cifar10_resnet18_AdvNegGrad_{k}.pth | {ModelCardTable.Capitalise(names[k])} |"),
            table.Select(r => string.Join("|", r.Split('|').Take(3)) + "|"));
        var reports = ReadArray(run.Json);
        Assert.Equal(Enumerable.Range(0, 10), reports.Select(r => r.ForgetClass));
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void EachClassOfAParallelRunIsWhatThatClassAloneGives()
    {
        var run = Parallel();
        // Class 3 alone, on one device: every tensor must hold the same bytes (each class starts from the base model, whatever
        // ran before it on its device). The files themselves differ in the archive name torch.save derives from the file name.
        string folder = files.NewFolder("class-3-alone");
        string model = Path.Combine(folder, "cat.pth");
        var alone = CliProcess.Run(folder, "unlearn", "--forget-class", "3", "--weights", files.NarrowWeights, "--data", files.DataFolder,
            "--no-shuffle", "--augment", "none", "--batch-size", "1", "--device", "cpu", "--out", model);
        Assert.True(alone.ExitCode == 0, alone.ToString());
        var expected = IlgpuUnlearn.Weights.WeightsFile.Load(model).Tensors;
        var actual = IlgpuUnlearn.Weights.WeightsFile.Load(Path.Combine(run.Models, ModelCardTable.ModelName(3))).Tensors;
        Assert.Equal(expected.Keys, actual.Keys);
        foreach (var (name, tensor) in expected)
            Assert.True(tensor.Bytes.SequenceEqual(actual[name].Bytes), $"{name} differs");
        // And it moved: the run did change the base model.
        Assert.False(expected["fc.weight"].Bytes.SequenceEqual(IlgpuUnlearn.Weights.WeightsFile.Load(files.NarrowWeights).Tensors["fc.weight"].Bytes));
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void CtrlCSaysWhatWasWrittenAndResumeFinishesTheRun()
    {
        var reference = ReadArray(Parallel().Json);
        string folder = files.NewFolder("all-interrupted");
        string models = Path.Combine(folder, "models"), json = Path.Combine(folder, "all.json");
        string[] args = [.. Options(models, json), "--device", "cpu"];

        CliResult interrupted;
        using (var running = CliProcess.Start(null, folder, args))
        {
            // Interrupt once the first class is finished (its model is written last), with nine classes still to run.
            Assert.True(running.WaitForStderrLine(l => l.StartsWith("model: ", StringComparison.Ordinal) && l.EndsWith("_0.pth", StringComparison.Ordinal),
                TimeSpan.FromSeconds(240)), "class 0 never finished");
            running.Interrupt();
            interrupted = running.Finish();
        }
        output.WriteLine(interrupted.ToString());
        Assert.True(interrupted.ExitCode == 130, interrupted.ToString());
        string last = interrupted.StderrLines[^1];
        var match = Regex.Match(last, "^ilgpu-unlearn: interrupted; written before stopping: (.+); rerun the same command with --resume to continue$");
        Assert.True(match.Success, last);
        // The files named are exactly the files on disk, and every model has its report.
        var named = match.Groups[1].Value.Split(", ").Order(StringComparer.Ordinal).ToArray();
        var onDisk = Directory.GetFiles(models).Select(Path.GetFullPath).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(onDisk, named);
        var done = onDisk.Where(f => f.EndsWith(".pth", StringComparison.Ordinal)).ToList();
        Assert.InRange(done.Count, 1, 9);
        Assert.All(done, m => Assert.Contains(Path.ChangeExtension(m, ".card.json"), onDisk));
        Assert.False(File.Exists(json));

        var resumed = CliProcess.Run(folder, [.. args, "--resume"]);
        output.WriteLine(resumed.ToString());
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        foreach (var m in done)
            Assert.Contains(resumed.StderrLines, l => l.EndsWith($"{Path.GetFileName(m)} is written (--resume), skipped", StringComparison.Ordinal));
        Assert.Equal(10 - done.Count, resumed.StderrLines.Count(l => l.StartsWith("forgetting class ", StringComparison.Ordinal)));
        // The finished run's reports are the uninterrupted parallel run's, value for value.
        var reports = ReadArray(json);
        Assert.Equal(reference.Select(UnlearningReportJson.Serialize), reports.Select(UnlearningReportJson.Serialize));
    }

    static List<UnlearningReport> ReadArray(string path)
    {
        using var document = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
        return document.RootElement.EnumerateArray().Select(e => UnlearningReportJson.Deserialize(e.GetRawText())).ToList();
    }
}
