using IlgpuUnlearn.Tests.Data;
using IlgpuUnlearn.Tests.Support;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// `report --html` and `--latex` on committed run reports of a tiny real run (Fixtures/report/, made by
/// Fixtures/make_report_fixtures.sh: ft, ga and rl against a base and a retrained model, every figure below the logits, the
/// two training logs): the page renders in headless Chromium without a script error or a failed load, has every section
/// (each by its id, at the top level of the body, with its pictures), references nothing on the network, and the outputs
/// follow the overwrite policy. Each CLI run and each browser load takes a second or two.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class ReportHtmlTests(ITestOutputHelper output)
{
    static readonly string Fixtures = Repository.File("tests/IlgpuUnlearn.Tests/Fixtures/report");

    /// <summary>"report" and the fixture files.</summary>
    static string[] Inputs() =>
        ["report", .. new[] { "ft.report.json", "ga.report.json", "rl.report.json", "base.log.jsonl", "retrained.log.jsonl" }.Select(f => Path.Combine(Fixtures, f))];

    /// <summary>The sections the page must have, in order, and the least number of SVG pictures each holds for these reports.</summary>
    static readonly (string Id, int Pictures)[] Sections =
    [
        ("summary", 0), ("method-table", 1), ("verdicts", 0), ("per-class-accuracy", 1), ("confusion-matrices", 3),
        ("attack-scores", 2 * 5), ("probe-relearn", 1), ("cka", 2 * 3), ("training-curves", 2),
    ];

    [Fact]
    public void TheHtmlReportRendersInChromiumWithEverySectionAndNothingFromTheNetwork()
    {
        using var temp = new TempFolder();
        var run = CliProcess.Run(temp.Path, [.. Inputs(), "--html", "r.html", "--latex", "r.tex"]);
        output.WriteLine(run.ToString());
        Assert.True(run.ExitCode == 0, run.ToString());
        string html = File.ReadAllText(temp.File("r.html"));

        var page = HeadlessChromium.Load(temp.File("r.html"));
        Assert.True(page.Errors.Length == 0, "script errors or failed loads: " + string.Join("; ", page.Errors));
        Assert.Equal(Sections.Select(s => s.Id), page.Sections.Select(s => s.Id));
        foreach (var (id, pictures) in Sections)
        {
            var s = page.Sections.Single(x => x.Id == id);
            Assert.True(s.Parent == "BODY", $"section {id} sits in a {s.Parent}, not at the top of the body (an element left open before it?)");
            Assert.True(s.Svg >= pictures, $"section {id}: {s.Svg} pictures, expected at least {pictures}");
            Assert.True(s.EmptySvg == 0, $"section {id}: {s.EmptySvg} pictures drawn with no width");
            Assert.True(s.Absent == 0, $"section {id} says its figures are absent, though these reports carry them");
        }
        Assert.True(page.Sections.Single(s => s.Id == "method-table").Table == 1);
        Assert.True(page.Sections.Single(s => s.Id == "probe-relearn").Table == 1);

        // Self-contained: no script, stylesheet or font of its own to fetch, and nothing on the network in any attribute.
        Assert.Empty(HeadlessChromium.NetworkReferences(html));
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<link", html, StringComparison.OrdinalIgnoreCase);
        // The method table carries the figures below the logits and the distance to the retrained model.
        foreach (var figure in new[] { "probe_forget", "probe_retain", "relearn_steps", "CKA_base", "CKA_retrained", "MIA_efficacy" })
            Assert.Contains($">{figure.Replace("_", "_<wbr>", StringComparison.Ordinal)}</th>", html, StringComparison.Ordinal); // headers may break after _
        Assert.Contains("class=\"d\"", html, StringComparison.Ordinal);

        string latex = File.ReadAllText(temp.File("r.tex"));
        Assert.Contains("\\toprule", latex, StringComparison.Ordinal);
        Assert.Contains("probe\\_forget", latex, StringComparison.Ordinal);
        // The header and a row each for base, FT, GA, RL and retrained.
        Assert.Equal(6, latex.Split('\n').Count(l => l.EndsWith(" \\\\", StringComparison.Ordinal)));
    }

    /// <summary>The checks above can fail: the same collector reports a script error and a failed load, and the network check finds each kind of reference.</summary>
    [Fact]
    public void TheChecksCatchAScriptErrorAFailedLoadAndANetworkReference()
    {
        using var temp = new TempFolder();
        File.WriteAllText(temp.File("bad.html"), "<!DOCTYPE html><html><head><title>t</title></head><body><section id=\"a\"><img src=\"missing.png\"></section>" +
                                                  "<script>notDefinedAnywhere();</script></body></html>");
        var page = HeadlessChromium.Load(temp.File("bad.html"));
        Assert.Contains(page.Errors, e => e.Contains("notDefinedAnywhere", StringComparison.Ordinal));
        Assert.Contains(page.Errors, e => e.Contains("missing.png", StringComparison.Ordinal));
        Assert.Equal("a", Assert.Single(page.Sections).Id);

        Assert.Equal(5, HeadlessChromium.NetworkReferences(
            "<img src=\"https://x/a.png\"><a href='http://x'>x</a><use xlink:href=\"//cdn.x/y\"/><img srcset=\"a.png 1x, https://x/b.png 2x\">" +
            "<style>p { background: url(https://x/y.png) }</style><a href=\"#cka\">ok</a><svg xmlns=\"http://www.w3.org/2000/svg\"></svg>").Count);
    }

    [Fact]
    public void HtmlAndLatexFollowTheOverwritePolicyAndABrokenLogIsNamed()
    {
        using var temp = new TempFolder();
        File.WriteAllText(temp.File("r.html"), "mine");
        var refused = CliProcess.Run(temp.Path, [.. Inputs(), "--html", "r.html"]);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains(refused.StderrLines, l => l.Contains("r.html exists (--html): add --force", StringComparison.Ordinal));
        Assert.Equal("mine", File.ReadAllText(temp.File("r.html")));
        var forced = CliProcess.Run(temp.Path, [.. Inputs(), "--html", "r.html", "--force"]);
        Assert.True(forced.ExitCode == 0, forced.ToString());
        Assert.StartsWith("<!DOCTYPE html>", File.ReadAllText(temp.File("r.html")), StringComparison.Ordinal);

        var wrongName = CliProcess.Run(temp.Path, [.. Inputs(), "--latex", "table.txt"]);
        Assert.Equal(1, wrongName.ExitCode);
        Assert.Contains(wrongName.StderrLines, l => l.Contains("--latex table.txt: use a .tex file name", StringComparison.Ordinal));

        File.WriteAllText(temp.File("bad.log.jsonl"), "{\"epoch\": 1, \"lr\": 0.1, \"train_loss\": 2.0, \"seconds\": 1}\nnot json\n");
        var broken = CliProcess.Run(temp.Path, "report", Path.Combine(Fixtures, "ft.report.json"), "bad.log.jsonl", "--html", "b.html");
        Assert.Equal(1, broken.ExitCode);
        Assert.Equal("ilgpu-unlearn: error: bad.log.jsonl: line 2 is not a training log record (one JSON object per epoch, as train writes it)",
            Assert.Single(broken.StderrLines, l => l.Contains("error", StringComparison.Ordinal)));
        Assert.False(File.Exists(temp.File("b.html")));
    }
}
