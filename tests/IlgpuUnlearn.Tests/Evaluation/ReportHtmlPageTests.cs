using System.Text.RegularExpressions;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Tests.Support;

namespace IlgpuUnlearn.Tests.Evaluation;

/// <summary>
/// The HTML page without a browser (the browser's view is Cli/ReportHtmlTests): reports made before the figures below the
/// logits and the score histograms existed, without a retrained model or a card, still give every section, each saying in
/// one line what its reports lack; text from the reports is escaped.
/// </summary>
public sealed class ReportHtmlPageTests
{
    static readonly string[] SectionIds =
        ["summary", "method-table", "verdicts", "per-class-accuracy", "confusion-matrices", "attack-scores", "probe-relearn", "cka", "training-curves"];

    [Fact]
    public void ReportsWithoutTheNewFiguresStillGiveEverySectionSayingWhatIsMissing()
    {
        var runs = new[] { "ft", "ga" }.Select(m => RunReportJson.ReadAll(Repository.File($"tests/IlgpuUnlearn.Tests/Fixtures/report/{m}.report.json"))[0]).ToList();
        foreach (var model in runs.SelectMany(r => new[] { r.Evaluation, r.Base! }))
        {
            model.AttackScores = null;
            model.LinearProbe = null;
            model.Relearn = null;
            model.Cka = null;
            model.Verdict = null;
        }
        // A method name and a model file name with HTML's special characters.
        var odd = new RunReport
        {
            Method = "GA <b>&", ModelName = "a\"b'.pth", ForgetClass = runs[0].ForgetClass, ClassNames = runs[0].ClassNames,
            Evaluation = runs[1].Evaluation, Base = runs[1].Base, BootstrapReplicates = 0, MiaSplit = "salun",
        };
        var comparison = new RunComparison([WithoutRetrained(runs[0]), odd]);
        string html = ReportHtml.Render(comparison, comparison.Table(), [], []);

        var ids = Regex.Matches(html, "<section id=\"([^\"]+)\">").Select(m => m.Groups[1].Value).ToArray();
        Assert.Equal(SectionIds, ids);
        Assert.Equal(Regex.Matches(html, "<section").Count, Regex.Matches(html, "</section>").Count);
        foreach (var id in new[] { "verdicts", "attack-scores", "probe-relearn", "cka", "training-curves", "confusion-matrices" })
            Assert.Matches($"<section id=\"{id}\">\\n<h2>[^<]*</h2>\\n(<p class=\"note\">[^\\n]*\\n)?<p class=\"absent\">", html[html.IndexOf($"<section id=\"{id}\">", StringComparison.Ordinal)..]);
        Assert.Contains("GA &lt;b&gt;&amp;", html, StringComparison.Ordinal);
        Assert.DoesNotContain("GA <b>&", html, StringComparison.Ordinal);
        Assert.Contains("no retrained model in these reports, so no distances", html, StringComparison.Ordinal);
    }

    [Fact]
    public void TheVerdictNoteStatesWhenMiaEfficacyIsJudged()
    {
        // Reports written before the attack's balanced accuracy was recorded (these fixtures) get the default threshold.
        var runs = new[] { "ft", "ga" }.Select(m => RunReportJson.ReadAll(Repository.File($"tests/IlgpuUnlearn.Tests/Fixtures/report/{m}.report.json"))[0]).ToList();
        var comparison = new RunComparison(runs);
        string html = ReportHtml.Render(comparison, comparison.Table(), [], []);
        Assert.Contains("MIA_efficacy judged only where the model's and the retrained model's SVC attacks separate their fitting data with a balanced accuracy above 55%", html, StringComparison.Ordinal);
    }

    /// <summary>The GA fixture as seeds 0, 1, 2 (the same figures: what one-batch seeds give) beside FT and RL.</summary>
    static List<RunReport> WithGaSeeds()
    {
        string dir = Repository.File("tests/IlgpuUnlearn.Tests/Fixtures/report");
        using var temp = new IlgpuUnlearn.Tests.Data.TempFolder();
        var runs = new[] { "ft", "rl" }.Select(m => RunReportJson.ReadAll(Path.Combine(dir, $"{m}.report.json"))[0]).ToList();
        string ga = File.ReadAllText(Path.Combine(dir, "ga.report.json"));
        foreach (int seed in new[] { 0, 1, 2 })
        {
            string text = Regex.Replace(Regex.Replace(ga, "\"seed\": \\d+,", $"\"seed\": {seed},"), "\"seed\": \"\\d+\"", $"\"seed\": \"{seed}\"");
            File.WriteAllText(temp.File($"ga{seed}.json"), text);
            runs.Add(RunReportJson.ReadAll(temp.File($"ga{seed}.json"))[0]);
        }
        return runs;
    }

    static string SectionOf(string html, string id)
    {
        int start = html.IndexOf($"<section id=\"{id}\">", StringComparison.Ordinal);
        return html[start..html.IndexOf("</section>", start, StringComparison.Ordinal)];
    }

    /// <summary>
    /// The page's layout with seeds: each model's two attack charts are one unit of the grid; the seeds of GA are one CKA pair
    /// (the mean over seeds), told apart by shade in the per-class chart and by seed in the verdicts.
    /// </summary>
    [Fact]
    public void SeedsAreOneCkaPairTheirOwnShadesAndEachModelsAttackChartsOneUnit()
    {
        var runs = WithGaSeeds();
        Assert.Equal([0, 1, 2], runs.Where(r => r.Method == "GA").Select(r => r.Seed));
        var comparison = new RunComparison(runs);
        string html = ReportHtml.Render(comparison, comparison.Table(), [], []);

        // Attack scores: one unit per model with scores, two charts in each.
        string attacks = SectionOf(html, "attack-scores");
        var units = attacks.Split("<div class=\"unit\">").Skip(1).ToList();
        int models = runs.Count + runs.Where(r => r.Base is not null).Select(r => r.Base!.Model).Distinct().Count()
            + runs.Where(r => r.Retrained is not null).Select(r => r.Retrained!.Model).Distinct().Count();
        Assert.Equal(models, units.Count);
        Assert.All(units, u => Assert.Equal(2, Regex.Matches(u, "<figure").Count));

        // CKA: GA's three seeds are one pair of charts (train, test), the mean over them; FT and RL one pair each.
        string cka = SectionOf(html, "cka");
        Assert.Equal(6, Regex.Matches(cka, "<figure").Count);
        Assert.Contains("GA, mean over 3 seeds (0,1,2), train split", cka, StringComparison.Ordinal);
        Assert.DoesNotContain("GA (ga.pth)", cka, StringComparison.Ordinal);

        // Per-class accuracy: each seed its own colour.
        var colours = Regex.Matches(SectionOf(html, "per-class-accuracy"), "stroke=\"(#[0-9a-f]{6})\"[^>]*/><text[^>]*>GA seed (\\d)</text>")
            .Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(3, colours.Count);
        Assert.Equal(3, colours.Distinct().Count());
        Assert.Contains("GA seed 2 (ga.pth)", SectionOf(html, "verdicts"), StringComparison.Ordinal);
    }

    /// <summary>A chart's legend is never cut: the picture is as wide as its longest legend name needs.</summary>
    [Fact]
    public void ALongLegendNameWidensTheChart()
    {
        string name = new('x', 120);
        string svg = ReportCharts.Lines("t", ["0", "1"], [new ChartSeries(name, "#000000", [1, 2])], 0, 2, "y");
        int width = int.Parse(Regex.Match(svg, "width=\"(\\d+)\"").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        // 6.2 px per character is the charts' stated upper bound of a character's advance at font size 10.
        Assert.True(width >= name.Length * 6.2, $"width {width} for a {name.Length}-character legend name");
    }

    /// <summary>Without a retrained model: "not judged" said once per verdict, and the bar chart's subtitle names no Avg. Gap (not drawn).</summary>
    [Fact]
    public void WithoutARetrainedModelNotJudgedIsSaidOnceAndTheChartNamesNoAbsentFigure()
    {
        var run = WithoutRetrained(RunReportJson.ReadAll(Repository.File("tests/IlgpuUnlearn.Tests/Fixtures/report/ft.report.json"))[0]);
        run.Evaluation.Verdict = new Verdict { Line = "not judged against retraining (no retrained model); no retain class collapsed against the base model", NotJudged = ["under- and over-forgetting"] };
        run.Base!.Verdict = null;
        var comparison = new RunComparison([run]);
        string html = ReportHtml.Render(comparison, comparison.Table(), [], []);
        var item = Regex.Match(SectionOf(html, "verdicts"), "<li>.*?</li>", RegexOptions.Singleline).Value;
        Assert.Single(Regex.Matches(item, "not judged"));
        string svg = comparison.Svg();
        Assert.DoesNotContain("Avg. Gap", svg, StringComparison.Ordinal);
        // FQS is explained exactly when its group is drawn (this run's report carries it from when it was made).
        Assert.Equal(comparison.ShownMetrics().Contains(ModelEvaluation.Fqs), svg.Contains("FQS x100", StringComparison.Ordinal));
        // With the retrained model the subtitle explains both scales.
        string full = new RunComparison(WithGaSeeds()).Svg();
        Assert.Contains("FQS x100; Avg. Gap", full, StringComparison.Ordinal);
    }

    static RunReport WithoutRetrained(RunReport r) => new()
    {
        Method = r.Method, ModelName = r.ModelName, ForgetClass = r.ForgetClass, ClassNames = r.ClassNames, Card = null,
        Evaluation = r.Evaluation, Base = r.Base, BootstrapReplicates = r.BootstrapReplicates, Seed = r.Seed, MiaSplit = r.MiaSplit,
    };
}
