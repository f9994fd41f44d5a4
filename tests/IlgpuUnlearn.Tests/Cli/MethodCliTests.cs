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
    /// <summary>
    /// scripts/fashion-mnist-methods.sh takes its methods from <c>unlearn --help</c>: the lines "  NAME: ..." after the
    /// "Methods (--method" heading up to the next unindented line. They must be the registry's option names, in its order.
    /// </summary>
    [Fact]
    public void HelpListsEveryRegisteredMethodAsTheMethodsScriptReadsIt()
    {
        var help = CliProcess.Run(files.DataFolder, "unlearn", "--help");
        Assert.True(help.ExitCode == 0, help.ToString());
        var names = new List<string>();
        bool on = false;
        foreach (var line in help.Stdout.Split('\n').Select(l => l.TrimEnd('\r')))
        {
            if (line.StartsWith("Methods (--method", StringComparison.Ordinal)) { on = true; continue; }
            if (on && line.Length > 0 && line[0] != ' ') on = false;
            var match = on ? System.Text.RegularExpressions.Regex.Match(line, "^  ([a-z0-9+]+):") : null;
            if (match is { Success: true }) names.Add(match.Groups[1].Value);
        }
        Assert.Equal(IlgpuUnlearn.Unlearning.Methods.MethodRegistry.All.Select(m => m.OptionName), names);
    }

    [Trait("Category", "Slow")]
    [Theory]
    [InlineData("ft", "FT", "lr 0.01", "schedule cosine:1:0.01")]
    [InlineData("ga", "GA", "lr 0.0001", "clip 100")]
    [InlineData("rl", "RL", "lr 0.001", "no clipping")]
    [InlineData("salun", "SalUn", "saliency threshold 0.75", "clip 100")]
    [InlineData("scrub", "SCRUB", "alpha 0.5 gamma 1 T 2 msteps 100", "clip 1,")]
    [InlineData("delete", "DELETE", "lr 0.0001 momentum 0.9 weight decay 0,", "schedule constant", "seed 0")]
    [InlineData("l1sparse", "l1-sparse", "l1 alpha 0.0001", "schedule multistep:91,136:0.1", "seed 2")]
    [InlineData("cfk", "CF-k", "train last 1", "Nesterov, schedule cosine:200", "seed 0")]
    [InlineData("euk", "EU-k", "train last 1", "augment crop-flip", "seed 0")]
    [InlineData("badteacher", "BadTeacher", "retain fraction 0.3, kl temperature 1", "weight decay 0,", "seed 0")]
    [InlineData("neggrad+", "NegGrad+", "seed 0, alpha 0.0001", "SGD lr 0.01 momentum 0 weight decay 0,", "schedule constant")]
    public void EachMethodWritesAModelAndAReportNamingIt(string option, string name, string setting, string other, string seed = "seed 2048")
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
            && l.Contains(other, StringComparison.Ordinal) && l.Contains(seed, StringComparison.Ordinal));

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

    /// <summary>salun --saliency-threshold 0 --freeze-masked from the command line: the settings line and the manifest say it, and
    /// the written model holds every parameter's bytes as the input had them (the running statistics may move: training-mode
    /// forwards); without the switch (the Comparator's) weight decay moves fc.weight.</summary>
    [Fact]
    public void SalUnWithAZeroThresholdAndFrozenMaskWritesTheInputsParameters()
    {
        string folder = files.NewFolder("method-salun-frozen");
        string frozen = Path.Combine(folder, "frozen.safetensors"), comparator = Path.Combine(folder, "comparator.safetensors");
        string[] common = ["unlearn", "--method", "salun", "--saliency-threshold", "0", "--forget-class", "3", "--weights", files.NarrowWeights,
            "--data", files.DataFolder, "--epochs", "1", "--max-steps", "2", "--batch-size", "4", "--device", "cpu", "--bootstrap", "10"];
        var result = CliProcess.Run(folder, [.. common, "--freeze-masked", "--out", frozen]);
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains(result.StderrLines, l => l.Contains("with SalUn: ", StringComparison.Ordinal)
            && l.Contains("saliency threshold 0 over 5 forget batches, mask on the whole update (masked weights frozen)", StringComparison.Ordinal));
        Assert.Contains("\"freeze_masked\": \"True\"", File.ReadAllText(Path.ChangeExtension(frozen, ".manifest.json")));
        var input = WeightsFile.Load(files.NarrowWeights).Tensors;
        var output1 = WeightsFile.Load(frozen).Tensors;
        int compared = 0;
        foreach (var (name, tensor) in input.Where(t => !t.Key.Contains("running_", StringComparison.Ordinal) && !t.Key.EndsWith("num_batches_tracked", StringComparison.Ordinal)))
        {
            Assert.True(tensor.Bytes.SequenceEqual(output1[name].Bytes), $"{name} changed");
            compared++;
        }
        Assert.True(compared > 50, $"{compared} parameter tensors");

        var moved = CliProcess.Run(folder, [.. common, "--out", comparator]);
        Assert.True(moved.ExitCode == 0, moved.ToString());
        Assert.False(input["fc.weight"].Bytes.SequenceEqual(WeightsFile.Load(comparator).Tensors["fc.weight"].Bytes), "weight decay did not move fc.weight");
    }

    [Fact]
    public void A_recipe_sets_the_method_and_a_runs_manifest_replays_it()
    {
        string folder = files.NewFolder("method-recipe");
        string first = Path.Combine(folder, "first.safetensors"), second = Path.Combine(folder, "second.safetensors");
        string[] common = ["--forget-class", "3", "--weights", files.NarrowWeights, "--data", files.DataFolder, "--device", "cpu", "--bootstrap", "10"];
        var run = CliProcess.Run(folder, ["unlearn", "--recipe", "salun-card", "--epochs", "1", "--max-steps", "1", "--batch-size", "4", "--out", first, .. common]);
        output.WriteLine(run.ToString());
        Assert.True(run.ExitCode == 0, run.ToString());
        string line = Assert.Single(run.StderrLines, l => l.Contains("with SalUn: ", StringComparison.Ordinal));
        Assert.Contains("SGD lr 0.01 momentum 0.9 weight decay 0.0005 Nesterov", line);
        Assert.Contains("saliency threshold 0.1 over 5 forget batches, mask on the gradient (the Comparator's), at most 1 step(s), recipe salun-card", line);

        var replay = CliProcess.Run(folder, ["unlearn", "--recipe", Path.ChangeExtension(first, ".manifest.json"), "--out", second, .. common]);
        output.WriteLine(replay.ToString());
        Assert.True(replay.ExitCode == 0, replay.ToString());
        string again = Assert.Single(replay.StderrLines, l => l.Contains("with SalUn: ", StringComparison.Ordinal));
        Assert.Equal(line[..line.IndexOf(", recipe", StringComparison.Ordinal)], again[..again.IndexOf(", recipe", StringComparison.Ordinal)]);
        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(second));   // the same settings and seed give the same model
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
