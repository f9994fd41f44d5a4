using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// One overwrite policy for every verb: an output that exists stops the run before any work, on one line naming the file
/// and --force, and the file is left as it was; with --force it is replaced. (A refusal costs a rerun; a silent replacement
/// can cost a trained model or a checkpoint.)
/// </summary>
[Collection(CliCollection.Name)]
public sealed class OverwritePolicyTests(TinyCifarFiles files, ITestOutputHelper output)
{
    public static TheoryData<string> Cases => new()
    {
        "unlearn --out", "unlearn --json", "unlearn --confusion", "unlearn --report-json", "unlearn manifest", "unlearn all model",
        "eval --json", "eval --report-json", "eval --comparator-json", "eval --confusion",
        "report --csv", "report --svg", "report --markdown", "convert OUT", "demo model", "train --out", "train --curves",
    };

    [Trait("Category", "Slow")]
    [Theory]
    [MemberData(nameof(Cases))]
    public void AnExistingOutputIsRefusedWithoutForce(string name)
    {
        string folder = files.NewFolder(name.Replace(' ', '-').Replace("--", "", StringComparison.Ordinal));
        string model = Path.Combine(folder, "out.pth");
        string[] unlearn = ["unlearn", "--forget-class", "3", "--weights", files.Weights, "--data", files.DataFolder, "--device", "cpu", "--out", model];
        string[] eval = ["eval", "--forget-class", "3", "--weights", files.Weights, "--data", files.DataFolder, "--device", "cpu"];
        string Existing(string file) { File.WriteAllText(file, "precious"); return file; }
        (string[] Args, string File) run = name switch
        {
            "unlearn --out" => (unlearn, Existing(model)),
            "unlearn --json" => ([.. unlearn, "--json", Existing(Path.Combine(folder, "r.json"))], Path.Combine(folder, "r.json")),
            "unlearn --confusion" => (unlearn, Existing(Path.Combine(folder, "out.confusion.svg"))),
            "unlearn --report-json" => (unlearn, Existing(Path.ChangeExtension(model, ".report.json"))),
            "unlearn manifest" => (unlearn, Existing(Path.ChangeExtension(model, ".manifest.json"))),
            "unlearn all model" => (["unlearn", "--forget-class", "all", "--weights", files.Weights, "--data", files.DataFolder, "--device", "cpu", "--out", folder],
                Existing(Path.Combine(folder, "cifar10_resnet18_AdvNegGrad_7.pth"))),
            "eval --json" or "eval --report-json" or "eval --comparator-json" =>
                ([.. eval, name[5..], Existing(Path.Combine(folder, "x.json"))], Path.Combine(folder, "x.json")),
            "eval --confusion" => ([.. eval, "--confusion", Existing(Path.Combine(folder, "x.svg"))], Path.Combine(folder, "x.svg")),
            "report --csv" or "report --svg" or "report --markdown" =>
                (["report", Existing(Path.Combine(folder, "run.report.json")), name[7..], Existing(Path.Combine(folder, "t." + name[9..]))], Path.Combine(folder, "t." + name[9..])),
            "convert OUT" => (["convert", files.Weights, Existing(Path.Combine(folder, "w.safetensors"))], Path.Combine(folder, "w.safetensors")),
            "demo model" => (["demo", "--device", "cpu", "--out", folder], Existing(Path.Combine(folder, "fashion-mnist_resnet18_base.pth"))),
            "train --out" => (["train", "--dataset", "synthetic", "--device", "cpu", "--epochs", "1", "--out", Existing(model)], model),
            "train --curves" => (["train", "--dataset", "synthetic", "--device", "cpu", "--epochs", "1", "--out", model], Existing(Path.Combine(folder, "out.curves.svg"))),
            _ => throw new ArgumentException(name),
        };
        var before = Directory.GetFiles(folder).Order().ToArray();
        var result = CliProcess.Run(folder, run.Args);
        output.WriteLine(result.ToString());
        Assert.Equal(1, result.ExitCode);
        // One error line (the others may say first how much memory the run needs, before they check the files; demo checks
        // its files first, so its refusal comes alone).
        string error = Assert.Single(result.StderrLines, l => l.StartsWith("ilgpu-unlearn:", StringComparison.Ordinal));
        if (name == "demo model") Assert.Equal(error, Assert.Single(result.StderrLines));
        Assert.StartsWith("ilgpu-unlearn: error: ", error, StringComparison.Ordinal);
        Assert.Contains(Path.GetFileName(run.File), error, StringComparison.Ordinal);
        Assert.Contains("exists", error, StringComparison.Ordinal);
        Assert.Contains("--force", error, StringComparison.Ordinal);
        Assert.Equal("precious", File.ReadAllText(run.File));
        Assert.Equal(before, Directory.GetFiles(folder).Order().ToArray());   // nothing else written either
    }

    /// <summary>With --force the same run goes on and replaces the file (convert: the cheapest verb that writes one), and says so.</summary>
    [Fact]
    public void ForceReplacesAndSaysSo()
    {
        string folder = files.NewFolder("force");
        string target = Path.Combine(folder, "w.safetensors");
        File.WriteAllText(target, "precious");
        var result = CliProcess.Run(folder, "convert", files.Weights, target, "--force");
        output.WriteLine(result.ToString());
        Assert.Equal(0, result.ExitCode);
        Assert.Contains($"note: replaced {target} (--force)", result.Stderr, StringComparison.Ordinal);
        Assert.NotEqual("precious", File.ReadAllText(target));
    }
}
