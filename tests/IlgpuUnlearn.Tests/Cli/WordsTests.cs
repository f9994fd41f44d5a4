using IlgpuUnlearn.Cli;
using IlgpuUnlearn.Cli.Commands;
using IlgpuUnlearn.Manifest;
using IlgpuUnlearn.Model;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// What the program says, in a user's words: a missing argument or a misspelt option on one line naming it, download's
/// own hint, eval's help, the memory line naming both batches, no bootstrap announced with --bootstrap 0, the verb once in
/// the manifest's command.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class WordsTests(TinyCifarFiles files, ITestOutputHelper output)
{
    [Theory]
    [InlineData("convert needs IN and OUT (usage: ilgpu-unlearn convert IN OUT [options])", "convert", "a.pth")]
    [InlineData("report needs RUN.json... (usage: ilgpu-unlearn report RUN.json... [options])", "report")]
    [InlineData("verify needs MANIFEST", "verify")]
    [InlineData("unknown option --foget-class; did you mean --forget-class?", "unlearn", "--foget-class", "3")]
    [InlineData("unknown option --bootstap; did you mean --bootstrap?", "eval", "--bootstap", "0")]
    [InlineData("--forget-class is missing (it is required)", "unlearn")]
    [InlineData("--forget-class is given without its value", "unlearn", "--forget-class")]
    [InlineData("--limit is given without its value", "eval", "m.pth", "--limit")]
    [InlineData("--limit is given without its value", "eval", "m.pth", "--limit", "--device", "cpu")]
    [InlineData("unknown verb unlern; did you mean unlearn?", "unlern", "--forget-class", "3")]
    [InlineData("--limit abc: expected a whole number", "unlearn", "--forget-class", "3", "--limit", "abc")]
    [InlineData("--limit 1.5: expected a whole number", "eval", "m.pth", "--limit=1.5")]
    public void ParserErrorsAreOneLineNamingWhatIsWrong(string expected, params string[] args)
    {
        string folder = files.NewFolder("words");
        var result = CliProcess.Run(folder, args);
        output.WriteLine(result.ToString());
        Assert.Equal(2, result.ExitCode);
        string line = Assert.Single(result.StderrLines);
        Assert.StartsWith($"ilgpu-unlearn: error: {expected}", line, StringComparison.Ordinal);
        Assert.DoesNotContain("not bound to option name", line, StringComparison.Ordinal);
        Assert.DoesNotContain("Required option", line, StringComparison.Ordinal);
    }

    [Fact]
    public void DownloadsHintNamesNoOptionItRefusesAndSaysFailedOnce()
    {
        using var server = new Download.LocalHttpServer();
        string folder = files.NewFolder("download-hint");
        var result = CliProcess.Run(folder, new Dictionary<string, string> { ["ILGPU_UNLEARN_MIRROR"] = server.BaseAddress.ToString() }, "download", "base-model");
        output.WriteLine(result.ToString());
        Assert.Equal(1, result.ExitCode);
        string error = Assert.Single(result.StderrLines, l => l.StartsWith("ilgpu-unlearn:", StringComparison.Ordinal));
        Assert.Contains("HTTP 404", error, StringComparison.Ordinal);
        Assert.Contains("to fill the cache without this network, copy resnet18_cifar10_full.pth", error, StringComparison.Ordinal);
        Assert.DoesNotContain("--weights", error, StringComparison.Ordinal);
        Assert.DoesNotContain("--data", error, StringComparison.Ordinal);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(error, "download failed"));
    }

    [Fact]
    public void EvalsHelpCallsWeightsTheModelToEvaluate()
    {
        var result = CliProcess.Run(files.NewFolder("eval-help"), "eval", "--help");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("The model to evaluate", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("The model to start from", result.Stdout, StringComparison.Ordinal);
    }

    /// <summary>unlearn --help gives a switch's default in words ("off"), not as the manifest records it ("False").</summary>
    [Fact]
    public void MethodListGivesSwitchDefaultsInWords()
    {
        var lines = MethodChoice.HelpLines().ToList();
        Assert.Contains(lines, l => l.Contains("--card-update:", StringComparison.Ordinal) && l.EndsWith("(default off).", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("--freeze-masked:", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("(default False)", StringComparison.Ordinal) || l.Contains("(default True)", StringComparison.Ordinal));
    }

    /// <summary>A batch cut to the set's size that still does not fit is named as typed (50,000 full-width images need far more than any CPU here).</summary>
    [Fact]
    public void AnOverLargeBatchIsNamedAsTyped()
    {
        var e = Assert.Throws<UserError>(() => DeviceChoice.CheckMemory([new DeviceSpec(DeviceKind.Cpu)], ResNet18Config.Cifar10, 50_000,
            training: true, "--batch-size", typed: 1_000_000));
        Assert.StartsWith("--batch-size 1000000 (a batch of 50000, the whole set) needs ", e.Message, StringComparison.Ordinal);
    }

    /// <summary>One small unlearn run: the memory line names both batches, --bootstrap 0 announces no intervals, the manifest's command has the verb once.</summary>
    [Fact]
    public void UnlearnSaysWhichBatchesAndNoBootstrapAndRecordsTheVerbOnce()
    {
        string folder = files.NewFolder("words-unlearn");
        string model = Path.Combine(folder, "m.pth");
        var result = CliProcess.Run(folder, "unlearn", "--forget-class", "3", "--weights", files.NarrowWeights, "--data", files.DataFolder,
            "--no-shuffle", "--augment", "none", "--batch-size", "2", "--eval-batch-size", "7", "--device", "cpu", "--max-steps", "1",
            "--bootstrap", "0", "--retrained", "none", "--out", model);
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains(result.StderrLines, l => l.StartsWith("memory: training batch 2 (--batch-size) and evaluation batch 7 (--eval-batch-size), the network sized for 7, needs ", StringComparison.Ordinal));
        Assert.Contains("metrics, point values (--bootstrap 0: no intervals)", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("bootstrap intervals", result.Stdout, StringComparison.Ordinal);
        var manifest = RunManifestJson.Read(Path.ChangeExtension(model, ".manifest.json"));
        Assert.Equal("unlearn", manifest.Command[0]);
        Assert.Single(manifest.Command, a => a == "unlearn");
        Assert.Equal("--forget-class", manifest.Command[1]);
    }
}
