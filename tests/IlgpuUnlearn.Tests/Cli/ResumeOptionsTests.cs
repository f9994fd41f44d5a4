using IlgpuUnlearn.Evaluation;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// unlearn --resume keeps a written class only when its manifest records the same options, as train --resume requires of
/// its checkpoint: a class made with another learning rate is not silently mixed into the table.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class ResumeOptionsTests(TinyCifarFiles files, ITestOutputHelper output)
{
    [Fact]
    public void ResumeRefusesAClassWrittenWithOtherOptions()
    {
        string folder = files.NewFolder("resume-options");
        string models = Path.Combine(folder, "models");
        Directory.CreateDirectory(models);
        // Class 3 written as a --forget-class all run writes it: model, report, run report, manifest in the folder.
        string model = Path.Combine(models, ModelCardTable.ModelName(3));
        string[] common = ["--weights", files.NarrowWeights, "--data", files.DataFolder, "--no-shuffle", "--augment", "none", "--batch-size", "1",
            "--device", "cpu", "--max-steps", "1", "--bootstrap", "0"];
        var first = CliProcess.Run(folder, ["unlearn", "--forget-class", "3", .. common, "--out", model, "--json", Path.ChangeExtension(model, ".card.json")]);
        output.WriteLine(first.ToString());
        Assert.True(first.ExitCode == 0, first.ToString());
        var before = Directory.GetFiles(models).Order().ToArray();

        var other = CliProcess.Run(folder, ["unlearn", "--forget-class", "all", .. common, "--lr", "0.05", "--out", models, "--resume"]);
        output.WriteLine(other.ToString());
        Assert.Equal(1, other.ExitCode);
        string error = Assert.Single(other.StderrLines);
        Assert.StartsWith($"ilgpu-unlearn: error: --resume: {model} was made with other options (lr 0.1 -> 0.05)", error, StringComparison.Ordinal);
        Assert.Equal(before, Directory.GetFiles(models).Order().ToArray());

        // Its manifest gone, the class cannot be checked: refused too, naming the manifest.
        File.Delete(Path.ChangeExtension(model, ".manifest.json"));
        var unchecked_ = CliProcess.Run(folder, ["unlearn", "--forget-class", "all", .. common, "--out", models, "--resume"]);
        output.WriteLine(unchecked_.ToString());
        Assert.Equal(1, unchecked_.ExitCode);
        Assert.Contains($"{model} has no manifest", Assert.Single(unchecked_.StderrLines), StringComparison.Ordinal);
    }
}
