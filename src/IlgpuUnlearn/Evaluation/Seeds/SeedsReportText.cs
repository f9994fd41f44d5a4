using System.Globalization;
using System.Text;

namespace IlgpuUnlearn.Evaluation.Seeds;

/// <summary>
/// <see cref="SeedsReport"/>s as the terminal and <c>report --markdown</c> show them (markdown tables), and as CSV (one row
/// per figure, model and method). The HTML/LaTeX renderers read <see cref="SeedsReport.Figures"/> themselves.
/// </summary>
public static class SeedsReportText
{
    /// <summary>
    /// One report: the unlearned model's figures with the mean over seeds and its 95% t interval, the standard deviation,
    /// the mean bootstrap interval of one run, the retrained model's value where there is one, and each seed's value; then the
    /// CKA pairs of the unlearned model (mean +- half-width per stage) and the verdict counts.
    /// </summary>
    public static string Format(SeedsReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var text = new StringBuilder();
        if (report.SeedsIdentical) text.Append("WARNING: ").Append(report.IdenticalWarning).Append("\n\n");
        string seeds = string.Join(", ", report.Seeds.Select(s => s.ToString(CultureInfo.InvariantCulture)));
        string name = report.ForgetClass < report.ClassNames.Length ? $" ({report.ClassNames[report.ForgetClass]})" : "";
        text.Append(Inv($"{report.Method} on forget class {report.ForgetClass}{name} over {report.Seeds.Length} seeds ({seeds}): mean [95% Student t interval over seeds], "))
            .Append("beside one run's 95% bootstrap interval (its bounds averaged over the seeds)\n\n");
        bool retrained = report.Figures.Any(f => f.Role == "retrained");
        text.Append("| figure | mean [95% t, seeds] | sd | n | bootstrap 95% (one run) |" + (retrained ? " retrained |" : "") + " per seed |\n");
        text.Append("|---|---|---|---|---|" + (retrained ? "---|" : "") + "---|\n");
        foreach (var f in report.Figures.Where(f => f.Role == "unlearned" && f.Kind != "cka"))
        {
            var s = f.Seeds;
            text.Append($"| {f.Name} | {MeanAndInterval(s, f.Name)} | {Number(s.StandardDeviation, f.Name)} | {s.Count} | ");
            text.Append(double.IsNaN(f.BootstrapLow) ? "-" : $"[{Number(f.BootstrapLow, f.Name)}, {Number(f.BootstrapHigh, f.Name)}]");
            if (retrained) text.Append(" | ").Append(report.Figure(f.Name, "retrained") is { } r ? Number(r.Seeds.Mean, f.Name) : "-");
            text.Append(" | ").Append(string.Join(" ", s.Values.Select(v => Number(v, f.Name)))).Append(" |\n");
        }
        var cka = report.Figures.Where(f => f.Role == "unlearned" && f.Kind == "cka").ToList();
        if (cka.Count > 0)
        {
            // "CKA unlearned/base test-forget layer4.1": the pair and split, then the layer.
            var rows = cka.GroupBy(f => f.Name[..f.Name.LastIndexOf(' ')]).ToList();
            var layers = rows[0].Select(f => f.Name[(f.Name.LastIndexOf(' ') + 1)..]).ToList();
            text.Append("\n| CKA, mean +- half-width of the 95% t interval | " + string.Join(" | ", layers) + " |\n");
            text.Append("|---|" + string.Concat(layers.Select(_ => "---|")) + "\n");
            foreach (var row in rows)
                text.Append($"| {row.Key["CKA ".Length..]} | " + string.Join(" | ", row.Select(f => f.Seeds.HasInterval
                    ? Inv($"{f.Seeds.Mean:F3} +- {f.Seeds.HalfWidth:F3}") : Number(f.Seeds.Mean, "cka"))) + " |\n");
        }
        var v = report.Verdicts;
        if (v.Judged > 0)
            text.Append(retrained
                ? Inv($"\nverdicts over seeds: under-forgotten {v.UnderForgotten} of {v.Judged}, over-forgotten {v.OverForgotten} of {v.Judged}, retain damage {v.RetainDamage} of {v.Judged}\n")
                : Inv($"\nverdicts over seeds (no retrained model: under- and over-forgetting not judged): retain damage (collapse guard) {v.RetainDamage} of {v.Judged}\n"));
        if (report.Seeds.Length < 2) text.Append("\none seed: no interval over seeds (it needs at least 2)\n");
        return text.ToString();
    }

    /// <summary>
    /// "12.34 [10.02, 14.66]"; the mean alone with one seed; "n/a" when no seed has the figure; an interval of seeds that all
    /// gave the same value is marked "[41.00, 41.00] (zero width: seeds identical)" so that it does not read as certainty.
    /// </summary>
    public static string MeanAndInterval(SeedInterval s, string figure) =>
        s.Count == 0 ? "n/a" : s.HasInterval ? $"{Number(s.Mean, figure)} [{Number(s.Low, figure)}, {Number(s.High, figure)}]{(s.IsConstant ? " " + ZeroWidth : "")}" : Number(s.Mean, figure);

    /// <summary>The mark after an interval of zero width (every seed gave the same value).</summary>
    public const string ZeroWidth = "(zero width: seeds identical)";

    /// <summary>CSV (RFC 4180): one row per figure of every model of every report, the seeds' values joined by spaces.</summary>
    public static string Csv(IReadOnlyList<SeedsReport> reports)
    {
        ArgumentNullException.ThrowIfNull(reports);
        var text = new StringBuilder("method,forget_class,role,figure,n,mean,ci_low,ci_high,sd,t,bootstrap_ci_low,bootstrap_ci_high,seeds,values\n");
        foreach (var r in reports)
            foreach (var f in r.Figures)
            {
                var s = f.Seeds;
                text.Append(Field(r.Method)).Append(',').Append(r.ForgetClass.ToString(CultureInfo.InvariantCulture)).Append(',')
                    .Append(Field(f.Role)).Append(',').Append(Field(f.Name)).Append(',').Append(s.Count.ToString(CultureInfo.InvariantCulture));
                foreach (double x in new[] { s.Mean, s.Low, s.High, s.StandardDeviation, s.T, f.BootstrapLow, f.BootstrapHigh })
                    text.Append(',').Append(Raw(x));
                text.Append(',').Append(string.Join(" ", r.Seeds.Select(x => x.ToString(CultureInfo.InvariantCulture))))
                    .Append(',').Append(string.Join(" ", s.Values.Select(Raw))).Append('\n');
            }
        return text.ToString();
    }

    /// <summary>Two decimals (percentages, losses, steps); FQS three, FQS_unrounded four, CKA three.</summary>
    static string Number(double value, string figure) =>
        double.IsNaN(value) ? "n/a"
        : figure is ModelEvaluation.Fqs or ModelEvaluation.FqsUnrounded ? RunReportText.Number(value, figure)
        : value.ToString(figure == "cka" || figure.StartsWith("CKA ", StringComparison.Ordinal) ? "F3" : "F2", CultureInfo.InvariantCulture);

    static string Raw(double v) => double.IsNaN(v) ? "" : v.ToString("R", CultureInfo.InvariantCulture);

    static string Field(string s) => s.IndexOfAny([',', '"', '\n', '\r']) < 0 ? s : "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
