using System.Text.RegularExpressions;
using IlgpuUnlearn.Cli;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Tests.Download;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// What a new user meets around the main job, each through the program as a child process: --version, help VERB, the
/// download verb against a local mirror, a quick eval on a subset with progress, and messages in the user's terms.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class CliVerbsTests(TinyCifarFiles files, ITestOutputHelper output)
{
    [Fact]
    public void VersionIsOneLineWithTheCommit()
    {
        var result = CliProcess.Run(files.NewFolder("version"), "--version");
        output.WriteLine(result.ToString());
        Assert.Equal(0, result.ExitCode);
        string line = Assert.Single(result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        // The build knows its commit when built from a git checkout (as here); a build from a source archive prints the version alone.
        Assert.Matches(@"^ilgpu-unlearn \d+\.\d+\.\d+( \(commit [0-9a-f]{7,12}\))?$", line);
        Assert.Equal("", result.Stderr.Trim());
    }

    [Fact]
    public void HelpUnlearnListsUnlearnsOptions()
    {
        var result = CliProcess.Run(files.NewFolder("help"), "help", "unlearn");
        output.WriteLine(result.ToString());
        Assert.Equal(0, result.ExitCode);
        foreach (var option in new[] { "--forget-class", "--weights", "--data", "--device", "--limit", "--max-steps", "--resume", "--json" })
            Assert.Contains(option, result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("bench-kernels", result.Stdout, StringComparison.Ordinal); // not the list of verbs
    }

    [Theory]
    [InlineData("bench", "--batch-size", "0", "--batch-size must be at least 1, got 0")]
    [InlineData("bench", "--steps", "-1", "--steps must be at least 1, got -1")]
    [InlineData("bench-eval", "--warmup", "-2", "--warmup must be at least 0, got -2")]
    public void BenchVerbsNameTheOptionAndTheValueOutOfRange(string verb, string option, string value, string message)
    {
        var result = CliProcess.Run(files.NewFolder("bench-range"), verb, "--device", "cpu", option, value);
        output.WriteLine(result.ToString());
        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"ilgpu-unlearn: error: {message}", Assert.Single(result.StderrLines));
    }

    [Fact]
    public void DownloadFetchesIntoTheCacheOnceAndRefusesUnknownNames()
    {
        string folder = files.NewFolder("download");
        using var server = new LocalHttpServer();
        var model = new byte[40_000_000];
        model[12345] = 7;
        server.Serve("/resnet18_cifar10_full.pth", new LocalHttpServer.Route(200, model));
        server.Serve("/resnet18_cifar10_no_cat.pth", new LocalHttpServer.Route(200, model));
        var environment = new Dictionary<string, string?> { ["ILGPU_UNLEARN_MIRROR"] = server.BaseAddress.ToString() };
        string cache = Path.Combine(folder, "cache", "ilgpu-unlearn");

        var first = CliProcess.RunWith(environment, folder, "download", "base-model", "retrained-cat");
        output.WriteLine(first.ToString());
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal([$"downloaded: {cache}/resnet18_cifar10_full.pth", $"downloaded: {cache}/resnet18_cifar10_no_cat.pth"],
            first.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(model, File.ReadAllBytes(Path.Combine(cache, "resnet18_cifar10_no_cat.pth")));
        int requests = server.RequestCount;

        var second = CliProcess.RunWith(environment, folder, "download", "base-model", "retrained-cat");
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Equal([$"cached: {cache}/resnet18_cifar10_full.pth", $"cached: {cache}/resnet18_cifar10_no_cat.pth"],
            second.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(requests, server.RequestCount);

        var unknown = CliProcess.RunWith(environment, folder, "download", "base-model", "imagenet");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Equal("ilgpu-unlearn: error: download: 'imagenet' is not something to download: use cifar10, base-model, retrained, retrained-<class> or all",
            Assert.Single(unknown.StderrLines));
        Assert.Equal(requests, server.RequestCount); // refused before anything was fetched
    }

    [Fact]
    public void EvalOnASubsetShowsProgressWithAnEta()
    {
        string folder = files.NewFolder("eval-limit");
        string json = Path.Combine(folder, "report.json");
        var result = CliProcess.Run(folder, "eval", "--weights", files.Weights, "--forget-class", "3", "--data", files.DataFolder,
            "--device", "cpu", "--limit", "10", "--batch-size", "4", "--json", json);
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("  --limit 10: the first 1 images of each class of each split", result.StderrLines);
        // Both splits (10 training, 10 test images) in batches of 4: 4, 8, 10, then 14, 18, 20; without a terminal the first and
        // the last are always shown.
        Assert.Contains(result.StderrLines, l => Regex.IsMatch(l, @"^evaluating 4/20 images +\d+\.\d images/s  ETA \dm\d\ds$"));
        Assert.Contains(result.StderrLines, l => Regex.IsMatch(l, @"^evaluating 20/20 images +\d+\.\d images/s  ETA 0m00s$"));
        var report = UnlearningReportJson.Read(json);
        Assert.All(report.ConfusionMatrix, row => Assert.Equal(1, row.Sum()));
    }

    [Fact]
    public void MessagesNameTheUsersFilesNotDotNetsInternals()
    {
        Assert.Equal("unknown thing 'x'", UserFacing.Message(new ArgumentException("unknown thing 'x'", "name")));
        string temporary = $"/data/out/.model.pth.{Guid.NewGuid():N}.tmp";
        Assert.Equal("Access to the path '/data/out/model.pth' is denied.", UserFacing.Message(new UnauthorizedAccessException($"Access to the path '{temporary}' is denied.")));
        string partial = $"/cache/.cifar-10-binary.tar.gz.{Guid.NewGuid():N}.partial";
        Assert.Equal("No space left on device : '/cache/cifar-10-binary.tar.gz'", UserFacing.Message(new IOException($"No space left on device : '{partial}'")));
        Assert.Equal("two lines", UserFacing.Message(new IOException("two\nlines")));
    }
}
