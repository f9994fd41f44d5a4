using System.Globalization;
using System.Text;

namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// Many run reports (made on any machines: one per forget class, per method) brought together: the card's table with one
/// row per run, a method x metric table (the mean of each named metric over the runs of a method, the base and retrained
/// models counted as the methods "base" and "retrained"), as markdown and CSV, and one SVG bar chart of the means.
/// </summary>
public sealed class RunComparison
{
    /// <summary>The metrics the picture shows, in the report's order: percentages, FQS (0-1) drawn times 100, then the Avg. Gap (points).</summary>
    public static readonly string[] PictureMetrics =
    [
        ModelEvaluation.UA, ModelEvaluation.RA, ModelEvaluation.TUA, ModelEvaluation.TRA, ModelEvaluation.SalUnUA, ModelEvaluation.SalUnRA,
        ModelEvaluation.SalUnTA, ModelEvaluation.MiaEfficacy, ModelEvaluation.LossMia, ModelEvaluation.Fqs, AvgGapName,
    ];

    /// <summary>The picture's and tables' name of SalUn's Avg. Gap.</summary>
    public const string AvgGapName = "Avg. Gap";

    private readonly List<RunReport> _runs;

    /// <summary>Where each run was read from (its report file), to tell apart card rows whose model names are the same.</summary>
    private readonly Dictionary<RunReport, string> _sources = new(ReferenceEqualityComparer.Instance);

    public RunComparison(IEnumerable<RunReport> runs)
    {
        _runs = [.. runs.Where(r => r.ForgetClass is not null).OrderBy(r => r.Method, StringComparer.Ordinal).ThenBy(r => r.ForgetClass)];
        if (_runs.Count == 0) throw new ArgumentException("no run with a forget class to compare");
    }

    /// <summary>The runs with a forget class, in method and class order.</summary>
    public IReadOnlyList<RunReport> Runs => _runs;

    /// <summary>Runs with the report file each came from (shown in the card table where two rows' model names are the same).</summary>
    public RunComparison(IEnumerable<(RunReport Run, string Source)> runs) : this(runs.Select(r => r.Run).ToList())
    {
        foreach (var (run, source) in runs) _sources[run] = source;
    }

    /// <summary>
    /// Each model evaluation the method table averages, under its method's name ("base" and "retrained" for those models).
    /// The base and retrained models of one forget class, evaluated again by every run of that class, count once: the same
    /// model file (by the SHA-256 the report records; by its name in reports without one) on the same number of training
    /// and test images is taken to be the same model. Two files of one name with different weights count twice.
    /// </summary>
    private List<(string Method, ModelEvaluation Evaluation, double AvgGap, string MiaSplit)> Evaluations()
    {
        var list = new List<(string, ModelEvaluation, double, string)>();
        var seen = new HashSet<(string Method, string Model, int? ForgetClass, int Train, int Test)>();
        void Add(string method, ModelEvaluation evaluation, double avgGap, string split, int? onceForClass)
        {
            string identity = evaluation.Sha256 is { Length: > 0 } sha ? "sha256:" + sha : "name:" + evaluation.Model;
            if (onceForClass is not null && !seen.Add((method, identity, onceForClass, evaluation.Train.Images, evaluation.Test.Images))) return;
            list.Add((method, evaluation, avgGap, split));
        }
        foreach (var r in _runs)
        {
            if (r.Base is not null) Add("base", r.Base, double.NaN, r.MiaSplit, r.ForgetClass);
            Add(r.Method, r.Evaluation, r.AvgGap, r.MiaSplit, null);
            if (r.Retrained is not null) Add("retrained", r.Retrained, 0, r.MiaSplit, r.ForgetClass);
        }
        return list;
    }

    /// <summary>
    /// One row per method of <see cref="Table"/> (for the bar chart): its name, the number of runs, the mean of each metric
    /// (NaN where no run has it), the mean Avg. Gap.
    /// </summary>
    public IReadOnlyList<(string Method, int Runs, Dictionary<string, double> Means, double AvgGap)> MethodRows() =>
        Table().Rows.Select(r => (r.Method, r.Runs, ModelEvaluation.MetricOrder.ToDictionary(name => name, name => r[name].Value), r[AvgGapName].Value)).ToList();

    /// <summary>
    /// The method x metric table every renderer draws: per method the mean of each figure over its runs
    /// (<see cref="MethodTable.FigureOrder"/>: the named metrics, the Avg. Gap, the probe, relearn steps and CKA), NaN where
    /// no run has it. Relearn steps of a run that never reached its target count as its step limit, and the mean is then a
    /// lower bound (<see cref="MethodFigure.AtLeast"/>). Rows: the base model, the methods in name order, the retrained model.
    /// </summary>
    public MethodTable Table() =>
        new(Evaluations().GroupBy(e => e.Method).OrderBy(g => g.Key switch { "base" => 0, "retrained" => 2, _ => 1 }).Select(g => new MethodRow(g.Key, g.Count(),
            MethodTable.FigureOrder.ToDictionary(name => name, name =>
            {
                var values = g.Select(e => FigureOf(e.Evaluation, e.AvgGap, name)).ToList();
                return new MethodFigure(Mean(values.Select(v => v.Value)), AtLeast: values.Any(v => v.AtLeast));
            }))).ToList());

    /// <summary>One model's value of <paramref name="figure"/> (NaN where it has none).</summary>
    public static MethodFigure FigureOf(ModelEvaluation evaluation, double avgGap, string figure)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        switch (figure)
        {
            case AvgGapName: return new(avgGap);
            case MethodTable.ProbeForget: return new(evaluation.LinearProbe?.ForgetAccuracy ?? double.NaN);
            case MethodTable.ProbeRetain: return new(evaluation.LinearProbe?.RetainAccuracy ?? double.NaN);
            case MethodTable.RelearnSteps:
                return evaluation.Relearn is not { } relearn ? new(double.NaN)
                    : relearn.Steps is int steps ? new(steps) : new(relearn.MaxSteps, AtLeast: true);
            case MethodTable.CkaBase: return new(Cka(evaluation, "base"));
            case MethodTable.CkaRetrained: return new(Cka(evaluation, "retrained"));
            default: return new(evaluation.Metrics.TryGetValue(figure, out var m) ? m.Value : double.NaN);
        }
    }

    /// <summary>CKA of <paramref name="evaluation"/>'s model to the model of role <paramref name="reference"/> at the table's stage and split; NaN where not computed.</summary>
    static double Cka(ModelEvaluation evaluation, string reference)
    {
        if (evaluation.Role == reference) return double.NaN;
        var pair = evaluation.Cka?.FirstOrDefault(c => (c.Model == evaluation.Role && c.Reference == reference) || (c.Model == reference && c.Reference == evaluation.Role));
        if (pair is null) return double.NaN;
        int stage = pair.Layers.ToList().IndexOf(MethodTable.CkaStage);
        var values = pair.Of(MethodTable.CkaSplit);
        return stage >= 0 && stage < values.Length && values[stage] is double v ? v : double.NaN;
    }

    /// <summary>
    /// One line per method (the base and retrained models included) whose runs, averaged together in the method table,
    /// differ in image counts (training / test images evaluated) or in the SVC attack's split, naming each variant and how
    /// many runs have it (for the base and retrained models: how many models, by file name): such means mix different
    /// measurements. Empty when every method's runs agree.
    /// </summary>
    public IReadOnlyList<string> MixedGroups()
    {
        var lines = new List<string>();
        foreach (var method in Evaluations().GroupBy(e => e.Method))
        {
            var variants = method.GroupBy(e => (e.Evaluation.Train.Images, e.Evaluation.Test.Images, e.MiaSplit)).ToList();
            if (variants.Count < 2) continue;
            bool models = method.Key is "base" or "retrained";
            lines.Add($"the {method.Key} {(models ? "models" : "runs")} differ and their means mix them: " + string.Join("; ", variants.Select(v =>
                $"{v.Count()} {(models ? "model" : "run")}{(v.Count() == 1 ? "" : "s")}" +
                (models ? " (" + string.Join(", ", v.Select(e => e.Evaluation.Model).Distinct()) + ")" : "") +
                $" with {v.Key.Item1:N0} training + {v.Key.Item2:N0} test images" +
                (v.Key.MiaSplit is { Length: > 0 } split ? $", mia split {split}" : ""))));
        }
        return lines;
    }

    /// <summary>The card's table: one row per run (its test-set figures), in method and class order.</summary>
    /// <remarks>
    /// Rows whose model names are the same (two runs that wrote the same file name) are told apart by the report file each
    /// came from, "model.pth (a.report.json)", or by their place in the list where that is the same too.
    /// </remarks>
    public string CardTable()
    {
        var rows = _runs.Where(r => r.Card is not null).ToList();
        var twice = rows.GroupBy(r => r.ModelName).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet();
        string Label(RunReport r)
        {
            if (!twice.Contains(r.ModelName)) return r.ModelName;
            var same = rows.Where(o => o.ModelName == r.ModelName).ToList();
            string? source = _sources.GetValueOrDefault(r);
            return source is not null && same.Count(o => _sources.GetValueOrDefault(o) == source) == 1
                ? $"{r.ModelName} ({source})"
                : $"{r.ModelName} (run {rows.IndexOf(r) + 1}{(source is null ? "" : " of " + source)})";
        }
        return ModelCardTable.Table(rows.Select(r => (r.Card!, (string?)Label(r))));
    }

    /// <summary>
    /// The method table (<paramref name="table"/>, by default <see cref="Table"/>) as markdown: every figure some method has,
    /// "value [low, high]" where a row has an interval.
    /// </summary>
    public string MethodTableMarkdown(MethodTable? table = null)
    {
        table ??= Table();
        var text = new StringBuilder("| method | runs | " + string.Join(" | ", table.Figures) + " |\n");
        text.Append("|---|---|" + string.Concat(table.Figures.Select(_ => "---|")) + "\n");
        foreach (var row in table.Rows)
            text.Append($"| {row.Method} | {row.Runs} | " + string.Join(" | ", table.Figures.Select(f => MethodTable.Text(row[f], f))) + " |\n");
        if (table.IntervalName is not null) text.Append($"\nIn brackets: the {table.IntervalName}, where a method's runs are one set of seeds.\n");
        if (table.Figures.Intersect(MethodTable.BelowLogitsFigures).Any())
            text.Append($"\n{MethodTable.CkaBase}, {MethodTable.CkaRetrained}: linear CKA at {MethodTable.CkaStage} on the {MethodTable.CkaSplit} images; " +
                        $"{MethodTable.RelearnSteps} \">=\": some run did not relearn within its step limit, counted at the limit\n");
        return text.ToString();
    }

    /// <summary>CSV (RFC 4180): one row per run (method, forget class, model, every metric, Avg. Gap), then one mean row per method.</summary>
    public string Csv()
    {
        var text = new StringBuilder("method,forget_class,model," + string.Join(",", ModelEvaluation.MetricOrder) + ",avg_gap," +
                                     string.Join(",", MethodTable.BelowLogitsFigures) + "\n");
        foreach (var r in _runs)
        {
            text.Append(Field(r.Method)).Append(',').Append(r.ForgetClass!.Value.ToString(CultureInfo.InvariantCulture)).Append(',').Append(Field(r.ModelName));
            foreach (var m in ModelEvaluation.MetricOrder) text.Append(',').Append(r.Evaluation.Metrics.TryGetValue(m, out var v) ? Raw(v.Value) : "");
            text.Append(',').Append(Raw(r.AvgGap));
            // A relearn run that never reached its target is written empty, as its steps are not known.
            foreach (var f in MethodTable.BelowLogitsFigures) text.Append(',').Append(FigureOf(r.Evaluation, r.AvgGap, f) is { AtLeast: false } x ? Raw(x.Value) : "");
            text.Append('\n');
        }
        foreach (var row in Table().Rows)
        {
            text.Append(Field(row.Method)).Append(",mean,");
            foreach (var m in ModelEvaluation.MetricOrder) text.Append(',').Append(Raw(row[m].Value));
            text.Append(',').Append(Raw(row[AvgGapName].Value));
            foreach (var f in MethodTable.BelowLogitsFigures) text.Append(',').Append(row[f].AtLeast ? "" : Raw(row[f].Value));
            text.Append('\n');
        }
        return text.ToString();
    }

    /// <summary>
    /// A grouped bar chart (<see cref="ReportCharts.GroupedBars"/>): one group per metric of <see cref="PictureMetrics"/>
    /// that some method has, one bar per method (its mean over runs, on a 0-100 axis: percentages, FQS times 100, the Avg.
    /// Gap in points; each bar's title gives it to two decimals), under a title naming the data and the forget class(es)
    /// and a subtitle giving the scales of the groups drawn; the legend names each method and its number of runs.
    /// </summary>
    public string Svg()
    {
        var rows = MethodRows();
        var metrics = ShownMetrics();
        string[] colours = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
        // The subtitle explains only the scales of the groups drawn (FQS and Avg. Gap are absent without a retrained model).
        var scales = new List<string>();
        if (metrics.Contains(ModelEvaluation.Fqs)) scales.Add("FQS x100");
        if (metrics.Contains(AvgGapName)) scales.Add("Avg. Gap: mean |model - retrained|, points");
        string subtitle = "mean over runs per method; %" + (scales.Count == 0 ? "" : " (" + string.Join("; ", scales) + ")");
        var series = rows.Select((row, r) => new ChartSeries($"{row.Method} ({row.Runs} run{(row.Runs == 1 ? "" : "s")})", colours[r % colours.Length],
            metrics.Select(m => PictureValue(row, m)).ToArray())).ToList();
        return ReportCharts.GroupedBars(Title(), metrics.Select(m => m == ModelEvaluation.Fqs ? "FQS x100" : m).ToList(), series, 100, "mean over runs",
            valueFormat: "F2", subtitle: subtitle) + "\n";
    }

    /// <summary>A method's bar for <paramref name="metric"/>: its mean (FQS times 100; the Avg. Gap from the row), NaN where it has none.</summary>
    public static double PictureValue((string Method, int Runs, Dictionary<string, double> Means, double AvgGap) row, string metric) =>
        metric == AvgGapName ? row.AvgGap : metric == ModelEvaluation.Fqs ? row.Means[metric] * 100 : row.Means[metric];

    /// <summary>The metrics of <see cref="PictureMetrics"/> that at least one method has: the picture's groups.</summary>
    public string[] ShownMetrics()
    {
        var rows = MethodRows();
        return PictureMetrics.Where(m => rows.Any(r => !double.IsNaN(PictureValue(r, m)))).ToArray();
    }

    /// <summary>"Unlearning on Fashion-MNIST, forget class 3 (Dress)": the data the runs share (by their class names) and their forget class(es).</summary>
    public string Title()
    {
        var names = _runs[0].ClassNames;
        string data = names.SequenceEqual(Data.Cifar10.ClassNames) ? "CIFAR-10"
            : names.SequenceEqual(Data.FashionMnist.ClassNames) ? "Fashion-MNIST"
            : names.SequenceEqual(Data.SyntheticDataset.ClassNames) ? "synthetic shapes"
            : $"{names.Length} classes ({string.Join(", ", names.Take(3))}, ...)";
        if (_runs.Any(r => !r.ClassNames.SequenceEqual(names))) data += " and other data";
        var classes = _runs.Select(r => r.ForgetClass!.Value).Distinct().Order().ToList();
        string forget = classes.Count == 1 ? $"forget class {classes[0]} ({names[classes[0]]})"
            : classes.Count == names.Length ? $"forget classes 0-{names.Length - 1} (each in turn)"
            : "forget classes " + string.Join(", ", classes.Select(k => $"{k} ({names[k]})"));
        return $"Unlearning on {data}, {forget}";
    }

    private static double Mean(IEnumerable<double> values)
    {
        var list = values.Where(v => !double.IsNaN(v)).ToList();
        return list.Count == 0 ? double.NaN : list.Average();
    }

    private static string Raw(double v) => double.IsNaN(v) ? "" : v.ToString("R", CultureInfo.InvariantCulture);

    private static string Field(string s) => s.IndexOfAny([',', '"', '\n', '\r']) < 0 ? s : "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
