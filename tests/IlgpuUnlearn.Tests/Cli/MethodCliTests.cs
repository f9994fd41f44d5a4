using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Weights;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// <c>unlearn --method M</c> as a user runs it (a child process) for each Comparator method, on the tiny CIFAR-10 files with
/// the width-16 network, one epoch cut to 2 steps: exit code 0, the model written where --out says, its run report and
/// manifest naming the method, the settings line and the method's defaults (or the options given) on stderr. With no --out
/// the file name carries the method (cifar10_resnet18_SCRUB_3.pth).
/// </summary>
[Collection(CliCollection.Name)]
public sealed class MethodCliTests(TinyCifarFiles files, ITestOutputHelper output)
{
    [Trait("Category", "Slow")]
    [Theory]
    [InlineData("ft", "FT", "lr 0.01", "schedule cosine:1:0.01")]
    [InlineData("ga", "GA", "lr 0.0001", "clip 100")]
    [InlineData("rl", "RL", "lr 0.001", "no clipping")]
    [InlineData("salun", "SalUn", "saliency threshold 0.75", "clip 100")]
    [InlineData("scrub", "SCRUB", "alpha 0.5 gamma 1 T 2 msteps 100", "clip 1,")]
    public void EachMethodWritesAModelAndAReportNamingIt(string option, string name, string setting, string other)
    {
        string folder = files.NewFolder($"method-{option}");
        var result = CliProcess.Run(folder, "unlearn", "--method", option, "--forget-class", "3", "--weights", files.NarrowWeights,
            "--data", files.DataFolder, "--epochs", "1", "--max-steps", "2", "--batch-size", "4", "--device", "cpu", "--bootstrap", "10");
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        string model = Path.Combine(folder, $"cifar10_resnet18_{name}_3.pth");
        Assert.True(File.Exists(model), $"{model} is not written");
        Assert.NotEmpty(WeightsFile.Load(model).Tensors);
        Assert.Contains(result.StderrLines, l => l.Contains($"with {name}: ", StringComparison.Ordinal) && l.Contains(setting, StringComparison.Ordinal)
            && l.Contains(other, StringComparison.Ordinal) && l.Contains("seed 2048", StringComparison.Ordinal));

        var reports = RunReportJson.ReadAll(Path.ChangeExtension(model, ".report.json"));
        Assert.Equal(name, Assert.Single(reports).Method);
        string manifest = File.ReadAllText(Directory.GetFiles(folder, "*manifest*.json").Single());
        Assert.Contains($"\"method\": \"{name}\"", manifest);
    }

    /// <summary>SSD and LFSSD take no step: their own options reach the settings line and the manifest, the report names them.</summary>
    [Theory]
    [InlineData("ssd", "SSD", "squared gradients of the mean cross-entropy")]
    [InlineData("lfssd", "LFSSD", "mean squared logit norm, no labels")]
    public void SynapticDampeningRunsFromTheCommandLine(string option, string name, string importance)
    {
        string folder = files.NewFolder($"method-{option}");
        var result = CliProcess.Run(folder, "unlearn", "--method", option, "--forget-class", "3", "--weights", files.NarrowWeights,
            "--data", files.DataFolder, "--batch-size", "4", "--ssd-alpha", "5", "--device", "cpu", "--bootstrap", "10");
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        string model = Path.Combine(folder, $"cifar10_resnet18_{name}_3.pth");
        Assert.True(File.Exists(model), $"{model} is not written");
        Assert.Contains(result.StderrLines, l => l.Contains($"with {name}: no training;", StringComparison.Ordinal)
            && l.Contains(importance, StringComparison.Ordinal) && l.Contains("batches of 4", StringComparison.Ordinal)
            && l.Contains("alpha 5, lambda 1", StringComparison.Ordinal));
        Assert.Equal(name, Assert.Single(RunReportJson.ReadAll(Path.ChangeExtension(model, ".report.json"))).Method);
        string manifest = File.ReadAllText(Directory.GetFiles(folder, "*manifest*.json").Single());
        Assert.Contains($"\"method\": \"{name}\"", manifest);
        Assert.Contains("\"ssd_alpha\": \"5\"", manifest);
    }

    [Fact]
    public void OptionsOverrideTheMethodsDefaults()
    {
        string folder = files.NewFolder("method-overrides");
        string model = Path.Combine(folder, "scrub.safetensors");
        var result = CliProcess.Run(folder, "unlearn", "--method", "SCRUB", "--forget-class", "cat", "--weights", files.NarrowWeights,
            "--data", files.DataFolder, "--epochs", "2", "--max-steps", "3", "--batch-size", "4", "--lr", "0.002", "--clip", "5",
            "--kd-temperature", "4", "--scrub-alpha", "0.25", "--scrub-gamma", "2", "--msteps", "1", "--fisher-samples", "4",
            "--lr-schedule", "multistep:1:0.5", "--seed", "7", "--device", "cpu", "--bootstrap", "10", "--out", model);
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(File.Exists(model));
        Assert.Contains(result.StderrLines, l => l.Contains("with SCRUB: 2 epoch(s), batch 4, SGD lr 0.002", StringComparison.Ordinal)
            && l.Contains("schedule multistep:1:0.5, clip 5,", StringComparison.Ordinal) && l.Contains("seed 7", StringComparison.Ordinal)
            && l.Contains("alpha 0.25 gamma 2 T 4 msteps 1, Fisher from 4 retain samples", StringComparison.Ordinal));
    }

    [Fact]
    public void ForgetAllRunsTheMethodForEveryClass()
    {
        string folder = files.NewFolder("method-all");
        string models = Path.Combine(folder, "models");
        var result = CliProcess.Run(folder, "unlearn", "--method", "ga", "--forget-class", "all", "--weights", files.NarrowWeights,
            "--data", files.DataFolder, "--max-steps", "1", "--device", "cpu", "--bootstrap", "10", "--out", models);
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        for (int k = 0; k < 10; k++)
        {
            string model = Path.Combine(models, $"cifar10_resnet18_GA_{k}.pth");
            Assert.True(File.Exists(model), $"{model} is not written");
            Assert.Equal("GA", Assert.Single(RunReportJson.ReadAll(Path.ChangeExtension(model, ".report.json"))).Method);
        }
        Assert.Contains("| cifar10_resnet18_GA_9.pth |", result.Stdout);
    }
}
