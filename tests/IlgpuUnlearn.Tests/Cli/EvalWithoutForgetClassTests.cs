using System.Text.Json;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// eval without --forget-class reports what README promises: accuracy and mean loss over each split (and per class),
/// --json allowed, and the files hold numbers or null, never the string "NaN".
/// </summary>
[Collection(CliCollection.Name)]
public sealed class EvalWithoutForgetClassTests(TinyCifarFiles files, ITestOutputHelper output)
{
    [Fact]
    public void PrintsAccuracyAndLossAndWritesJsonWithoutNaN()
    {
        string folder = files.NewFolder("eval-no-class");
        var result = CliProcess.Run(folder, "eval", "--weights", files.NarrowWeights, "--data", files.DataFolder, "--device", "cpu",
            "--json", "e.json", "--report-json", "r.json");
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("accuracy % (mean loss) on both splits", result.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"\| hashed_width16\.pth \| evaluated \| [\d.]+ \(\d+\.\d{3}\) \| [\d.]+ \(\d+\.\d{3}\) \|", result.Stdout);
        Assert.Contains("per-class test loss: ", result.Stdout, StringComparison.Ordinal);

        foreach (string file in new[] { "e.json", "r.json" })
            Assert.DoesNotContain("NaN", File.ReadAllText(Path.Combine(folder, file)), StringComparison.Ordinal);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "e.json")));
        foreach (string split in new[] { "train", "test" })
        {
            var s = json.RootElement.GetProperty(split);
            Assert.Equal(JsonValueKind.Null, s.GetProperty("forget_accuracy").ValueKind);
            // The overall accuracy is the per-class accuracies weighted by their counts (the same images); exact up to rounding.
            var counts = s.GetProperty("per_class_count").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            var accuracies = s.GetProperty("per_class_accuracy").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            var losses = s.GetProperty("per_class_loss").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            double n = counts.Sum();
            Assert.Equal(counts.Zip(accuracies).Sum(p => p.First * p.Second) / n, s.GetProperty("accuracy").GetDouble(), 9);
            Assert.Equal(counts.Zip(losses).Sum(p => p.First * p.Second) / n, s.GetProperty("loss").GetDouble(), 9);
        }
    }
}
