using System.Security.Cryptography;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Manifest;
using IlgpuUnlearn.Tests.Download;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// The report, the manifest and the new verbs through the program, on the tiny CIFAR-10 files of <see cref="TinyCifarFiles"/>:
/// unlearn writes the base model's figures first, a run report and a manifest that verify accepts (and rejects once a file
/// changes); two identical runs give the same model bytes; report merges run reports; eval works without a forget class and
/// writes the Comparator's schema; the published retrained model is downloaded into the cache (from a local mirror).
/// </summary>
[Collection(CliCollection.Name)]
public sealed class RunReportCommandTests(TinyCifarFiles files)
{
    sealed record Run(CliResult Result, string Folder, string Model);

    Run Unlearn(string name) => files.Once("report-" + name, () =>
    {
        string folder = files.NewFolder("report-" + name);
        string model = Path.Combine(folder, "unlearned.safetensors");
        // The hashed initial weights stand in for the retrained reference: the base and "retrained" figures must then agree.
        var result = CliProcess.Run(folder, "unlearn", "--forget-class", "3", "--weights", files.Weights, "--data", files.DataFolder,
            "--no-shuffle", "--augment", "none", "--batch-size", "4", "--device", "cpu", "--out", model, "--retrained", files.Weights, "--bootstrap", "50");
        Assert.True(result.ExitCode == 0, result.ToString());
        return new Run(result, folder, model);
    });

    [Fact]
    public void UnlearnReportsBaseUnlearnedAndRetrained()
    {
        var run = Unlearn("a");
        string stdout = run.Result.Stdout;
        int baseAt = stdout.IndexOf("base model, before unlearning", StringComparison.Ordinal);
        int unlearnedAt = stdout.IndexOf("| unlearned.safetensors | Cat |", StringComparison.Ordinal);
        Assert.True(baseAt >= 0 && unlearnedAt > baseAt, stdout);
        Assert.Contains("| UA | Comparator |", stdout);
        Assert.Contains("Avg. Gap", stdout);

        var report = Assert.Single(RunReportJson.ReadAll(Path.ChangeExtension(run.Model, ".report.json")));
        Assert.Equal(3, report.ForgetClass);
        Assert.Equal("AdvNegGrad", report.Method);
        Assert.NotNull(report.Base);
        Assert.NotNull(report.Retrained);
        // Base and "retrained" are the same weights: the same figures, and FQS 1 for the base model against it.
        foreach (var (name, value) in report.Retrained!.Metrics)
            if (name != ModelEvaluation.Fqs) Assert.Equal(report.Base!.Metrics[name].Value, value.Value, 12);
        Assert.Equal(1.0, report.Base!.Metrics[ModelEvaluation.Fqs].Value, 12);
        Assert.Equal(ModelEvaluation.AvgGapMetrics.Average(n => Math.Abs(report.Evaluation.Metrics[n].Value - report.Retrained.Metrics[n].Value)), report.AvgGap, 12);
        // The card row in the report is the test set's, as the printed one.
        Assert.Contains(ModelCardTable.Row(report.Card!, "unlearned.safetensors"), stdout);
        // Both splits: the tiny set's training images are all counted.
        Assert.Equal(files.TrainLabels.Length, report.Evaluation.Train.Images);
        Assert.Equal(files.TestLabels.Length, report.Evaluation.Test.Images);
        // The base and retrained files' SHA-256 (what `report` counts them by); the unlearned model's file came after.
        string weightsSha256 = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(files.Weights)));
        Assert.Equal(weightsSha256, report.Base!.Sha256);
        Assert.Equal(weightsSha256, report.Retrained!.Sha256);
        Assert.Null(report.Evaluation.Sha256);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void ManifestVerifiesAndTwoRunsGiveTheSameBytes()
    {
        var first = Unlearn("a");
        var second = Unlearn("b");
        string manifestPath = RunManifestJson.PathFor(first.Model);
        var manifest = RunManifestJson.Read(manifestPath);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(files.Weights))), manifest.Inputs.Single(r => r.Role == "weights").Sha256);
        Assert.Equal(6, manifest.Inputs.Count(r => r.Role == "data"));     // data_batch_1..5.bin, test_batch.bin
        Assert.Single(manifest.Inputs, r => r.Role == "retrained");
        Assert.Equal(["model", "report", "confusion"], manifest.Outputs.Select(r => r.Role));
        Assert.Equal("3", manifest.Settings["forget_class"]);
        // The device as the run's "device:" line names it: the device resolved, then what the device reports.
        Assert.StartsWith("cpu: cpu (", manifest.Device, StringComparison.Ordinal);
        Assert.Contains($"device: {manifest.Device}", first.Result.StderrLines);
        Assert.Equal("none", manifest.Settings["augment"]);
        Assert.Contains('+', manifest.Version);                               // version+commit
        var unlearning = manifest.Phases.Single(p => p.Name == "unlearning");
        Assert.True(unlearning.Seconds > 0 && unlearning.ImagesPerSecond > 0);
        // Every second from the process start to the manifest is in a phase: consecutive intervals, so the sum is the wall
        // time up to rounding (1e-6 s); start-up, loading and each model's metrics parts are named.
        Assert.Equal(manifest.WallSeconds, manifest.Phases.Sum(p => p.Seconds), 1e-6);
        Assert.True(manifest.WallSeconds > unlearning.Seconds);
        Assert.Equal("start-up and checks", manifest.Phases[0].Name);
        Assert.Contains(manifest.Phases, p => p.Name == "load data and weights");
        foreach (var role in new[] { "base", "unlearned", "retrained" })
        {
            Assert.Contains(manifest.Phases, p => p.Name == $"metrics {role}: SVC attack");
            Assert.Contains(manifest.Phases, p => p.Name == $"metrics {role}: bootstrap");
        }

        // Same inputs and settings on the same device: the same model bytes (the .safetensors writer has no timestamps).
        var secondManifest = RunManifestJson.Read(RunManifestJson.PathFor(second.Model));
        Assert.Equal(manifest.Outputs[0].Sha256, secondManifest.Outputs[0].Sha256);

        var ok = CliProcess.Run(first.Folder, "verify", manifestPath);
        Assert.True(ok.ExitCode == 0, ok.ToString());
        Assert.Contains($"all {manifest.Inputs.Count + manifest.Outputs.Count} files match", ok.Stdout);

        // A changed output no longer verifies (a copy, so the other tests keep their files).
        string copy = files.NewFolder("report-tampered");
        foreach (var f in Directory.GetFiles(first.Folder)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        var bytes = File.ReadAllBytes(Path.Combine(copy, "unlearned.safetensors"));
        bytes[^1] ^= 1;
        File.WriteAllBytes(Path.Combine(copy, "unlearned.safetensors"), bytes);
        var bad = CliProcess.Run(copy, "verify", Path.Combine(copy, "unlearned.manifest.json"));
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("MISMATCH model", bad.Stdout);
    }

    [Fact]
    public void ReportMergesRunsIntoTablesCsvAndPicture()
    {
        var run = Unlearn("a");
        string folder = files.NewFolder("report-merge");
        var result = CliProcess.Run(folder, "report", Path.ChangeExtension(run.Model, ".report.json"), "--csv", "runs.csv", "--svg", "runs.svg", "--markdown", "runs.md");
        Assert.True(result.ExitCode == 0, result.ToString());
        var report = RunReportJson.ReadAll(Path.ChangeExtension(run.Model, ".report.json"))[0];
        Assert.Contains(ModelCardTable.HeaderLine, result.Stdout);
        Assert.Contains(ModelCardTable.Row(report.Card!, "unlearned.safetensors"), result.Stdout);
        Assert.Contains("| AdvNegGrad | 1 |", result.Stdout);
        Assert.Contains("| retrained | 1 |", result.Stdout);
        Assert.StartsWith("method,forget_class,model,", File.ReadAllText(Path.Combine(folder, "runs.csv")));
        Assert.StartsWith("<svg", File.ReadAllText(Path.Combine(folder, "runs.svg")));
        Assert.Equal(result.Stdout.TrimEnd(), File.ReadAllText(Path.Combine(folder, "runs.md")).TrimEnd());
        // Where each file went, with its full path.
        Assert.Contains("1 run from 1 file", result.StderrLines);
        Assert.Contains($"csv      {Path.Combine(folder, "runs.csv")}", result.StderrLines);
        Assert.Contains($"svg      {Path.Combine(folder, "runs.svg")}", result.StderrLines);

        var missing = CliProcess.Run(folder, "report", "nothing.json");
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal("ilgpu-unlearn: error: nothing.json: no such run report", Assert.Single(missing.StderrLines));
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void EvalWithoutAForgetClassAndInTheComparatorsSchema()
    {
        string folder = files.NewFolder("report-eval");
        var plain = CliProcess.Run(folder, "eval", "--weights", files.Weights, "--data", files.DataFolder, "--device", "cpu", "--report-json", "plain.json");
        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.Contains("per-class train accuracy (%)", plain.Stdout);
        Assert.DoesNotContain("| UA |", plain.Stdout);
        var report = Assert.Single(RunReportJson.ReadAll(Path.Combine(folder, "plain.json")));
        Assert.Null(report.ForgetClass);
        Assert.Empty(report.Evaluation.Metrics);

        var refused = CliProcess.Run(folder, "eval", "--weights", files.Weights, "--data", files.DataFolder, "--device", "cpu", "--comparator-json", "c.json");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("need --forget-class", Assert.Single(refused.StderrLines));

        var full = CliProcess.Run(folder, "eval", "--weights", files.Weights, "--data", files.DataFolder, "--device", "cpu", "--forget-class", "cat",
            "--base", files.Weights, "--retrained", files.Weights, "--comparator-json", "c.json", "--report-json", "full.json", "--bootstrap", "20", "--method", "Mine");
        Assert.True(full.ExitCode == 0, full.ToString());
        using var comparator = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "c.json")));
        var fullReport = RunReportJson.ReadAll(Path.Combine(folder, "full.json"))[0];
        Assert.Equal(Math.Round(fullReport.Evaluation.Metrics[ModelEvaluation.UA].Value / 100, 3), comparator.RootElement.GetProperty("UA").GetDouble());
        Assert.Equal(1.0, comparator.RootElement.GetProperty("FQS").GetDouble());
        Assert.Equal("Mine", comparator.RootElement.GetProperty("Method").GetString());
        Assert.Equal(10, comparator.RootElement.GetProperty("t_accs").GetArrayLength());
        Assert.Empty(fullReport.CollapsedClasses);
        Assert.Equal(0.0, fullReport.AvgGap, 12);
    }

    [Fact]
    public void BadOptionsAreOneLineErrorsBeforeAnyWork()
    {
        string folder = files.NewFolder("report-bad");
        void Refused(string expected, params string[] args)
        {
            var result = CliProcess.Run(folder, args);
            Assert.True(result.ExitCode == 1, result.ToString());
            Assert.Equal("ilgpu-unlearn: error: " + expected, Assert.Single(result.StderrLines));
        }
        Refused("--retrained nosuch.pth: no such file (or use published, none, auto)",
            "eval", "--weights", files.Weights, "--data", files.DataFolder, "--forget-class", "3", "--retrained", "nosuch.pth");
        File.WriteAllText(Path.Combine(folder, "afile"), "");
        Refused($"--report-json afile/r.json: {Path.Combine(folder, "afile")} is a file, not a folder",
            "eval", "--weights", files.Weights, "--data", files.DataFolder, "--report-json", "afile/r.json");
        Refused("--bootstrap must be 0 or more, got -1",
            "unlearn", "--forget-class", "3", "--weights", files.Weights, "--data", files.DataFolder, "--bootstrap", "-1");
        File.WriteAllText(Path.Combine(folder, "m.json"), "{}");
        // A JSON that is not a run report (an empty object, or eval's --json card report) is refused, not an internal error.
        Refused($"{Path.Combine(folder, "m.json")}: not an ilgpu-unlearn run report (no evaluation in it)", "report", Path.Combine(folder, "m.json"));
        Refused("--svg chart.png: the chart is an SVG picture; give a name ending in .svg", "report", Path.Combine(folder, "m.json"), "--svg", "chart.png");
        Refused($"{Path.Combine(folder, "m.json")}: not an ilgpu-unlearn run manifest (format is not 'ilgpu-unlearn run manifest')", "verify", Path.Combine(folder, "m.json"));
    }

    [Fact]
    public void PublishedRetrainedModelIsDownloadedOnceIntoTheCache()
    {
        using var server = new LocalHttpServer();
        server.Serve("/resnet18_cifar10_no_cat.pth", new LocalHttpServer.Route(200, File.ReadAllBytes(files.Weights)));
        string folder = files.NewFolder("report-published");
        var environment = new Dictionary<string, string> { ["ILGPU_UNLEARN_MIRROR"] = server.BaseAddress.ToString() };
        string[] args = ["eval", "--weights", files.Weights, "--data", files.DataFolder, "--device", "cpu", "--forget-class", "cat",
            "--retrained", "published", "--bootstrap", "0", "--report-json", "r.json"];
        var first = CliProcess.Run(folder, environment, args);
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.True(File.Exists(Path.Combine(folder, "cache", "ilgpu-unlearn", "resnet18_cifar10_no_cat.pth")));
        Assert.Equal("resnet18_cifar10_no_cat.pth", RunReportJson.ReadAll(Path.Combine(folder, "r.json"))[0].Retrained!.Model);
        var second = CliProcess.Run(folder, environment, [.. args, "--force"]);   // r.json exists: replacing it is asked for
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Equal(1, server.RequestCount);
    }
}
