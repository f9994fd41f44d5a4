using System.Text.RegularExpressions;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Evaluation.Seeds;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// <c>unlearn --seeds</c> as a user meets it (child processes, the tiny CIFAR-10 files, the width-16 network, two steps of
/// batch 2): each seed's outputs named _s&lt;seed&gt;, different seeds giving different models for a method that draws
/// randomness (RL's random labels), one seed giving the same bytes again, the base model forwarded once, the merged
/// <c>.seeds.json</c>, <c>report</c> merging the seeds' run reports, and bad values refused on one line.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class SeedsCliTests(TinyCifarFiles files, ITestOutputHelper output)
{
    const string Stem = "cifar10_resnet18_RL_3";

    string[] Options(params string[] more) =>
    [
        "unlearn", "--method", "rl", "--forget-class", "3", "--weights", files.NarrowWeights, "--data", files.DataFolder,
        "--batch-size", "2", "--max-steps", "2", "--bootstrap", "20", "--retrained", "none", "--below-logits", "none", "--device", "cpu", .. more,
    ];

    sealed record SeedsRun(CliResult Result, string Folder);

    SeedsRun Run() => files.Once("rl seeds 0,1", () =>
    {
        string folder = files.NewFolder("seeds");
        var result = CliProcess.Run(folder, Options("--seeds", "0,1"));
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        return new SeedsRun(result, folder);
    });

    static Dictionary<string, byte[]> Tensors(string path) =>
        IlgpuUnlearn.Weights.WeightsFile.Load(path).Tensors.ToDictionary(t => t.Key, t => t.Value.Bytes.ToArray());

    [Trait("Category", "Slow")]
    [Fact]
    public void EachSeedIsNamedApartAndTheSeedsAreMerged()
    {
        var run = Run();
        string[] expected = [$"{Stem}.seeds.json", .. new[] { 0, 1 }.SelectMany(s => new[] { ".confusion.svg", ".manifest.json", ".pth", ".report.json" }
            .Select(e => $"{Stem}_s{s}{e}"))];
        Assert.Equal(expected.Order(StringComparer.Ordinal), Directory.GetFiles(run.Folder).Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal));
        // The base model is forwarded once for both seeds; each seed's model once.
        Assert.Single(run.Result.StderrLines, l => l == "evaluating base model on both splits");
        Assert.Equal(2, run.Result.StderrLines.Count(l => l == "evaluating unlearned model on both splits"));
        // The base model's block (card table, splits, metrics) printed once; the second seed refers to it in one line.
        var stdout = run.Result.Stdout.Split('\n');
        Assert.Single(stdout, l => l == "base model, before unlearning:");
        Assert.Single(stdout, l => l == "base model, before unlearning: as printed above for class 3 (cat) seed 0 (the same model and images for every seed)");

        // RL draws its forget labels (and the data order) from the seed: the two models differ.
        var s0 = Tensors(Path.Combine(run.Folder, $"{Stem}_s0.pth"));
        var s1 = Tensors(Path.Combine(run.Folder, $"{Stem}_s1.pth"));
        Assert.Contains(s0.Keys, key => !s0[key].AsSpan().SequenceEqual(s1[key]));

        // Each seed's report records its seed; the merged report holds both, every figure over them.
        var reports = new[] { 0, 1 }.Select(s => RunReportJson.ReadAll(Path.Combine(run.Folder, $"{Stem}_s{s}.report.json")).Single()).ToList();
        Assert.Equal([0, 1], reports.Select(r => r.Seed));
        Assert.Equal(["0", "1"], reports.Select(r => r.Settings["seed"]));
        var merged = Assert.Single(SeedsReportJson.Read(Path.Combine(run.Folder, $"{Stem}.seeds.json")));
        Assert.Equal([0, 1], merged.Seeds);
        var ra = merged.Figure(ModelEvaluation.RA)!;
        Assert.Equal(reports.Select(r => r.Evaluation.Metrics[ModelEvaluation.RA].Value), ra.Seeds.Values);
        Assert.Equal(SeedInterval.Of(ra.Seeds.Values).High, ra.Seeds.High, 12);
        Assert.Equal(reports.Average(r => r.Evaluation.Metrics[ModelEvaluation.RA].Low), ra.BootstrapLow, 9);
        Assert.Contains("RL on forget class 3 (cat) over 2 seeds (0, 1)", run.Result.Stdout, StringComparison.Ordinal);
        Assert.Contains(run.Result.StderrLines, l => l.StartsWith("seeds report: ", StringComparison.Ordinal) && l.EndsWith($"{Stem}.seeds.json", StringComparison.Ordinal));
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void OneSeedGivesTheSameModelBitForBit()
    {
        var run = Run();
        string folder = files.NewFolder("seed-1-again");
        var again = CliProcess.Run(folder, Options("--seed", "1", "--out", "again.pth"));
        output.WriteLine(again.ToString());
        Assert.True(again.ExitCode == 0, again.ToString());
        var expected = Tensors(Path.Combine(run.Folder, $"{Stem}_s1.pth"));
        var actual = Tensors(Path.Combine(folder, "again.pth"));
        Assert.Equal(expected.Keys, actual.Keys);
        foreach (var (name, bytes) in expected) Assert.True(bytes.AsSpan().SequenceEqual(actual[name]), $"{name} differs");
    }

    /// <summary>Every seed's outputs are checked before any work: a report of the second seed stops the run naming it.</summary>
    [Fact]
    public void EverySeedsOutputsAreCheckedUpFront()
    {
        string folder = files.NewFolder("seeds-exist");
        File.WriteAllText(Path.Combine(folder, $"{Stem}_s1.report.json"), "{}");
        var result = CliProcess.Run(folder, Options("--seeds", "2"));
        output.WriteLine(result.ToString());
        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"{Stem}_s1.report.json exists", Assert.Single(result.StderrLines), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(folder, $"{Stem}_s0.pth")));
        File.Delete(Path.Combine(folder, $"{Stem}_s1.report.json"));
        File.WriteAllText(Path.Combine(folder, $"{Stem}.seeds.json"), "[]");
        result = CliProcess.Run(folder, Options("--seeds", "2"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"{Stem}.seeds.json exists (the seeds report beside --out)", Assert.Single(result.StderrLines), StringComparison.Ordinal);
    }

    /// <summary>
    /// report merges the seeds' run reports as unlearn did; a run that differs in a setting (a copy with another lr and seed)
    /// is warned about and kept apart.
    /// </summary>
    [Trait("Category", "Slow")]
    [Fact]
    public void ReportMergesTheSeedsAndWarnsAboutOtherSettings()
    {
        var run = Run();
        string folder = files.NewFolder("seeds-report");
        string[] reports = [.. new[] { 0, 1 }.Select(s => Path.Combine(run.Folder, $"{Stem}_s{s}.report.json"))];
        // --seeds-json into a folder that does not exist yet: made (after the checks), said on one line.
        string seedsCsv = Path.Combine(folder, "seeds.csv"), seedsJson = Path.Combine(folder, "new", "seeds.json");
        var result = CliProcess.Run(folder, ["report", .. reports, "--seeds-csv", seedsCsv, "--seeds-json", seedsJson]);
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"--seeds-json {seedsJson}: created the folder {Path.Combine(folder, "new")}", result.StderrLines);
        Assert.Contains("## Over seeds: RL class 3 over seeds 0,1", result.Stdout, StringComparison.Ordinal);
        var fromReport = Assert.Single(SeedsReportJson.Read(seedsJson));
        var fromUnlearn = Assert.Single(SeedsReportJson.Read(Path.Combine(run.Folder, $"{Stem}.seeds.json")));
        Assert.Equal(fromUnlearn.Figures.Select(f => (f.Name, f.Role, f.Seeds.Mean, f.Seeds.Low, f.Seeds.High)),
            fromReport.Figures.Select(f => (f.Name, f.Role, f.Seeds.Mean, f.Seeds.Low, f.Seeds.High)));
        Assert.Contains(File.ReadAllLines(seedsCsv), l => l.StartsWith("RL,3,unlearned,RA,2,", StringComparison.Ordinal));

        // A third run, of another learning rate: not a seed of the two.
        string other = Path.Combine(folder, "other.report.json");
        string text = File.ReadAllText(reports[1]);
        text = Regex.Replace(text, "\"lr\": \"[^\"]*\"", "\"lr\": \"0.5\"");
        text = Regex.Replace(text, "\"seed\": 1,", "\"seed\": 2,");
        File.WriteAllText(other, text);
        result = CliProcess.Run(folder, ["report", .. reports, other]);
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains(result.StderrLines, l => l.StartsWith("WARNING: seeds: the RL on class 3 runs differ in more than their seed (", StringComparison.Ordinal) && l.Contains("/ 0.5", StringComparison.Ordinal));
        Assert.Contains("## Over seeds: RL class 3 over seeds 0,1\n", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("over seeds 0,1,2", result.Stdout, StringComparison.Ordinal);

        // Seed 0's run again as seed 5 (what a seed that draws nothing gives): identical metrics, warned about and flagged.
        string same = Path.Combine(folder, "same.report.json");
        text = File.ReadAllText(reports[0]);
        text = Regex.Replace(text, "\"seed\": 0,", "\"seed\": 5,");
        text = Regex.Replace(text, "\"seed\": \"0\"", "\"seed\": \"5\"");
        File.WriteAllText(same, text);
        string sameJson = Path.Combine(folder, "same.seeds.json");
        result = CliProcess.Run(folder, ["report", reports[0], same, "--seeds-json", sameJson]);
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains(result.StderrLines, l => l.StartsWith("WARNING: RL class 3: the 2 seeds (0,5) gave identical metrics", StringComparison.Ordinal));
        Assert.Contains("(zero width: seeds identical)", result.Stdout, StringComparison.Ordinal);
        Assert.True(Assert.Single(SeedsReportJson.Read(sameJson)).SeedsIdentical);
    }

    public static TheoryData<string[], string> BadSeeds => new()
    {
        { ["--seeds", "a,b"], "--seeds a,b: 'a' is not a whole number; give a list of seeds (0,1,2) or a count (3: seeds 0, 1, 2)" },
        { ["--seeds", "0,1,1"], "--seeds 0,1,1: seed 1 is given twice" },
        { ["--seeds", "-3"], "--seeds -3: a count of seeds must be at least 1 (3 runs seeds 0, 1, 2)" },
        { ["--seeds", "0"], "--seeds 0: a count of seeds must be at least 1 (3 runs seeds 0, 1, 2)" },
        { ["--seeds", "1,-2"], "--seeds 1,-2: seed -2 is negative; seeds are whole numbers from 0" },
        { ["--seeds", "x"], "--seeds x: not a whole number; give a list of seeds (0,1,2) or a count (3: seeds 0, 1, 2)" },
        { ["--seeds", "99999999999"], "--seeds 99999999999: too large; a count goes up to 2147483647" },
        { ["--seeds", "1,99999999999"], "--seeds 1,99999999999: seed 99999999999 is too large; seeds go up to 2147483647" },
        { ["--seeds", "2000000000"], "--seeds 2000000000: at most 10,000 seeds (each is a whole run); give fewer" },
        { ["--seeds", "3", "--seed", "4"], "--seed and --seeds: give one (--seeds 0,1,2 runs each seed; --seed N one run)" },
        { ["--seeds", "3", "--no-shuffle", "--method", "ga"],
            "--seeds: GA draws nothing from the seed (it runs in file order (--no-shuffle) without augmentation and draws nothing else), so every seed would give the same model; run it once, without --seeds" },
    };

    [Theory]
    [MemberData(nameof(BadSeeds))]
    public void BadSeedsAreOneLine(string[] options, string line)
    {
        string folder = files.NewFolder("bad-seeds");
        // A case that names its own method replaces Options' rl.
        var args = Options().ToList();
        if (options.Contains("--method")) args.RemoveRange(args.IndexOf("--method"), 2);
        var result = CliProcess.Run(folder, [.. args, .. options]);
        output.WriteLine(result.ToString());
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("ilgpu-unlearn: error: " + line, Assert.Single(result.StderrLines));
        Assert.Empty(Directory.GetFiles(folder));
    }

    /// <summary>SSD and LFSSD draw nothing whatever the options: --seeds says so instead of repeating one run.</summary>
    [Theory]
    [InlineData("ssd", "SSD")]
    [InlineData("lfssd", "LFSSD")]
    public void MethodsThatDrawNothingRefuseSeeds(string method, string name)
    {
        string folder = files.NewFolder("seeds-ssd");
        var result = CliProcess.Run(folder, "unlearn", "--method", method, "--forget-class", "3", "--weights", files.NarrowWeights, "--data", files.DataFolder,
            "--device", "cpu", "--seeds", "3");
        output.WriteLine(result.ToString());
        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"ilgpu-unlearn: error: --seeds: {name} draws nothing from the seed (it trains nothing and sums its importances over every image in file order), " +
                     "so every seed would give the same model; run it once, without --seeds", Assert.Single(result.StderrLines));
    }
}
