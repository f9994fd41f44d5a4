using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Evaluation.Probes;
using IlgpuUnlearn.Evaluation.Seeds;

namespace IlgpuUnlearn.Tests.Evaluation.Seeds;

/// <summary>Run reports merged over seeds: every figure's interval, the bootstrap beside it, which runs merge, JSON and CSV.</summary>
public sealed class SeedsReportTests
{
    static readonly string[] Names = ["a", "b", "c", "d"];

    /// <summary>A run of <paramref name="method"/> on class 3 with seed <paramref name="seed"/>: UA with a bootstrap interval, a probe, a relearn time, a retrained model.</summary>
    static RunReport Run(int seed, double ua, double uaLow, double uaHigh, double probeForget, int? relearnSteps, string method = "RL", string lr = "0.01",
        int testImages = 40, int bootstrap = 100) => new()
    {
        Method = method, ModelName = $"m_s{seed}.pth", ForgetClass = 3, ClassNames = Names, Seed = seed, MiaSplit = "salun", BootstrapReplicates = bootstrap,
        Settings = new(StringComparer.Ordinal) { ["method"] = method, ["lr"] = lr, ["seed"] = $"{seed}" },
        Evaluation = new ModelEvaluation
        {
            Model = $"m_s{seed}.pth", Role = "unlearned",
            Train = new SplitMetrics { Images = 400 }, Test = new SplitMetrics { Images = testImages, ForgetLoss = 2 + seed, RetainLoss = 0.5 },
            Metrics = new() { [ModelEvaluation.UA] = new MetricValue(ua, uaLow, uaHigh), [ModelEvaluation.Fqs] = MetricValue.Unavailable("too few") },
            LinearProbe = new LinearProbe { ForgetAccuracy = probeForget, RetainAccuracy = 90 },
            Relearn = new RelearnTime { Steps = relearnSteps, MaxSteps = 50 },
            Verdict = new Verdict { Line = seed == 0 ? "under-forgotten: UA" : "close to retraining", UnderForgotten = seed == 0 },
        },
        Retrained = new ModelEvaluation
        {
            Model = "no3.pth", Role = "retrained", Train = new SplitMetrics { Images = 400 }, Test = new SplitMetrics { Images = testImages, ForgetLoss = 5 },
            Metrics = new() { [ModelEvaluation.UA] = new MetricValue(0, 0, 0) },
        },
        AvgGap = 10 + seed,
    };

    [Fact]
    public void EveryFigureIsItsSeedsIntervalBesideTheMeanBootstrap()
    {
        var merged = SeedsReport.Merge([Run(2, 30, 26, 34, 70, 4), Run(0, 10, 6, 14, 80, 2), Run(1, 20, 16, 24, 75, null)]);
        Assert.Equal([0, 1, 2], merged.Seeds);
        Assert.Equal(["m_s0.pth", "m_s1.pth", "m_s2.pth"], merged.Models);

        var ua = merged.Figure(ModelEvaluation.UA)!;
        Assert.Equal([10.0, 20, 30], ua.Seeds.Values);
        Assert.Equal(20, ua.Seeds.Mean, 12);
        // The bootstrap bounds averaged over seeds: (6 + 16 + 26) / 3 and (14 + 24 + 34) / 3.
        Assert.Equal(16, ua.BootstrapLow, 12);
        Assert.Equal(24, ua.BootstrapHigh, 12);

        Assert.Equal([2.0, 3, 4], merged.Figure("test forget loss")!.Seeds.Values);
        Assert.Equal(11, merged.Figure(RunComparison.AvgGapName)!.Seeds.Mean, 12);
        Assert.Equal(75, merged.Figure("probe forget")!.Seeds.Mean, 12);
        // Not reached within the recipe's steps: left out of n.
        var relearn = merged.Figure("relearn steps")!;
        Assert.Equal(2, relearn.Seeds.Count);
        Assert.Equal(3, relearn.Seeds.Mean, 12);
        // A figure no seed has: n 0, no mean.
        Assert.Equal(0, merged.Figure(ModelEvaluation.Fqs)!.Seeds.Count);
        // The retrained model's figures are there too, as the reference.
        Assert.Equal(0, merged.Figure(ModelEvaluation.UA, "retrained")!.Seeds.Mean);
        Assert.Equal(1, merged.Verdicts.UnderForgotten);
        Assert.Equal(3, merged.Verdicts.Judged);
        Assert.Equal("under-forgotten: UA", merged.Verdicts.Lines[0]);
        Assert.DoesNotContain("seed", merged.Settings.Keys);
    }

    /// <summary>
    /// Seeds that drew nothing (the forget set one batch in file order): every metric identical, sd 0. The merge flags it, the
    /// text warns first and marks each zero-width interval, the JSON carries the flag; seeds that differ in one metric are not flagged.
    /// </summary>
    [Fact]
    public void SeedsWithIdenticalMetricsAreFlaggedAndTheirIntervalsMarked()
    {
        // The losses and probe may still differ (as float sums in another order do): the metrics alone decide.
        var same = SeedsReport.Merge([Run(0, 41, 30, 50, 70, 4), Run(1, 41, 30, 50, 71, 4), Run(2, 41, 30, 50, 72, 4)]);
        Assert.True(same.SeedsIdentical);
        Assert.True(same.Figure(ModelEvaluation.UA)!.Seeds.IsConstant);
        string text = SeedsReportText.Format(same);
        Assert.StartsWith("WARNING: RL class 3: the 3 seeds (0,1,2) gave identical metrics", text, StringComparison.Ordinal);
        Assert.Contains("the seed drew nothing that changed the result", text, StringComparison.Ordinal);
        Assert.Contains("| UA | 41.00 [41.00, 41.00] " + SeedsReportText.ZeroWidth + " |", text, StringComparison.Ordinal);
        Assert.Contains("\"seeds_identical\": true", SeedsReportJson.Serialize([same]), StringComparison.Ordinal);

        var differ = SeedsReport.Merge([Run(0, 41, 30, 50, 70, 4), Run(1, 42, 30, 50, 70, 4)]);
        Assert.False(differ.SeedsIdentical);
        Assert.DoesNotContain("WARNING", SeedsReportText.Format(differ), StringComparison.Ordinal);
        // UA differs: its interval is unmarked (the probe, the same in both, is still marked: each figure is judged alone).
        var uaRow = SeedsReportText.Format(differ).Split('\n').Single(l => l.StartsWith("| UA |", StringComparison.Ordinal));
        Assert.DoesNotContain(SeedsReportText.ZeroWidth, uaRow, StringComparison.Ordinal);
        Assert.Contains(SeedsReportText.ZeroWidth, SeedsReportText.Format(differ).Split('\n').Single(l => l.StartsWith("| probe forget |", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Contains("\"seeds_identical\": false", SeedsReportJson.Serialize([differ]), StringComparison.Ordinal);
        // One seed has nothing to compare: not flagged.
        Assert.False(SeedsReport.Merge([Run(0, 41, 30, 50, 70, 4)]).SeedsIdentical);

        // The method table over these seeds marks the zero-width interval in markdown and HTML.
        var table = MethodTableSeeds.With(new MethodTable([new MethodRow("RL", 3, new Dictionary<string, MethodFigure> { [ModelEvaluation.UA] = new(41) })]), [same]);
        Assert.True(table.Rows[0][ModelEvaluation.UA].IsZeroWidth);
        Assert.Equal("41.00 [41.00, 41.00] (zero width)", MethodTable.Text(table.Rows[0][ModelEvaluation.UA], ModelEvaluation.UA));
    }

    /// <summary>The HTML page's header gives the bootstrap and seeds per method where the methods' runs differ in them, not the first run's.</summary>
    [Fact]
    public void TheHeaderSaysWhenSettingsDifferByMethod()
    {
        var ga = new[] { 0, 1, 2 }.Select(s => Run(s, 10, 5, 15, 70, 4, method: "GA")).ToList();
        var rl = new[] { 0, 4, 7 }.Select(s => Run(s, 10, 5, 15, 70, 4, bootstrap: 200)).ToList();
        Assert.Equal("settings differ by method: GA: bootstrap 100 resamples, SVC attack split salun, seeds 0,1,2; RL: bootstrap 200 resamples, SVC attack split salun, seeds 0,4,7",
            ReportHtml.RunSettings([.. ga, .. rl]));
        // Shared bootstrap, other seeds per method: seeds per method, no "differ".
        Assert.Equal("GA: bootstrap 100 resamples, SVC attack split salun, seeds 0,1,2; RL: bootstrap 100 resamples, SVC attack split salun, seeds 0,4,7",
            ReportHtml.RunSettings([.. ga, .. new[] { 0, 4, 7 }.Select(s => Run(s, 10, 5, 15, 70, 4))]));
        Assert.Equal("bootstrap 100 resamples, SVC attack split salun, seeds 0,1,2", ReportHtml.RunSettings(ga));
        Assert.Equal("bootstrap 100 resamples, SVC attack split salun, seed 1", ReportHtml.RunSettings([ga[1]]));
    }

    [Fact]
    public void RunsThatDifferInMoreThanTheSeedOrGiveASeedTwiceAreRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => SeedsReport.Merge([Run(0, 10, 6, 14, 80, 2), Run(1, 20, 16, 24, 75, 3, lr: "0.1")]));
        Assert.Contains("lr 0.1 / 0.01", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => SeedsReport.Merge([Run(0, 10, 6, 14, 80, 2), Run(0, 20, 16, 24, 75, 3)]));
        Assert.Contains("seed 0 is given twice", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FindMergesEachSettingApartAndWarns()
    {
        var runs = new (RunReport, string)[]
        {
            (Run(0, 10, 6, 14, 80, 2), "a.json"), (Run(1, 20, 16, 24, 75, 3), "b.json"),
            (Run(0, 50, 46, 54, 80, 2, lr: "0.1"), "c.json"), (Run(1, 60, 56, 64, 75, 3, lr: "0.1"), "d.json"), (Run(1, 61, 56, 64, 75, 3, lr: "0.1"), "e.json"),
            (Run(0, 10, 6, 14, 80, 2, testImages: 30), "f.json"),
            (Run(5, 1, 1, 1, 1, 1, method: "GA"), "g.json"),
        };
        var (merged, warnings) = SeedGroups.Find(runs);
        // RL at lr 0.01 and at lr 0.1, each over seeds 0 and 1; the run on other test images has one seed, GA one: not merged.
        Assert.Equal(2, merged.Count);
        Assert.Equal(15, merged[0].Figure(ModelEvaluation.UA)!.Seeds.Mean, 12);
        Assert.Equal(55, merged[1].Figure(ModelEvaluation.UA)!.Seeds.Mean, 12);   // seed 1 twice: the first (d.json) counted
        Assert.Contains(warnings, w => w.Contains("RL on class 3 runs differ in more than their seed", StringComparison.Ordinal) && w.Contains("3 settings", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Contains("give seed 1 2 times (d.json, e.json)", StringComparison.Ordinal));
        Assert.Equal(2, warnings.Count);
    }

    /// <summary>Runs that all share one seed (two GA runs of other settings, say) are no seeds: nothing merged, nothing warned.</summary>
    [Fact]
    public void RunsOfOneSeedAreNoSeedsToMerge()
    {
        var (merged, warnings) = SeedGroups.Find([(Run(0, 10, 6, 14, 80, 2), "a.json"), (Run(0, 50, 46, 54, 80, 2, lr: "0.1"), "b.json"), (Run(0, 11, 6, 14, 80, 2), "c.json")]);
        Assert.Empty(merged);
        Assert.Empty(warnings);
    }

    /// <summary>Seeds unlearned from other base models are not seeds of one run: kept apart, and the warning names the bases.</summary>
    [Fact]
    public void OtherBaseModelsAreKeptApart()
    {
        RunReport WithBase(RunReport r, string model)
        {
            r = Run(r.Seed, r.Evaluation.Metrics[ModelEvaluation.UA].Value, 0, 0, 80, 2);
            return new RunReport
            {
                Method = r.Method, ModelName = r.ModelName, ForgetClass = r.ForgetClass, ClassNames = r.ClassNames, Seed = r.Seed, MiaSplit = r.MiaSplit,
                BootstrapReplicates = r.BootstrapReplicates, Settings = r.Settings, Evaluation = r.Evaluation, Retrained = r.Retrained,
                Base = new ModelEvaluation { Model = model, Role = "base", Train = new SplitMetrics { Images = 400 }, Test = new SplitMetrics { Images = 40 } },
            };
        }
        var (merged, warnings) = SeedGroups.Find([(WithBase(Run(0, 10, 0, 0, 80, 2), "a.pth"), "a"), (WithBase(Run(1, 20, 0, 0, 80, 2), "a.pth"), "b"),
            (WithBase(Run(2, 90, 0, 0, 80, 2), "other.pth"), "c")]);
        Assert.Equal(15, Assert.Single(merged).Figure(ModelEvaluation.UA)!.Seeds.Mean, 12);
        Assert.Contains("base model a.pth (400 training + 40 test images) / other.pth (400 training + 40 test images)", Assert.Single(warnings), StringComparison.Ordinal);
    }

    [Fact]
    public void JsonAndCsvKeepEveryFigure()
    {
        var merged = SeedsReport.Merge([Run(0, 10, 6, 14, 80, 2), Run(1, 20, 16, 24, 75, null)]);
        using var folder = new IlgpuUnlearn.Tests.Data.TempFolder();
        string path = folder.File("x.seeds.json");
        SeedsReportJson.Write(path, [merged]);
        var back = Assert.Single(SeedsReportJson.Read(path));
        Assert.Equal(merged.Figures.Length, back.Figures.Length);
        var ua = back.Figure(ModelEvaluation.UA)!;
        Assert.Equal(merged.Figure(ModelEvaluation.UA)!.Seeds.High, ua.Seeds.High, 12);
        Assert.Equal(12.706204736174696, ua.Seeds.T, 9);
        Assert.True(double.IsNaN(back.Figure("relearn steps")!.Seeds.Values[1]));
        Assert.DoesNotContain("NaN", File.ReadAllText(path), StringComparison.Ordinal);

        var csv = SeedsReportText.Csv([merged]).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1 + merged.Figures.Length, csv.Length);
        var header = csv[0].Split(',');
        var row = csv.Single(l => l.StartsWith("RL,3,unlearned,UA,", StringComparison.Ordinal)).Split(',');
        Assert.Equal(15, double.Parse(row[Array.IndexOf(header, "mean")], System.Globalization.CultureInfo.InvariantCulture), 12);
        Assert.Equal("10 20", row[Array.IndexOf(header, "values")]);
        Assert.Contains("| UA | 15.00 [", SeedsReportText.Format(merged), StringComparison.Ordinal);
    }
}
