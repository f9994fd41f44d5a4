using System.Text.Json;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Evaluation.Privacy;
using IlgpuUnlearn.Tests.Support;

namespace IlgpuUnlearn.Tests.Evaluation;

/// <summary>
/// The method x metric table's renderers and the figures added beside it: LaTeX escaping (every special character, a row's
/// cells still counted right), the below-logits columns of the markdown and CSV tables, the Comparator JSON's CKA in its
/// own layout, and the attacks' score histograms' bins.
/// </summary>
public sealed class MethodTableTests
{
    static RunReport[] FixtureRuns() =>
        [.. new[] { "ft", "ga", "rl" }.SelectMany(m => RunReportJson.ReadAll(Repository.File($"tests/IlgpuUnlearn.Tests/Fixtures/report/{m}.report.json")))];

    [Fact]
    public void LatexEscapesEverySpecialCharacter()
    {
        Assert.Equal("a\\_b \\& c\\%d\\$e\\#f\\{g\\}h\\textasciitilde{}i\\textasciicircum{}j\\textbackslash{}k\\textless{}l\\textgreater{}m\\textbar{}n o",
            MethodTableLatex.Escape("a_b & c%d$e#f{g}h~i^j\\k<l>m|n\no"));
        Assert.Equal("SalUn", MethodTableLatex.Escape("SalUn"));
    }

    /// <summary>A method named with LaTeX's specials: its row still has one cell per column (no stray &amp; or comment %), its name escaped.</summary>
    [Fact]
    public void LatexRowsKeepTheirColumnsWhateverTheMethodIsCalled()
    {
        var figures = new Dictionary<string, MethodFigure> { [ModelEvaluation.UA] = new(12.345), [MethodTable.ProbeForget] = new(50, 40, 60) };
        var retrained = new Dictionary<string, MethodFigure> { [ModelEvaluation.UA] = new(0), [MethodTable.ProbeForget] = new(20) };
        var table = new MethodTable([new MethodRow("GA & FT_v2 100%", 2, figures), new MethodRow("retrained", 1, retrained)], "95% interval over seeds");
        string latex = MethodTableLatex.Render(table, "Title with 50% & more_");
        var rows = latex.Split('\n').Where(l => l.EndsWith(" \\\\", StringComparison.Ordinal)).ToArray();
        Assert.Equal(3, rows.Length);
        foreach (var row in rows) Assert.Equal(2 + 2 - 1, UnescapedCount(row, '&')); // method, runs, UA, probe_forget: three separators
        Assert.All(latex.Split('\n').Where(l => !l.StartsWith('%')), l => Assert.Equal(0, UnescapedCount(l, '%')));
        Assert.StartsWith("GA \\& FT\\_v2 100\\% & 2 & 12.35 (+12.35) & 50.00 (+30.00) {\\scriptsize [40.00, 60.00]}", rows[1], StringComparison.Ordinal);
        Assert.Contains("\\caption{Title with 50\\% \\& more\\_", latex, StringComparison.Ordinal);
        Assert.Contains("95\\% interval over seeds", latex, StringComparison.Ordinal);
        Assert.Contains("\\begin{tabular}{l r r r}", latex, StringComparison.Ordinal);
    }

    /// <summary>
    /// The table as LaTeX reads it: pdflatex (Debian's texlive-latex-base, booktabs from texlive-latex-recommended, which
    /// scripts/test-setup.sh installs) typesets a default article holding it, a method named with every special character, and
    /// stops on the first error (-halt-on-error): a character left unescaped (an &amp; too many, a stray $ or #, an unmatched
    /// brace) fails the run. The table has every figure with an interval (the widest table report writes, about 3.4 text
    /// widths unscaled): the log must have no "Overfull \hbox" (the table fits the page). Negative numbers carry $-$, a
    /// zero-width interval its dagger. A fifth of a second.
    /// </summary>
    [Fact]
    public void LatexTableTypesetsWithPdflatex()
    {
        var figures = MethodTable.FigureOrder.ToDictionary(f => f, f => new MethodFigure(-12.25, -20.5, -4.25));
        figures[MethodTable.RelearnSteps] = new(50, AtLeast: true);
        figures[ModelEvaluation.SalUnTA] = new(80, 80, 80);
        var retrained = MethodTable.FigureOrder.ToDictionary(f => f, f => new MethodFigure(85));
        var table = new MethodTable([new MethodRow("GA & FT_v2 100% #1 {x} ~^\\ <a>|b $", 2, figures), new MethodRow("retrained", 1, retrained)], "95% t interval over seeds");
        string latex = MethodTableLatex.Render(table, "Caption_with 50% & #specials {}");
        Assert.Contains(" & $-$12.25 ($-$97.25) {\\scriptsize [$-$20.50, $-$4.25]}", latex, StringComparison.Ordinal);
        Assert.Contains("80.00 ($-$5.00) {\\scriptsize [80.00, 80.00]}$^\\dagger$", latex, StringComparison.Ordinal);
        Assert.Contains("$^\\dagger$ Zero-width interval", latex, StringComparison.Ordinal);
        using var temp = new IlgpuUnlearn.Tests.Data.TempFolder();
        File.WriteAllText(temp.File("t.tex"), "\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage{graphicx}\n\\begin{document}\n" +
            latex + "\\end{document}\n");
        var start = new System.Diagnostics.ProcessStartInfo("pdflatex", ["-interaction=nonstopmode", "-halt-on-error", "t.tex"])
        {
            // pdflatex writes its messages and its errors to stdout (and the .log); stderr is left to the console.
            WorkingDirectory = temp.Path, RedirectStandardOutput = true, UseShellExecute = false,
        };
        System.Diagnostics.Process process;
        try
        {
            process = System.Diagnostics.Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new InvalidOperationException("pdflatex not found: bash scripts/test-setup.sh installs it (Debian's texlive-latex-base, texlive-latex-recommended)");
        }
        using (process)
        {
            string log = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"pdflatex failed (exit {process.ExitCode}):\n{log}");
            Assert.DoesNotContain(log.Split('\n'), l => l.StartsWith('!'));
        }
        // The .log holds every warning (stdout may wrap lines): an Overfull \hbox means the table ran past the text width.
        Assert.DoesNotContain("Overfull \\hbox", File.ReadAllText(temp.File("t.log")), StringComparison.Ordinal);
        Assert.True(new FileInfo(temp.File("t.pdf")).Length > 0);
    }

    /// <summary>How many times <paramref name="c"/> appears not preceded by a backslash.</summary>
    static int UnescapedCount(string line, char c) => line.Where((ch, i) => ch == c && (i == 0 || line[i - 1] != '\\')).Count();

    [Fact]
    public void TheMethodTableShowsTheProbeRelearnAndCka()
    {
        var runs = FixtureRuns();
        var comparison = new RunComparison(runs);
        var table = comparison.Table();
        Assert.Equal(["base", "FT", "GA", "RL", "retrained"], table.Rows.Select(r => r.Method));
        var ft = runs.Single(r => r.Method == "FT").Evaluation;
        var row = table.Rows.Single(r => r.Method == "FT");
        Assert.Equal(ft.LinearProbe!.ForgetAccuracy, row[MethodTable.ProbeForget].Value);
        Assert.Equal(ft.LinearProbe.RetainAccuracy, row[MethodTable.ProbeRetain].Value);
        // CKA_base: the FT model against the base at layer4.1 (index 8 of conv1 ... fc) on the train-forget images.
        var pair = ft.Cka!.Single(c => c.Reference == "base" || c.Model == "base");
        Assert.Equal(8, pair.Layers.ToList().IndexOf("layer4.1"));
        Assert.Equal(pair.TrainForget[8]!.Value, row[MethodTable.CkaBase].Value);
        Assert.Equal(ft.Relearn!.Steps!.Value, row[MethodTable.RelearnSteps].Value);
        // The distance to the retrained model is value - retrained.
        Assert.Equal(row[MethodTable.ProbeForget].Value - table.Retrained![MethodTable.ProbeForget].Value, table.Distance(row, MethodTable.ProbeForget));
        Assert.True(double.IsNaN(table.Distance(table.Retrained, MethodTable.ProbeForget)));

        string markdown = comparison.MethodTableMarkdown();
        Assert.Contains("| probe_forget | probe_retain | relearn_steps | CKA_base | CKA_retrained |", markdown, StringComparison.Ordinal);
        string csv = comparison.Csv();
        Assert.EndsWith(",avg_gap,probe_forget,probe_retain,relearn_steps,CKA_base,CKA_retrained", csv.Split('\n')[0], StringComparison.Ordinal);
        var ftLine = csv.Split('\n').Single(l => l.StartsWith("FT,3,", StringComparison.Ordinal)).Split(',');
        Assert.Equal(pair.TrainForget[8]!.Value, double.Parse(ftLine[^2], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Three seeds of FT (UA 10, 20, 30) and one GA run: FT's row carries the seeds' 95% t interval, 20 -+ t(0.975, 2) 10 /
    /// sqrt(3) (t = 4.302652729911275, scipy.stats.t.ppf), which markdown, LaTeX and HTML show; GA's row, one run, none.
    /// </summary>
    [Fact]
    public void SeedIntervalsReachEveryRendererWhereAMethodIsOneSetOfSeeds()
    {
        RunReport Seed(int seed, double ua)
        {
            var r = RunReportJson.ReadAll(Repository.File("tests/IlgpuUnlearn.Tests/Fixtures/report/ft.report.json"))[0];
            r.Evaluation.Metrics[ModelEvaluation.UA] = MetricValue.Point(ua);
            return new RunReport
            {
                Method = r.Method, ModelName = $"ft_s{seed}.pth", ForgetClass = r.ForgetClass, ClassNames = r.ClassNames, Evaluation = r.Evaluation,
                Base = r.Base, Retrained = r.Retrained, BootstrapReplicates = r.BootstrapReplicates, Seed = seed, MiaSplit = r.MiaSplit, Settings = r.Settings,
            };
        }
        var runs = new[] { Seed(0, 10), Seed(1, 20), Seed(2, 30), FixtureRuns().Single(r => r.Method == "GA") };
        var (overSeeds, _) = IlgpuUnlearn.Evaluation.Seeds.SeedGroups.Find(runs.Select(r => (r, "file")));
        var comparison = new RunComparison(runs);
        var table = IlgpuUnlearn.Evaluation.Seeds.MethodTableSeeds.With(comparison.Table(), overSeeds);
        var ft = table.Rows.Single(r => r.Method == "FT")[ModelEvaluation.UA];
        double half = 4.302652729911275 * 10 / Math.Sqrt(3);
        // 1e-9: the quantile above has 16 digits and the rest is a few double operations.
        Assert.Equal((20.0, 20 - half, 20 + half), (ft.Value, ft.Low, ft.High), new ToleranceComparer(1e-9));
        Assert.False(table.Rows.Single(r => r.Method == "GA")[ModelEvaluation.UA].HasInterval);
        Assert.Equal(IlgpuUnlearn.Evaluation.Seeds.MethodTableSeeds.IntervalName, table.IntervalName);

        Assert.Contains(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"| FT | 3 | 20.00 [{20 - half:F2}, {20 + half:F2}] |"), comparison.MethodTableMarkdown(table), StringComparison.Ordinal);
        Assert.Contains(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{{\\scriptsize [$-${half - 20:F2}, {20 + half:F2}]}}"), MethodTableLatex.Render(table, "t"), StringComparison.Ordinal);
        Assert.Contains(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"<span class=\"ci\">[{20 - half:F2}, {20 + half:F2}]</span>"),
            ReportHtml.Render(comparison, table, [], []), StringComparison.Ordinal);
    }

    sealed class ToleranceComparer(double tolerance) : IEqualityComparer<(double, double, double)>
    {
        public bool Equals((double, double, double) a, (double, double, double) b) =>
            Math.Abs(a.Item1 - b.Item1) <= tolerance && Math.Abs(a.Item2 - b.Item2) <= tolerance && Math.Abs(a.Item3 - b.Item3) <= tolerance;

        public int GetHashCode((double, double, double) x) => 0;
    }

    /// <summary>A relearn run that never reached its target counts at its step limit and the mean says it is a lower bound.</summary>
    [Fact]
    public void AnUnreachedRelearnIsALowerBound()
    {
        var evaluation = new ModelEvaluation { Model = "m.pth", Role = "unlearned", Relearn = new IlgpuUnlearn.Evaluation.Probes.RelearnTime { Steps = null, MaxSteps = 50 } };
        var f = RunComparison.FigureOf(evaluation, double.NaN, MethodTable.RelearnSteps);
        Assert.Equal((50.0, true), (f.Value, f.AtLeast));
        Assert.Equal(">= 50.0", MethodTable.Text(f, MethodTable.RelearnSteps));
    }

    [Fact]
    public void ComparatorJsonWritesCkaInTheComparatorsLayout()
    {
        var run = FixtureRuns()[0];
        var train = Outputs(40, 0);
        var test = Outputs(20, 1);
        using var json = JsonDocument.Parse(ComparatorResultJson.Serialize(run, train, test, null));
        var cka = json.RootElement.GetProperty("cka");
        Assert.Equal(run.Evaluation.Cka![0].Layers, cka.GetProperty("layers").EnumerateArray().Select(e => e.GetString()));
        var pair = run.Evaluation.Cka.Single(c => c.Reference == "base" || c.Model == "base");
        var matrix = cka.GetProperty("train").GetProperty("forget_class").EnumerateArray().Select(r => r.EnumerateArray().ToArray()).ToArray();
        Assert.Equal(10, matrix.Length);
        for (int i = 0; i < 10; i++)
            for (int j = 0; j < 10; j++)
                if (i == j) Assert.Equal(Math.Round(pair.TrainForget[i]!.Value, 3), matrix[i][j].GetDouble());
                else Assert.Equal(JsonValueKind.Null, matrix[i][j].ValueKind);
        var retrained = run.Evaluation.Cka.Single(c => c.Reference == "retrained" || c.Model == "retrained");
        Assert.Equal(Math.Round(retrained.TestOther[4]!.Value, 3),
            json.RootElement.GetProperty("cka_retrain").GetProperty("test").GetProperty("other_classes")[4][4].GetDouble());

        // Without CKA (a run made with --below-logits none): null, as the Comparator writes cka_retrain without a retrained model.
        run.Evaluation.Cka = null;
        using var none = JsonDocument.Parse(ComparatorResultJson.Serialize(run, train, test, null));
        Assert.Equal(JsonValueKind.Null, none.RootElement.GetProperty("cka").ValueKind);
        Assert.Equal(JsonValueKind.Null, none.RootElement.GetProperty("cka_retrain").ValueKind);
    }

    /// <summary>Outputs of n images of the synthetic set's ten classes (labels i mod 10), logits a seeded mix.</summary>
    static SampleOutputs Outputs(int n, int seed)
    {
        var random = new Random(seed);
        var labels = Enumerable.Range(0, n).Select(i => i % 10).ToArray();
        return new SampleOutputs(labels, labels.SelectMany(y => Enumerable.Range(0, 10).Select(c => (float)(random.NextDouble() + (c == y ? 2 : 0)))).ToArray(), 10);
    }

    [Fact]
    public void HistogramBinsIncludeTheirLowerEdgeAndKeepWhatFallsPastTheEnds()
    {
        double[] edges = [0, 1, 2, 4];
        // 0 and 0.5 in [0, 1); 1 in [1, 2); 2 and 3.9 in [2, 4); 4 and 100 past the last edge: the last bin; -1 below the first: the first; NaN dropped.
        Assert.Equal([3, 1, 4], AttackScoreHistograms.Count(edges, [0, 0.5, 1, 2, 3.9, 4, 100, -1, double.NaN]));
        Assert.Equal(21, AttackScoreHistograms.ProbabilityEdges.Length);
        Assert.Equal([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], AttackScoreHistograms.Count(AttackScoreHistograms.ProbabilityEdges, [1.0]));
    }

    /// <summary>The histograms count the SVC attack's sets: members as many as non-members, non-members the retain-class test images (SalUn split), forget every class-k training image.</summary>
    [Fact]
    public void HistogramsCountTheSvcAttacksSets()
    {
        var train = Outputs(200, 2);
        var test = Outputs(50, 3);
        var h = AttackScoreHistograms.Compute(train, test, forgetClass: 3, MiaSplit.SalUn);
        Assert.Equal((45, 45, 20), (h.Probability.Members.Sum(), h.Probability.NonMembers.Sum(), h.Probability.Forget.Sum()));
        Assert.Equal((45, 45, 20), (h.Loss.Members.Sum(), h.Loss.NonMembers.Sum(), h.Loss.Forget.Sum()));
        var whole = AttackScoreHistograms.Compute(train, test, forgetClass: 3, MiaSplit.WholeTest);
        Assert.Equal((50, 50), (whole.Probability.Members.Sum(), whole.Probability.NonMembers.Sum()));
        // A forget image's loss falls in the bin its value says.
        var forget = train.IndicesOfClass(3);
        Assert.Equal(AttackScoreHistograms.Count(AttackScoreHistograms.LossEdges, forget.Select(i => train.Loss[i])), h.Loss.Forget);
        // The evaluation carries them in its JSON.
        var evaluation = ModelEvaluation.Compute("m.pth", "unlearned", train, test, 3, null, new EvaluationSettings { BootstrapReplicates = 0 });
        Assert.Equal(h.Loss.Forget, evaluation.AttackScores!.Loss.Forget);
    }
}
