using System.Globalization;
using System.Text.Json.Serialization;

namespace IlgpuUnlearn.Evaluation.Seeds;

/// <summary>
/// One figure of one model over the seeds of a method: the mean and 95% t interval over seeds (<see cref="SeedInterval"/>)
/// beside the runs' own 95% bootstrap interval, averaged bound by bound over the seeds (the interval one run would show;
/// NaN bounds for figures without a bootstrap: losses, probe, relearn, CKA, Avg. Gap, or --bootstrap 0).
/// </summary>
/// <param name="Name">The figure: a metric's name (UA, MIA_efficacy ...), "test forget loss", "test retain loss", "Avg. Gap",
/// "probe forget", "probe retain", "relearn steps", or "CKA MODEL/REFERENCE SPLIT LAYER".</param>
/// <param name="Kind">metric, loss, gap, probe, relearn or cka: which part of the run report it comes from.</param>
/// <param name="Role">The model: unlearned, base or retrained (for CKA, the pair's first model).</param>
public sealed record SeedFigure(
    [property: JsonPropertyName("figure")] string Name,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("role")] string Role,
    [property: JsonPropertyName("seeds")] SeedInterval Seeds,
    [property: JsonPropertyName("bootstrap_ci_low")] double BootstrapLow,
    [property: JsonPropertyName("bootstrap_ci_high")] double BootstrapHigh);

/// <summary>How many of the seeds' unlearned models the verdict calls under-forgotten, over-forgotten, retain-damaged.</summary>
public sealed record SeedVerdicts(
    [property: JsonPropertyName("judged")] int Judged,
    [property: JsonPropertyName("under_forgotten")] int UnderForgotten,
    [property: JsonPropertyName("over_forgotten")] int OverForgotten,
    [property: JsonPropertyName("retain_damage")] int RetainDamage,
    [property: JsonPropertyName("lines")] string[] Lines);

/// <summary>
/// The runs of one method on one forget class that differ only in their seed, merged: every figure of the run reports
/// (<see cref="RunReport"/>) as its mean and 95% Student t interval over the seeds, beside the mean bootstrap interval of
/// one run. Made by <c>unlearn --seeds</c> (written as <c>.seeds.json</c>) and by <c>report</c> from run reports.
/// Renderers read <see cref="Figures"/> (one row per figure and model) and <see cref="Verdicts"/>.
/// </summary>
public sealed class SeedsReport
{
    [JsonPropertyName("method")] public string Method { get; init; } = "";
    [JsonPropertyName("forget_class")] public int ForgetClass { get; init; }
    [JsonPropertyName("class_names")] public string[] ClassNames { get; init; } = [];

    /// <summary>The seeds, ascending; <see cref="Models"/> and every <see cref="SeedInterval.Values"/> are in this order.</summary>
    [JsonPropertyName("seeds")] public int[] Seeds { get; init; } = [];

    /// <summary>Each seed's unlearned model (file name).</summary>
    [JsonPropertyName("models")] public string[] Models { get; init; } = [];

    /// <summary>What the interval is, in words (the same for every report).</summary>
    [JsonPropertyName("interval")] public string Interval { get; init; } = IntervalText;

    public const string IntervalText = "95% Student t interval over seeds: mean +- t(0.975, n-1) s / sqrt(n), s the sample standard deviation; " +
        "bootstrap_ci_low/high: the runs' own 95% bootstrap bounds averaged over the seeds";

    [JsonPropertyName("bootstrap_replicates")] public int BootstrapReplicates { get; init; }
    [JsonPropertyName("mia_split")] public string MiaSplit { get; init; } = "";

    /// <summary>The settings the seeds share (the run reports' <see cref="RunReport.Settings"/> without the seed).</summary>
    [JsonPropertyName("settings")] public SortedDictionary<string, string> Settings { get; init; } = new(StringComparer.Ordinal);

    [JsonPropertyName("figures")] public SeedFigure[] Figures { get; init; } = [];

    [JsonPropertyName("verdicts")] public SeedVerdicts Verdicts { get; init; } = new(0, 0, 0, 0, []);

    /// <summary>
    /// True when at least 2 seeds were merged and every metric of the unlearned model (UA, RA, TA, MIA ...) is identical
    /// across them: the seed drew nothing that changed the result, and every t interval has zero width (it does not mean
    /// the figure is certain). See <see cref="IdenticalWarning"/>.
    /// </summary>
    [JsonPropertyName("seeds_identical")] public bool SeedsIdentical { get; init; }

    /// <summary>The warning printed (terminal, markdown, HTML) when <see cref="SeedsIdentical"/>.</summary>
    [JsonIgnore]
    public string IdenticalWarning => FormattableString.Invariant(
        $"{Method} class {ForgetClass}: the {Seeds.Length} seeds ({string.Join(",", Seeds)}) gave identical metrics (sd 0, zero-width intervals): ") +
        "the seed drew nothing that changed the result (e.g. the forget set fits one batch, so each epoch is one step in file order); " +
        "the intervals say nothing about the spread over seeds. Use more data per epoch, a smaller batch or --augment to make the seeds matter.";

    /// <summary>The figure <paramref name="name"/> of <paramref name="role"/>'s model, or null.</summary>
    public SeedFigure? Figure(string name, string role = "unlearned") => Figures.FirstOrDefault(f => f.Name == name && f.Role == role);

    /// <summary>
    /// Merges the run reports of one method, forget class and settings, one per seed (<see cref="SeedGroups"/> finds such
    /// sets among many reports).
    /// </summary>
    /// <exception cref="ArgumentException">No run, a run without a forget class, runs of other methods, classes or settings, or a seed twice.</exception>
    public static SeedsReport Merge(IReadOnlyList<RunReport> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (runs.Count == 0) throw new ArgumentException("no run to merge over seeds");
        var first = runs[0];
        if (first.ForgetClass is not int k) throw new ArgumentException($"{first.ModelName}: no forget class; seeds merge unlearning runs");
        foreach (var r in runs)
            if (SeedGroups.KeyOf(r) != SeedGroups.KeyOf(first))
                throw new ArgumentException($"{r.ModelName} and {first.ModelName} differ in more than their seed ({SeedGroups.Difference(r, first)})");
        if (runs.GroupBy(r => r.Seed).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new ArgumentException($"seed {twice.Key} is given twice ({string.Join(", ", twice.Select(r => r.ModelName))})");
        var ordered = runs.OrderBy(r => r.Seed).ToList();

        // Every figure of every run, keyed by (role, name) in first-seen order; each run's value (NaN where it has none).
        var order = new List<(string Role, string Name, string Kind)>();
        var values = new Dictionary<(string, string), (double[] Value, double[] Low, double[] High)>();
        for (int s = 0; s < ordered.Count; s++)
        {
            foreach (var (role, name, kind, value, low, high) in FiguresOf(ordered[s]))
            {
                if (!values.TryGetValue((role, name), out var slot))
                {
                    slot = (Filled(ordered.Count), Filled(ordered.Count), Filled(ordered.Count));
                    values[(role, name)] = slot;
                    order.Add((role, name, kind));
                }
                (slot.Value[s], slot.Low[s], slot.High[s]) = (value, low, high);
            }
        }
        var figures = order.Select(f =>
        {
            var (value, low, high) = values[(f.Role, f.Name)];
            return new SeedFigure(f.Name, f.Kind, f.Role, SeedInterval.Of(value), MeanOrNaN(low), MeanOrNaN(high));
        }).ToArray();

        var metrics = figures.Where(f => f.Role == "unlearned" && f.Kind == "metric" && f.Seeds.Count >= 2).ToList();
        bool identical = ordered.Count >= 2 && metrics.Count > 0 && metrics.All(f => f.Seeds.IsConstant);

        var verdicts = ordered.Select(r => r.Evaluation.Verdict).ToList();
        var judged = verdicts.Where(v => v is not null).Select(v => v!).ToList();
        return new SeedsReport
        {
            Method = first.Method, ForgetClass = k, ClassNames = first.ClassNames, Seeds = [.. ordered.Select(r => r.Seed)],
            Models = [.. ordered.Select(r => r.ModelName)], BootstrapReplicates = first.BootstrapReplicates, MiaSplit = first.MiaSplit,
            Settings = SeedGroups.SharedSettings(first), Figures = figures, SeedsIdentical = identical,
            Verdicts = new SeedVerdicts(judged.Count, judged.Count(v => v.UnderForgotten), judged.Count(v => v.OverForgotten),
                judged.Count(v => v.RetainDamage), [.. ordered.Select(r => r.Evaluation.Verdict?.Line ?? "")]),
        };
    }

    static double[] Filled(int n) => Enumerable.Repeat(double.NaN, n).ToArray();

    /// <summary>The mean of the values that are numbers; NaN when none is.</summary>
    static double MeanOrNaN(double[] values)
    {
        var present = values.Where(v => !double.IsNaN(v)).ToArray();
        return present.Length == 0 ? double.NaN : present.Average();
    }

    /// <summary>Every figure of one run: the unlearned model's, then the base and retrained models' (value, bootstrap bounds).</summary>
    static IEnumerable<(string Role, string Name, string Kind, double Value, double Low, double High)> FiguresOf(RunReport run)
    {
        foreach (var m in new[] { run.Evaluation, run.Base, run.Retrained })
        {
            if (m is null) continue;
            foreach (var name in ModelEvaluation.MetricOrder)
                if (m.Metrics.TryGetValue(name, out var v))
                    yield return (m.Role, name, "metric", v.Value, v.HasInterval ? v.Low : double.NaN, v.HasInterval ? v.High : double.NaN);
            yield return (m.Role, "test forget loss", "loss", m.Test.ForgetLoss, double.NaN, double.NaN);
            yield return (m.Role, "test retain loss", "loss", m.Test.RetainLoss, double.NaN, double.NaN);
            if (ReferenceEquals(m, run.Evaluation) && run.Retrained is not null)
                yield return (m.Role, RunComparison.AvgGapName, "gap", run.AvgGap, double.NaN, double.NaN);
            if (m.LinearProbe is { } probe)
            {
                yield return (m.Role, "probe forget", "probe", probe.ForgetAccuracy, double.NaN, double.NaN);
                yield return (m.Role, "probe retain", "probe", probe.RetainAccuracy, double.NaN, double.NaN);
            }
            // Not reached within the recipe's steps is no number of steps: left out of the mean (n says how many reached it).
            if (m.Relearn is { } relearn)
                yield return (m.Role, "relearn steps", "relearn", relearn.Steps is int steps ? steps : double.NaN, double.NaN, double.NaN);
            foreach (var pair in m.Cka ?? [])
            {
                if (pair.Model != m.Role) continue;   // each pair once, under its first model
                foreach (var split in new[] { "train-forget", "train-other", "test-forget", "test-other" })
                {
                    var row = pair.Of(split);
                    for (int layer = 0; layer < Math.Min(row.Length, pair.Layers.Count); layer++)
                        yield return (m.Role, CkaName(pair.Model, pair.Reference, split, pair.Layers[layer]), "cka", row[layer] ?? double.NaN, double.NaN, double.NaN);
                }
            }
        }
    }

    /// <summary>"CKA unlearned/base test-forget layer4.1".</summary>
    public static string CkaName(string model, string reference, string split, string layer) => $"CKA {model}/{reference} {split} {layer}";

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Method} class {ForgetClass} over seeds {string.Join(",", Seeds)}");
}
