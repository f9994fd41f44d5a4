namespace IlgpuUnlearn.Tests.Cli;

/// <summary>A second eval of the same model file on the same data reads its outputs from the cache (the same report); --no-cache forwards again.</summary>
[Collection(CliCollection.Name)]
public sealed class OutputsCacheCliTests(TinyCifarFiles files)
{
    [Fact]
    public void SecondEvalReadsTheCacheAndNoCacheForwards()
    {
        string folder = files.NewFolder("outputs-cache");
        string[] args = ["eval", "--weights", files.Weights, "--forget-class", "3", "--data", files.DataFolder, "--device", "cpu",
            "--limit", "20", "--batch-size", "10", "--bootstrap", "10"];
        var first = CliProcess.Run(folder, args);
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.DoesNotContain("outputs from the cache", first.Stderr);
        Assert.Single(Directory.GetFiles(Path.Combine(folder, "cache", "ilgpu-unlearn", "outputs")));

        var second = CliProcess.Run(folder, args);
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("outputs from the cache", second.Stderr);
        Assert.DoesNotContain(second.StderrLines, l => l.StartsWith("evaluating ", StringComparison.Ordinal));
        Assert.Equal(first.Stdout, second.Stdout);

        var again = CliProcess.Run(folder, [.. args, "--no-cache"]);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.DoesNotContain("outputs from the cache", again.Stderr);
        Assert.Equal(first.Stdout, again.Stdout);
    }
}
