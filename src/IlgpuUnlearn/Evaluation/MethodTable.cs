using System.Globalization;

namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// One figure of a method's row: the mean over its runs, and an interval where the aggregation gives one (NaN bounds
/// otherwise: today one row is one mean; an aggregation over seeds fills <see cref="Low"/>/<see cref="High"/> and every
/// renderer shows them). <see cref="AtLeast"/>: the value is a lower bound (relearn steps where some run did not reach its
/// target within its step limit, counted at that limit).
/// </summary>
public readonly record struct MethodFigure(double Value, double Low = double.NaN, double High = double.NaN, bool AtLeast = false)
{
    public bool HasInterval => !double.IsNaN(Low) && !double.IsNaN(High);

    /// <summary>An interval of zero width (every seed gave the same value): renderers mark it, as it says nothing varied, not that the figure is certain.</summary>
    public bool IsZeroWidth => HasInterval && Low == High;

    /// <summary>The mark renderers put after a zero-width interval.</summary>
    public const string ZeroWidthMark = "(zero width)";
}

/// <summary>A method's row: its name ("base" and "retrained" for those models), how many runs it averages, its figures by name.</summary>
public sealed record MethodRow(string Method, int Runs, IReadOnlyDictionary<string, MethodFigure> Figures)
{
    /// <summary>The figure named <paramref name="name"/>, NaN where the row has none.</summary>
    public MethodFigure this[string name] => Figures.TryGetValue(name, out var f) ? f : new MethodFigure(double.NaN);
}

/// <summary>
/// The method x metric table that every renderer (markdown, CSV, LaTeX, HTML) draws: the figures that some row has, in report
/// order, one row per method, the distance of each figure to the retrained model's row, and what the interval (if any) is.
/// Figures: the named metrics (<see cref="ModelEvaluation.MetricOrder"/>), SalUn's Avg. Gap, then the below-logits ones
/// (<see cref="ProbeForget"/> ... <see cref="CkaRetrained"/>).
/// </summary>
public sealed class MethodTable
{
    /// <summary>The linear probe's forget-class and retain test accuracy (%).</summary>
    public const string ProbeForget = "probe_forget", ProbeRetain = "probe_retain";

    /// <summary>Relearn steps to the target (see Probes.RelearnTime).</summary>
    public const string RelearnSteps = "relearn_steps";

    /// <summary>Linear CKA at <see cref="CkaStage"/> on the <see cref="CkaSplit"/> split, to the base model and to the retrained model.</summary>
    public const string CkaBase = "CKA_base", CkaRetrained = "CKA_retrained";

    /// <summary>The stage and split the table's CKA columns show (the whole per-stage curves are in the HTML report).</summary>
    public const string CkaStage = "layer4.1", CkaSplit = "train-forget";

    /// <summary>The below-logits figures in table order.</summary>
    public static readonly string[] BelowLogitsFigures = [ProbeForget, ProbeRetain, RelearnSteps, CkaBase, CkaRetrained];

    /// <summary>Every figure a table may have, in order.</summary>
    public static readonly string[] FigureOrder = [.. ModelEvaluation.MetricOrder, RunComparison.AvgGapName, .. BelowLogitsFigures];

    public MethodTable(IReadOnlyList<MethodRow> rows, string? intervalName = null)
    {
        ArgumentNullException.ThrowIfNull(rows);
        Rows = rows;
        IntervalName = intervalName;
        Figures = FigureOrder.Where(f => rows.Any(r => !double.IsNaN(r[f].Value))).ToArray();
    }

    public IReadOnlyList<MethodRow> Rows { get; }

    /// <summary>The figures that at least one row has, in <see cref="FigureOrder"/>.</summary>
    public IReadOnlyList<string> Figures { get; }

    /// <summary>What the rows' intervals are (e.g. "95% interval over seeds"); null when no row has one.</summary>
    public string? IntervalName { get; }

    /// <summary>The retrained model's row, where the runs had one.</summary>
    public MethodRow? Retrained => Rows.FirstOrDefault(r => r.Method == "retrained");

    /// <summary>
    /// row - retrained for <paramref name="figure"/> (points, nats, steps or CKA units as the figure is); NaN without a
    /// retrained row, for the retrained row itself, and where either value is missing. The Avg. Gap is already a distance: NaN.
    /// </summary>
    public double Distance(MethodRow row, string figure)
    {
        ArgumentNullException.ThrowIfNull(row);
        if (Retrained is not { } r || ReferenceEquals(row, r) || figure == RunComparison.AvgGapName) return double.NaN;
        return row[figure].Value - r[figure].Value;
    }

    /// <summary>The figure as the tables write it: two decimals (FQS three, FQS_unrounded four, CKA three, steps one), "-" where missing.</summary>
    public static string Number(double value, string figure)
    {
        if (double.IsNaN(value)) return "-";
        string format = figure switch
        {
            ModelEvaluation.Fqs or CkaBase or CkaRetrained => "F3",
            ModelEvaluation.FqsUnrounded => "F4",
            RelearnSteps => "F1",
            _ => "F2",
        };
        return value.ToString(format, CultureInfo.InvariantCulture);
    }

    /// <summary>"12.34", "&gt;= 50.0" for a lower bound, "12.34 [11.02, 13.80]" with an interval, "41.00 [41.00, 41.00] (zero width)".</summary>
    public static string Text(MethodFigure f, string figure) =>
        (f.AtLeast ? ">= " : "") + Number(f.Value, figure) + (f.HasInterval ? $" [{Number(f.Low, figure)}, {Number(f.High, figure)}]" : "")
        + (f.IsZeroWidth ? " " + MethodFigure.ZeroWidthMark : "");

    /// <summary>What a figure is, one short phrase (the metrics' from <see cref="RunReportText.Meaning"/>).</summary>
    public static string Meaning(string figure) => figure switch
    {
        RunComparison.AvgGapName => "SalUn: mean |model - retrained| over SalUn_UA, SalUn_RA, SalUn_TA, MIA_efficacy (points)",
        ProbeForget => "linear probe on the penultimate features: forget-class test acc (%)",
        ProbeRetain => "linear probe: retain test acc (%)",
        RelearnSteps => "SGD steps to relearn the forget class to half the base model's accuracy",
        CkaBase => $"linear CKA to the base model, {CkaStage}, {CkaSplit} images",
        CkaRetrained => $"linear CKA to the retrained model, {CkaStage}, {CkaSplit} images",
        _ => RunReportText.Meaning(figure),
    };
}
