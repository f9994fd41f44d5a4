using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// One naming scheme for every verb: a model is &lt;dataset&gt;_resnet18_&lt;Method&gt;_&lt;k&gt;.pth, the dataset as --dataset
/// names it (fashion-mnist, as the demo names its files), and every file beside it is the model's name with another
/// extension: .card.json, .report.json, .manifest.json, .confusion.svg.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class NamingSchemeTests(TinyCifarFiles files, ITestOutputHelper output)
{
    [Fact]
    public void UnlearnNamesEveryOutputAfterItsModel()
    {
        string folder = files.NewFolder("naming");
        var result = CliProcess.Run(folder, "unlearn", "--forget-class", "3", "--weights", files.NarrowWeights, "--data", files.DataFolder,
            "--no-shuffle", "--augment", "none", "--batch-size", "2", "--device", "cpu", "--max-steps", "1", "--bootstrap", "0", "--retrained", "none");
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(["cifar10_resnet18_AdvNegGrad_3.confusion.svg", "cifar10_resnet18_AdvNegGrad_3.manifest.json", "cifar10_resnet18_AdvNegGrad_3.pth",
            "cifar10_resnet18_AdvNegGrad_3.report.json"], Directory.GetFiles(folder).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToArray());
    }

    /// <summary>The dataset part is fashion-mnist for unlearn as for the demo: shown by the overwrite check, which names the planned file before any work.</summary>
    [Theory]
    [InlineData("fashion-mnist_resnet18_AdvNegGrad_3.pth")]
    [InlineData("fashion-mnist_resnet18_AdvNegGrad_3.report.json")]
    [InlineData("fashion-mnist_resnet18_AdvNegGrad_3.manifest.json")]
    [InlineData("fashion-mnist_resnet18_AdvNegGrad_3.confusion.svg")]
    public void FashionMnistRunsAreNamedAsTheDemoNamesThem(string planned)
    {
        string folder = files.NewFolder("naming-fmnist");
        File.WriteAllText(Path.Combine(folder, planned), "there");
        var result = CliProcess.Run(folder, "unlearn", "--dataset", "fashion-mnist", "--data", Path.Combine(AppContext.BaseDirectory, "data", "fashion-mnist-demo"),
            "--weights", files.NarrowWeights, "--forget-class", "3", "--device", "cpu");
        output.WriteLine(result.ToString());
        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"{planned} exists", Assert.Single(result.StderrLines), StringComparison.Ordinal);
    }
}
