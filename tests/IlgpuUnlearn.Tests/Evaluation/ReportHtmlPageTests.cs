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

    static RunReport WithoutRetrained(RunReport r) => new()
    {
        Method = r.Method, ModelName = r.ModelName, ForgetClass = r.ForgetClass, ClassNames = r.ClassNames, Card = null,
        Evaluation = r.Evaluation, Base = r.Base, BootstrapReplicates = r.BootstrapReplicates, Seed = r.Seed, MiaSplit = r.MiaSplit,
    };
}
