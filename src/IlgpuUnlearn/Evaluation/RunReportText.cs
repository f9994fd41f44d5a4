using System.Globalization;
using System.Text;

namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// A <see cref="RunReport"/> as the terminal shows it (markdown tables): forget and retain accuracy (loss) on both splits
/// for every model, the named metrics with their 95% intervals for the model, base and retrained, and the gap, the
/// Avg. Gap, per-class accuracies and any collapsed class.
/// </summary>
public static class RunReportText
{
    /// <summary>Where each named metric comes from, for the table's second column.</summary>
    public static string SourceOf(string metric) => metric switch
    {
        ModelEvaluation.UA or ModelEvaluation.RA or ModelEvaluation.TUA or ModelEvaluation.TRA or ModelEvaluation.Fqs or ModelEvaluation.FqsUnrounded => "Comparator",
        ModelEvaluation.LossMia => "NeurIPS'23 kit / SCRUB",
        _ => "SalUn",
    };

    /// <summary>What each named metric is, one short phrase.</summary>
    public static string Meaning(string metric) => metric switch
    {
        ModelEvaluation.UA => "forget-class train acc (%)",
        ModelEvaluation.RA => "mean of retain-class train accs (%)",
        ModelEvaluation.TUA => "forget-class test acc (%)",
        ModelEvaluation.TRA => "mean of retain-class test accs (%)",
        ModelEvaluation.SalUnUA => "100 - forget train acc (%)",
        ModelEvaluation.SalUnRA => "retain train acc, pooled (%)",
        ModelEvaluation.SalUnTA => "retain test acc, pooled (%)",
        ModelEvaluation.MiaEfficacy => "SVC: forget images called unseen (%)",
        ModelEvaluation.LossMia => "loss attack CV accuracy (%, 50 ideal)",
        ModelEvaluation.Fqs => "privacy score vs retrained (1 ideal), rounded as the Comparator",
        ModelEvaluation.FqsUnrounded => "the same, nothing rounded",
        _ => metric,
    };

    public static string Format(RunReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var text = new StringBuilder();
        var models = new List<ModelEvaluation>();
        if (report.Base is not null) models.Add(report.Base);
        models.Add(report.Evaluation);
        if (report.Retrained is not null) models.Add(report.Retrained);

        if (report.ForgetClass is int k)
        {
            text.Append($"forget class {k} ({report.ClassNames[k]}): accuracy % (mean loss) on both splits\n\n");
            text.Append("| model | role | train forget | train retain | test forget | test retain |\n|---|---|---|---|---|---|\n");
            foreach (var m in models)
                text.Append($"| {m.Model} | {m.Role} | {AccLoss(m.Train.ForgetAccuracy, m.Train.ForgetLoss)} | {AccLoss(m.Train.RetainAccuracy, m.Train.RetainLoss)} | " +
                            $"{AccLoss(m.Test.ForgetAccuracy, m.Test.ForgetLoss)} | {AccLoss(m.Test.RetainAccuracy, m.Test.RetainLoss)} |\n");
            text.Append('\n');

            text.Append(report.BootstrapReplicates > 0
                ? $"metrics with 95% bootstrap intervals ({report.BootstrapReplicates} resamples, seed {report.Seed})\n\n"
                : "metrics, point values (--bootstrap 0: no intervals)\n\n");
            text.Append("| metric | source | meaning | " + string.Join(" | ", models.Select(m => m.Role)) + (report.Retrained is null ? "" : " | gap") + " |\n");
            text.Append("|---|---|---|" + string.Concat(models.Select(_ => "---|")) + (report.Retrained is null ? "" : "---|") + "\n");
            foreach (var name in ModelEvaluation.MetricOrder)
            {
                if (!models.Any(m => m.Metrics.ContainsKey(name))) continue;
                text.Append($"| {name} | {SourceOf(name)} | {Meaning(name)} | ");
                text.Append(string.Join(" | ", models.Select(m => m.Metrics.TryGetValue(name, out var v) ? WithInterval(v, name) : "-")));
                if (report.Retrained is not null) text.Append(" | ").Append(report.Gap.TryGetValue(name, out var g) ? Number(g, name) : "-");
                text.Append(" |\n");
            }
            text.Append('\n');
            foreach (var name in ModelEvaluation.MetricOrder)
                foreach (var m in models)
                    if (m.Metrics.TryGetValue(name, out var v) && v.NotAvailable is string why)
                        text.Append($"n/a: {name} of the {m.Role} model: {why}\n");
            if (models.Any(m => m.MiaAttackBalancedAccuracy is not null))
            {
                double threshold = models.Select(m => m.Verdict?.MiaAttackThreshold).FirstOrDefault(v => v > 0) ?? new VerdictThresholds().InformativeAttackBalancedAccuracy;
                text.Append("MIA_efficacy's SVC attack, balanced accuracy on its own members and non-members (%, 50 = chance): ");
                text.Append(string.Join(", ", models.Select(m => m.MiaAttackBalancedAccuracy is double a ? Inv($"{m.Role} {a:F1}") : $"{m.Role} -")));
                text.Append(Inv($" (MIA_efficacy is judged only where the model's and the retrained model's exceed {threshold:G})\n"));
            }
            if (report.Retrained is not null)
                text.Append(Inv($"Avg. Gap (SalUn: mean |model - retrained| over UA, RA, TA, MIA-efficacy): {(double.IsNaN(report.AvgGap) ? "n/a (a figure is not available)" : report.AvgGap.ToString("F2", CultureInfo.InvariantCulture))}\n"));
            else if (!report.Evaluation.Metrics.ContainsKey(ModelEvaluation.Fqs))
                text.Append("no retrained reference: no gap, Avg. Gap or FQS (give --retrained FILE or --retrained published)\n");

            var pairs = models.SelectMany(m => m.Cka ?? []).DistinctBy(c => (c.Model, c.Reference)).ToList();
            string below = Probes.BelowLogitsText.Format(models.Select(m => (m.Role, m.Model, m.LinearProbe, m.Relearn)).ToList(), pairs);
            if (below.Length > 0) text.Append('\n').Append(below);
            foreach (var m in models)
                if (m.Verdict is { } verdict)
                    text.Append(report.Retrained is null
                        ? $"verdict, {m.Role} model: {verdict.Line}\n"
                        : Inv($"verdict, {m.Role} model (against the retrained model; far: {verdict.AccuracyThreshold:G} points, forget loss {verdict.LossThreshold:G}x): {verdict.Line}\n"));
        }

        else
        {
            // No forget class: every image counts alike; accuracy and mean loss over each split, then per class below.
            text.Append("accuracy % (mean loss) on both splits\n\n| model | role | train | test |\n|---|---|---|---|\n");
            foreach (var m in models)
                text.Append($"| {m.Model} | {m.Role} | {AccLoss(m.Train.Accuracy, m.Train.Loss)} | {AccLoss(m.Test.Accuracy, m.Test.Loss)} |\n");
        }

        text.Append('\n');
        if (report.ForgetClass is null)
            foreach (var (split, metrics) in new[] { ("train", report.Evaluation.Train), ("test", report.Evaluation.Test) })
                text.Append($"per-class {split} loss: ").Append(string.Join("  ", report.ClassNames.Select((name, i) => $"{name} {ModelCardTable.Loss(metrics.PerClassLoss[i])}"))).Append('\n');
        foreach (var (split, metrics) in new[] { ("train", report.Evaluation.Train), ("test", report.Evaluation.Test) })
            text.Append($"per-class {split} accuracy (%): ").Append(string.Join("  ", report.ClassNames.Select((name, i) => $"{name} {ModelCardTable.Accuracy(metrics.PerClassAccuracy[i])}"))).Append('\n');

        if (report.Base is not null)
        {
            if (report.CollapsedClasses.Length == 0)
                text.Append(Inv($"collapse guard: no retain class fell more than {report.CollapseThreshold:G} points below the base model's test accuracy\n"));
            foreach (var c in report.CollapsedClasses)
                text.Append(Inv($"WARNING: collapse: {c.Name} test accuracy {c.Accuracy:F2}% is {c.Drop:F2} points below the base model's {c.BaseAccuracy:F2}% (threshold {report.CollapseThreshold:G})\n"));
        }
        return text.ToString();
    }

    /// <summary>"93.40 (0.213)".</summary>
    public static string AccLoss(double accuracy, double loss) => $"{ModelCardTable.Accuracy(accuracy)} ({ModelCardTable.Loss(loss)})";

    /// <summary>"12.34 [11.02, 13.80]"; FQS with three decimals.</summary>
    public static string WithInterval(MetricValue v, string metric) =>
        !v.IsAvailable ? "n/a" : v.HasInterval ? $"{Number(v.Value, metric)} [{Number(v.Low, metric)}, {Number(v.High, metric)}]" : Number(v.Value, metric);

    public static string Number(double value, string metric) =>
        double.IsNaN(value) ? "n/a" : value.ToString(metric == ModelEvaluation.Fqs ? "F3" : metric == ModelEvaluation.FqsUnrounded ? "F4" : "F2", CultureInfo.InvariantCulture);

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
