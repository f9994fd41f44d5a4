using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Tests.Data;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// `report` counts a file given twice once, and says when runs it averages differ in image counts (the means would mix
/// different measurements), naming the counts. Synthetic reports; the CLI runs as a process (no model, a second or two).
/// </summary>
public sealed class ReportMergeTests
{
    /// <summary>A run of method GA on forget class 0 of three classes, with this many training and test images.</summary>
    static RunReport Run(string model, int trainImages, int testImages)
    {
        var random = new Random(trainImages);
        SampleOutputs Outputs(int n)
        {
            var labels = Enumerable.Range(0, n).Select(i => i % 3).ToArray();
            return new SampleOutputs(labels, labels.SelectMany(y => Enumerable.Range(0, 3).Select(c => (float)(random.NextDouble() + (c == y ? 1 : 0)))).ToArray(), 3);
        }
        var settings = new EvaluationSettings { BootstrapReplicates = 0 };
        var evaluation = ModelEvaluation.Compute(model, "unlearned", Outputs(trainImages), Outputs(testImages), 0, null, settings);
        return RunReport.Create("GA", model, 0, ["a", "b", "c"], null, evaluation, null, null, settings);
    }

    /// <summary>A GA run on forget class 0 with its card row and a base model named <paramref name="baseModel"/>, both on this many images.</summary>
    static RunReport RunWithBase(string model, string baseModel, int trainImages, int testImages)
    {
        var random = new Random(trainImages);
        SampleOutputs Outputs(int n)
        {
            var labels = Enumerable.Range(0, n).Select(i => i % 3).ToArray();
            return new SampleOutputs(labels, labels.SelectMany(y => Enumerable.Range(0, 3).Select(c => (float)(random.NextDouble() + (c == y ? 1 : 0)))).ToArray(), 3);
        }
        var settings = new EvaluationSettings { BootstrapReplicates = 0 };
        var evaluation = ModelEvaluation.Compute(model, "unlearned", Outputs(trainImages), Outputs(testImages), 0, null, settings);
        var baseEvaluation = ModelEvaluation.Compute(baseModel, "base", Outputs(trainImages), Outputs(testImages), 0, null, settings);
        var card = new UnlearningReport { ForgetClass = 0, ForgetAccuracy = 1, ForgetLoss = 2, RetainAccuracy = 90, RetainLoss = 0.5, ClassNames = ["a", "b", "c"] };
        return RunReport.Create("GA", model, 0, ["a", "b", "c"], card, evaluation, baseEvaluation, null, settings);
    }

    [Fact]
    public void DifferentBasesCountApartAndRowsOfOneModelNameNameTheirReports()
    {
        // Two GA runs whose base models differ (a --limit trial and a longer one): the base is counted twice, the warning
        // names both bases; both runs wrote model.pth, so each card row names the report it came from.
        using var folder = new TempFolder();
        string a = Path.Combine(folder.Path, "a.report.json"), b = Path.Combine(folder.Path, "b.report.json");
        RunReportJson.Write(a, [RunWithBase("model.pth", "base.pth", 60, 30)]);
        RunReportJson.Write(b, [RunWithBase("model.pth", "base.pth", 90, 30)]);

        var result = CliProcess.Run(folder.Path, "report", "a.report.json", "b.report.json");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("| base | 2 |", result.Stdout);
        Assert.Contains("WARNING: the base models differ and their means mix them: 1 model (base.pth) with 60 training + 30 test images, mia split salun; " +
                        "1 model (base.pth) with 90 training + 30 test images, mia split salun", result.Stderr);
        Assert.Contains("| model.pth (a.report.json) | A |", result.Stdout);
        Assert.Contains("| model.pth (b.report.json) | A |", result.Stdout);

        // One base on the same images, evaluated again by a second run: counted once, no warning about it, and rows of
        // different model names keep the card's plain name.
        string c = Path.Combine(folder.Path, "c.report.json");
        RunReportJson.Write(c, [RunWithBase("other.pth", "base.pth", 60, 30)]);
        var same = CliProcess.Run(folder.Path, "report", "a.report.json", "c.report.json");
        Assert.True(same.ExitCode == 0, same.ToString());
        Assert.Contains("| base | 1 |", same.Stdout);
        Assert.DoesNotContain("WARNING", same.Stderr);
        Assert.Contains("| model.pth | A |", same.Stdout);
    }

    [Fact]
    public void BasesOfOneNameAndImageCountsCountApartWhenTheirFilesDiffer()
    {
        // Two runs, each from its own base.pth (say, trained with two seeds in two folders), evaluated on the same images:
        // the reports record each base file's SHA-256, and two hashes are two base models, whatever the files are called.
        using var folder = new TempFolder();
        string a = Path.Combine(folder.Path, "a.report.json"), b = Path.Combine(folder.Path, "b.report.json"), c = Path.Combine(folder.Path, "c.report.json");
        RunReportJson.Write(a, [WithBaseHash(RunWithBase("model-a.pth", "base.pth", 60, 30), new string('1', 64))]);
        RunReportJson.Write(b, [WithBaseHash(RunWithBase("model-b.pth", "base.pth", 60, 30), new string('2', 64))]);
        RunReportJson.Write(c, [WithBaseHash(RunWithBase("model-c.pth", "base.pth", 60, 30), new string('1', 64))]);
        Assert.Equal(new string('1', 64), RunReportJson.ReadAll(a)[0].Base!.Sha256);   // the hash survives the file

        var two = CliProcess.Run(folder.Path, "report", "a.report.json", "b.report.json");
        Assert.True(two.ExitCode == 0, two.ToString());
        Assert.Contains("| base | 2 |", two.Stdout);
        Assert.Contains("| GA | 2 |", two.Stdout);

        // The same file (the same hash) under the same name, evaluated again by a second run: one base.
        var one = CliProcess.Run(folder.Path, "report", "a.report.json", "c.report.json");
        Assert.True(one.ExitCode == 0, one.ToString());
        Assert.Contains("| base | 1 |", one.Stdout);
        Assert.Contains("| GA | 2 |", one.Stdout);

        static RunReport WithBaseHash(RunReport run, string sha256)
        {
            run.Base!.Sha256 = sha256;
            return run;
        }
    }

    [Fact]
    public void APthIsRefusedAsNotJsonWithoutTheParsersWords()
    {
        using var folder = new TempFolder();
        string pth = Path.Combine(folder.Path, "model.pth");
        File.WriteAllBytes(pth, [0x50, 0x4B, 0x03, 0x04, 0, 0, 0, 0]);   // a zip's local-file header, as torch.save writes

        var result = CliProcess.Run(folder.Path, "report", "model.pth");
        Assert.Equal(1, result.ExitCode);
        string line = Assert.Single(result.StderrLines);
        Assert.Equal("ilgpu-unlearn: error: model.pth: is not a JSON run report (it starts with bytes 50 4B: a zip/.pth?)", line);
        Assert.DoesNotContain("LineNumber", result.Stderr);
    }

    [Fact]
    public void AFileTwiceCountsOnceAndMixedCountsAreNamed()
    {
        using var folder = new TempFolder();
        string a = Path.Combine(folder.Path, "a.report.json"), b = Path.Combine(folder.Path, "b.report.json");
        RunReportJson.Write(a, [Run("a.safetensors", 60, 30)]);
        RunReportJson.Write(b, [Run("b.safetensors", 90, 30)]);

        var result = CliProcess.Run(folder.Path, "report", a, "a.report.json", b);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("given 2 times, counted once", result.Stderr);
        Assert.Contains("2 runs from 2 files", result.Stderr);
        Assert.Contains("| GA | 2 |", result.Stdout);
        string warning = "the GA runs differ and their means mix them: 1 run with 60 training + 30 test images, mia split salun; 1 run with 90 training + 30 test images, mia split salun";
        Assert.Contains("WARNING: " + warning, result.Stderr);
        Assert.Contains("WARNING: " + warning, result.Stdout);

        // The same counts: no warning.
        var same = CliProcess.Run(folder.Path, "report", a, a);
        Assert.True(same.ExitCode == 0, same.ToString());
        Assert.Contains("| GA | 1 |", same.Stdout);
        Assert.DoesNotContain("WARNING", same.Stderr);
    }
}
