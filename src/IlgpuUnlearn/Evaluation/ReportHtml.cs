using System.Globalization;
using System.Net;
using System.Text;
using IlgpuUnlearn.Evaluation.Privacy;

namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// The runs of a <see cref="RunComparison"/> as one self-contained HTML page: inline CSS, inline SVG pictures, no script, no
/// reference to any other file or address (it opens offline and can be mailed as one file). Sections, each an element with
/// its id: summary, method-table (every figure per method with its distance to the retrained model's, and the bar chart of
/// the means), verdicts, per-class-accuracy (test accuracy per class, every model of a forget class side by side),
/// confusion-matrices (the card's test-set matrix per run), attack-scores (the SVC and loss attacks' features for members,
/// non-members and forget images, <see cref="AttackScoreHistograms"/>), probe-relearn (the linear probe per model, the
/// relearn curves), cka (linear CKA per stage to the base and the retrained model), training-curves (from the training logs
/// given). A section whose figures the reports do not carry says so in one line rather than being left out.
/// </summary>
public static class ReportHtml
{
    /// <summary>Method colours (Tableau 10 without its grey and green, which are the base's and the retrained model's).</summary>
    static readonly string[] MethodColours = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#17becf", "#bcbd22"];
    const string BaseColour = "#9e9e9e", RetrainedColour = "#2e7d32";
    const string MembersColour = "#4e79a7", NonMembersColour = "#59a14f", ForgetColour = "#e15759";

    /// <summary>Percent figures: their distance to the retrained model is marked far past the verdict's threshold.</summary>
    static readonly HashSet<string> PercentFigures =
    [
        ModelEvaluation.UA, ModelEvaluation.RA, ModelEvaluation.TUA, ModelEvaluation.TRA, ModelEvaluation.SalUnUA, ModelEvaluation.SalUnRA,
        ModelEvaluation.SalUnTA, ModelEvaluation.MiaEfficacy, ModelEvaluation.LossMia, MethodTable.ProbeForget, MethodTable.ProbeRetain,
    ];

    /// <summary>
    /// The page. <paramref name="table"/>: the method table to show (<see cref="RunComparison.Table"/>, with intervals where
    /// the caller has them, e.g. over seeds); <paramref name="trainingCurves"/>: (caption, SVG picture) per training log;
    /// <paramref name="warnings"/>: lines shown at the top (e.g. <see cref="RunComparison.MixedGroups"/>).
    /// </summary>
    public static string Render(RunComparison comparison, MethodTable table, IReadOnlyList<(string Caption, string Svg)> trainingCurves, IReadOnlyList<string> warnings)
    {
        ArgumentNullException.ThrowIfNull(comparison);
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(trainingCurves);
        ArgumentNullException.ThrowIfNull(warnings);
        var classes = ClassModels(comparison.Runs, table);
        var page = new StringBuilder();
        string title = comparison.Title();
        page.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        page.Append($"<title>{Esc(title)}</title>\n<style>\n{Css}</style>\n</head>\n<body>\n");

        Section(page, "summary", title, () =>
        {
            var runs = comparison.Runs;
            page.Append($"<p>{runs.Count} run{Plural(runs.Count)} of {Esc(string.Join(", ", runs.Select(r => r.Method).Distinct()))}; ");
            page.Append(string.Join("; ", runs.Select(r => (r.Evaluation.Train.Images, r.Evaluation.Test.Images)).Distinct()
                .Select(c => Inv($"{c.Item1:N0} training + {c.Item2:N0} test images"))));
            page.Append("; ").Append(Esc(RunSettings(runs))).Append(".</p>\n");
            page.Append("<p class=\"note\">Every figure's target is the retrained model's value (a model that never saw the forget class), not 0 or 100: "
                + "the tables give each figure's distance to it.</p>\n");
            foreach (var line in warnings) page.Append($"<p class=\"warning\">WARNING: {Esc(line)}</p>\n");
        });

        Section(page, "method-table", "Methods x metrics", () => MethodTableHtml(page, table, comparison));
        Section(page, "verdicts", "Verdicts against the retrained model", () => Verdicts(page, comparison.Runs));
        Section(page, "per-class-accuracy", "Per-class test accuracy", () => PerClass(page, classes, comparison.Runs[0].ClassNames));
        Section(page, "confusion-matrices", "Confusion matrices (test set)", () => Confusion(page, comparison.Runs));
        Section(page, "attack-scores", "Membership attacks' score distributions", () => AttackScores(page, classes));
        Section(page, "probe-relearn", "Linear probe and relearn time", () => ProbeRelearn(page, classes));
        Section(page, "cka", "Layer similarity (linear CKA per stage)", () => Cka(page, comparison.Runs));
        Section(page, "training-curves", "Training curves", () =>
        {
            if (trainingCurves.Count == 0)
            {
                page.Append("<p class=\"absent\">No training log was given: pass the .log.jsonl files that <code>train</code> writes to <code>report</code> to draw them here.</p>\n");
                return;
            }
            page.Append("<div class=\"grid\">\n");
            foreach (var (caption, svg) in trainingCurves) page.Append($"<figure class=\"half\">{StripDeclaration(svg)}<figcaption>{Esc(caption)}</figcaption></figure>\n");
            page.Append("</div>\n");
        });
        page.Append("<footer>Made by ilgpu-unlearn report; every picture is inline SVG, the page loads nothing else.</footer>\n</body>\n</html>\n");
        return page.ToString();
    }

    /// <summary>
    /// The evaluation settings of the runs in words: "bootstrap 1000 resamples, SVC attack split test, seeds 0,1,2" when every
    /// run shares the bootstrap and attack split; otherwise per method ("settings differ by method: GA: bootstrap 1000 resamples,
    /// SVC attack split test, seeds 0,1,2; RL: bootstrap 200 ...; "), so that no run's settings are shown as every run's.
    /// </summary>
    public static string RunSettings(IReadOnlyList<RunReport> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        static string Of(IEnumerable<RunReport> rs)
        {
            var list = rs.ToList();
            var settings = list.Select(r => (r.BootstrapReplicates, r.MiaSplit)).Distinct().Select(x => Inv($"bootstrap {x.BootstrapReplicates} resamples, SVC attack split {x.MiaSplit}"));
            var seeds = list.Select(r => r.Seed).Distinct().Order().ToList();
            return string.Join(" / ", settings) + (seeds.Count == 1 ? Inv($", seed {seeds[0]}") : ", seeds " + string.Join(",", seeds));
        }
        bool shared = runs.Select(r => (r.BootstrapReplicates, r.MiaSplit)).Distinct().Count() == 1;
        var methods = runs.GroupBy(r => r.Method).ToList();
        if (shared && (methods.Count == 1 || runs.Select(r => r.Seed).Distinct().Count() == 1)) return Of(runs);
        return (shared ? "" : "settings differ by method: ") + string.Join("; ", methods.Select(g => g.Key + ": " + Of(g)));
    }

    /// <summary>A forget class's models: the base, each run's judged model, the retrained model (each once, by file name), with a label and colour.</summary>
    sealed record ClassModel(string Label, string Colour, ModelEvaluation Evaluation);

    static List<(int ForgetClass, List<ClassModel> Models)> ClassModels(IReadOnlyList<RunReport> runs, MethodTable table)
    {
        var methods = table.Rows.Select(r => r.Method).Where(m => m is not ("base" or "retrained")).ToList();
        var list = new List<(int, List<ClassModel>)>();
        foreach (var group in runs.GroupBy(r => r.ForgetClass!.Value).OrderBy(g => g.Key))
        {
            var models = new List<ClassModel>();
            foreach (var b in group.Where(r => r.Base is not null).DistinctBy(r => r.Base!.Model))
                models.Add(new ClassModel(RoleLabel(group, b, "base", r => r.Base), BaseColour, b.Base!));
            foreach (var r in group)
            {
                // Several runs of one method (its seeds, say): one hue per method, each run its own shade of it (lighter
                // towards the last), labelled by its seed where the seeds differ, else by its file.
                var same = group.Where(o => o.Method == r.Method).ToList();
                string colour = MethodColours[Math.Max(0, methods.IndexOf(r.Method)) % MethodColours.Length];
                if (same.Count == 1) { models.Add(new ClassModel(r.Method, colour, r.Evaluation)); continue; }
                int index = same.IndexOf(r);
                bool bySeed = same.Select(o => o.Seed).Distinct().Count() == same.Count;
                models.Add(new ClassModel(bySeed ? Inv($"{r.Method} seed {r.Seed}") : $"{r.Method} ({r.ModelName})", Shade(colour, 0.6 * index / (same.Count - 1)), r.Evaluation));
            }
            foreach (var t in group.Where(r => r.Retrained is not null).DistinctBy(r => r.Retrained!.Model))
                models.Add(new ClassModel(RoleLabel(group, t, "retrained", r => r.Retrained), RetrainedColour, t.Retrained!));
            list.Add((group.Key, models));
        }
        return list;
    }

    /// <summary>"#rrggbb" mixed with white by <paramref name="towardsWhite"/> (0: the colour, 1: white).</summary>
    static string Shade(string colour, double towardsWhite)
    {
        int Part(int at) => Convert.ToInt32(colour.Substring(at, 2), 16);
        int Mix(int c) => (int)Math.Round(c + (255 - c) * towardsWhite);
        return Inv($"#{Mix(Part(1)):x2}{Mix(Part(3)):x2}{Mix(Part(5)):x2}");
    }

    /// <summary>"base", or "base (file.pth)" where one class has several base (or retrained) models.</summary>
    static string RoleLabel(IEnumerable<RunReport> group, RunReport run, string role, Func<RunReport, ModelEvaluation?> model) =>
        group.Select(model).Where(m => m is not null).Select(m => m!.Model).Distinct().Count() > 1 ? $"{role} ({model(run)!.Model})" : role;

    static void MethodTableHtml(StringBuilder page, MethodTable table, RunComparison comparison)
    {
        page.Append("<div class=\"scroll\"><table class=\"methods\">\n<thead><tr><th>method</th><th>runs</th>");
        // Headers may break after an underscore (SalUn_<wbr>UA), so that the table fits a page's width.
        foreach (var f in table.Figures) page.Append($"<th title=\"{Esc(MethodTable.Meaning(f))}\">{Esc(f).Replace("_", "_<wbr>", StringComparison.Ordinal)}</th>");
        page.Append("</tr></thead>\n<tbody>\n");
        double far = new VerdictThresholds().AccuracyPoints;
        foreach (var row in table.Rows)
        {
            string kind = row.Method is "retrained" ? " class=\"reference\"" : row.Method is "base" ? " class=\"base\"" : "";
            page.Append($"<tr{kind}><th>{Esc(row.Method)}</th><td>{row.Runs}</td>");
            foreach (var f in table.Figures)
            {
                var v = row[f];
                double d = table.Distance(row, f);
                bool isFar = PercentFigures.Contains(f) && Math.Abs(d) > far;
                page.Append(isFar ? "<td class=\"far\">" : "<td>");
                page.Append($"<span class=\"v\">{Esc((v.AtLeast ? "≥ " : "") + MethodTable.Number(v.Value, f))}</span>");
                if (v.HasInterval) page.Append($"<span class=\"ci\">[{MethodTable.Number(v.Low, f)}, {MethodTable.Number(v.High, f)}]</span>");
                if (v.IsZeroWidth) page.Append($"<span class=\"ci zero\" title=\"every seed gave the same value: nothing varied, the figure is not certain\">{MethodFigure.ZeroWidthMark}</span>");
                if (!double.IsNaN(d)) page.Append($"<span class=\"d\">{(d >= 0 ? "+" : "−")}{MethodTable.Number(Math.Abs(d), f)}</span>");
                page.Append("</td>");
            }
            page.Append("</tr>\n");
        }
        page.Append("</tbody></table></div>\n");
        page.Append("<p class=\"note\">Each cell: the mean over the method's runs");
        if (table.IntervalName is not null) page.Append($", in brackets the {Esc(table.IntervalName)}");
        page.Append(table.Retrained is null
            ? "; no retrained model in these reports, so no distances (every figure's target is the retrained model's)."
            : Inv($"; below it the distance to the retrained model's mean (value − retrained), red where a percentage is more than {far:G} points away (the verdict's threshold)."));
        if (table.Figures.Intersect(MethodTable.BelowLogitsFigures).Any())
            page.Append(Inv($" {MethodTable.CkaBase} / {MethodTable.CkaRetrained}: linear CKA at {MethodTable.CkaStage} on the {MethodTable.CkaSplit} images; ≥: some run did not relearn within its step limit."));
        page.Append(" Hover a header for its meaning.</p>\n");
        Figure(page, comparison.ShownMetrics().Contains(ModelEvaluation.Fqs) ? "The methods' means (%, FQS x100)" : "The methods' means (%)", comparison.Svg(), wide: true);
    }

    static void Verdicts(StringBuilder page, IReadOnlyList<RunReport> runs)
    {
        var items = new StringBuilder();
        // Per forget class: its base model's verdict once (by file name), then each run's.
        var judged = runs.GroupBy(r => r.ForgetClass).OrderBy(g => g.Key).SelectMany(g =>
            g.Where(r => r.Base is not null).DistinctBy(r => r.Base!.Model).Select(r => (r, r.Base!, $"base ({r.Base!.Model})"))
             .Concat(g.Select(r => (r, r.Evaluation, g.Count(o => o.Method == r.Method) > 1 ? Inv($"{r.Method} seed {r.Seed} ({r.ModelName})") : $"{r.Method} ({r.ModelName})"))));
        foreach (var (r, m, label) in judged)
        {
            if (m.Verdict is not { } v) continue;
            var tags = new List<string>();
            if (v.UnderForgotten) tags.Add("<span class=\"tag under\">under-forgotten</span>");
            if (v.OverForgotten) tags.Add("<span class=\"tag over\">over-forgotten</span>");
            if (v.RetainDamage) tags.Add("<span class=\"tag damage\">retain damage</span>");
            bool notJudged = tags.Count == 0 && r.Retrained is null;
            // "not judged" said once: the verdict's line says it where there is no retrained model, so the tag names the cause
            // and the note lists what was left out without repeating the words.
            if (tags.Count == 0) tags.Add(notJudged ? "<span class=\"tag none\">no retrained model</span>" : "<span class=\"tag ok\">close to retraining</span>");
            items.Append(Inv($"<li><b>{Esc(label)}</b>, forget class {r.ForgetClass} ({Esc(r.ClassNames[r.ForgetClass!.Value])}): {string.Join(" ", tags)}<br>{Esc(v.Line)}"));
            if (v.NotJudged.Length > 0)
                items.Append($"<br><span class=\"note\">{(v.Line.Contains("not judged", StringComparison.Ordinal) ? "left out" : "not judged")}: {Esc(string.Join("; ", v.NotJudged))}</span>");
            items.Append("</li>\n");
        }
        if (items.Length > 0) page.Append("<ul class=\"verdicts\">\n").Append(items).Append("</ul>\n");
        var thresholds = runs.Select(r => r.Evaluation.Verdict).FirstOrDefault(v => v is not null);
        if (thresholds is null) page.Append("<p class=\"absent\">No verdict in these reports (they were made without a forget class or before verdicts were written).</p>\n");
        else page.Append(Inv($"<p class=\"note\">Far: a percentage more than {thresholds.AccuracyThreshold:G} points from the retrained model's, the forget-class test loss more than {thresholds.LossThreshold:G}x the retrained model's; MIA_efficacy judged only where the model's and the retrained model's SVC attacks separate their fitting data with a balanced accuracy above {(thresholds.MiaAttackThreshold > 0 ? thresholds.MiaAttackThreshold : new VerdictThresholds().InformativeAttackBalancedAccuracy):G}% (see README).</p>\n"));
    }

    static void PerClass(StringBuilder page, List<(int ForgetClass, List<ClassModel> Models)> classes, string[] names)
    {
        page.Append("<div class=\"grid\">\n");
        foreach (var (k, models) in classes)
        {
            var series = models.Select(m => new ChartSeries(m.Label, m.Colour, m.Evaluation.Test.PerClassAccuracy)).ToList();
            Figure(page, $"Forget class {k} ({names[k]}): each model's test accuracy per class; the forget class in red",
                ReportCharts.GroupedBars($"Test accuracy per class, forget class {k} ({names[k]})", names, series, 100, "accuracy (%)", highlight: k), wide: true);
        }
        page.Append("</div>\n");
    }

    static void Confusion(StringBuilder page, IReadOnlyList<RunReport> runs)
    {
        var withCard = runs.Where(r => r.Card is not null).ToList();
        if (withCard.Count == 0)
        {
            page.Append("<p class=\"absent\">None of these reports carries the card's test-set confusion matrix.</p>\n");
            return;
        }
        page.Append("<div class=\"grid\">\n");
        foreach (var r in withCard)
            Figure(page, $"{r.Method}: {r.ModelName}", ConfusionMatrixSvg.Render(r.Card!, $"{r.Method}, forget class: {r.Card!.ForgetClassName}"));
        page.Append("</div>\n");
    }

    static void AttackScores(StringBuilder page, List<(int ForgetClass, List<ClassModel> Models)> classes)
    {
        if (!classes.Any(c => c.Models.Any(m => m.Evaluation.AttackScores is not null)))
        {
            page.Append("<p class=\"absent\">These reports carry no attack score distributions (reports written before they were added).</p>\n");
            return;
        }
        page.Append("<p class=\"note\">Members: retain-class training images; non-members: test images (as the SVC attack chooses them); forget: forget-class training images. "
            + "Each set as a share of its own images per bin. A forgotten class's images should look like the non-members, as they do for the retrained model (its forget images dashed).</p>\n<div class=\"units\">\n");
        foreach (var (k, models) in classes)
        {
            var retrained = models.FirstOrDefault(m => m.Label.StartsWith("retrained", StringComparison.Ordinal))?.Evaluation.AttackScores;
            foreach (var m in models)
            {
                if (m.Evaluation.AttackScores is not { } scores) continue;
                // A model's two charts are one unit of the grid: side by side, never split across rows.
                page.Append("<div class=\"unit\">\n");
                foreach (var (histogram, reference, feature, attack) in new[]
                {
                    (scores.Probability, retrained?.Probability, "true-class probability", "SVC attack's feature"),
                    (scores.Loss, retrained?.Loss, "loss (nats)", "loss attack's feature"),
                })
                {
                    var series = new List<(string, string, int[], bool)>
                    {
                        ("members", MembersColour, histogram.Members, false),
                        ("non-members", NonMembersColour, histogram.NonMembers, false),
                        ("forget", ForgetColour, histogram.Forget, false),
                    };
                    if (reference is not null && !ReferenceEquals(reference, histogram)) series.Add(("retrained model's forget", RetrainedColour, reference.Forget, true));
                    Figure(page, $"{m.Label}, forget class {k}: {attack}",
                        ReportCharts.Histogram($"{m.Label}: {feature}", histogram.Edges, series, feature));
                }
                page.Append("</div>\n");
            }
        }
        page.Append("</div>\n");
    }

    static void ProbeRelearn(StringBuilder page, List<(int ForgetClass, List<ClassModel> Models)> classes)
    {
        var all = classes.SelectMany(c => c.Models.Select(m => (c.ForgetClass, m))).ToList();
        if (!all.Any(x => x.m.Evaluation.LinearProbe is not null || x.m.Evaluation.Relearn is not null))
        {
            page.Append("<p class=\"absent\">These reports carry no linear probe or relearn time (made with --below-logits none, or before these figures were added).</p>\n");
            return;
        }
        page.Append("<div class=\"scroll\"><table>\n<thead><tr><th>forget class</th><th>model</th><th>file</th><th>probe forget acc (%)</th><th>probe retain acc (%)</th><th>probe fit</th><th>relearn steps</th><th>relearn target (%)</th><th>relearn images</th></tr></thead>\n<tbody>\n");
        foreach (var (k, m) in all)
        {
            var p = m.Evaluation.LinearProbe;
            var r = m.Evaluation.Relearn;
            string steps = r is null ? "-" : r.Steps is int s ? s.ToString(CultureInfo.InvariantCulture) : Inv($"> {r.MaxSteps} (not reached)");
            page.Append(Inv($"<tr><td>{k}</td><th>{Esc(m.Label)}</th><td>{Esc(m.Evaluation.Model)}</td><td>{Num(p?.ForgetAccuracy)}</td><td>{Num(p?.RetainAccuracy)}</td>"));
            page.Append(Inv($"<td>{(p is null ? "-" : $"{p.Iterations} L-BFGS iterations{(p.Converged ? "" : ", not converged")}")}</td><td>{steps}</td><td>{Num(r?.TargetAccuracy)}</td><td>{(r is null ? "-" : Inv($"{r.Images} (evaluated on {r.EvaluationImages})"))}</td></tr>\n"));
        }
        page.Append("</tbody></table></div>\n");
        page.Append("<p class=\"note\">Probe: multinomial logistic regression (L2, C = 1, standardised features) on the frozen penultimate features, fitted on the training split, scored on the test split: "
            + "a forget accuracy far above the retrained model's means the class is still there below the logits. Relearn: SGD steps on a few forget-class training images until the forget-class test accuracy reaches the target; fewer steps than the retrained model's mean the class was hidden, not removed.</p>\n<div class=\"grid\">\n");
        foreach (var (k, models) in classes)
        {
            var withRelearn = models.Where(m => m.Evaluation.Relearn is not null).ToList();
            if (withRelearn.Count == 0) continue;
            int steps = withRelearn.Max(m => m.Evaluation.Relearn!.AccuracyByStep.Length);
            var series = withRelearn.Select(m => new ChartSeries(m.Label, m.Colour, Pad(m.Evaluation.Relearn!.AccuracyByStep, steps))).ToList();
            double target = withRelearn[0].Evaluation.Relearn!.TargetAccuracy;
            series.Add(new ChartSeries(Inv($"target {target:F1}%"), "#555555", Enumerable.Repeat(target, steps).ToArray(), Dashed: true));
            Figure(page, $"Forget class {k}: forget-class test accuracy while relearning",
                ReportCharts.Lines($"Relearning forget class {k}", Enumerable.Range(0, steps).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToList(), series,
                    0, 100, "forget acc (%)", "SGD step", "F1"), wide: true);
        }
        page.Append("</div>\n");
    }

    static void Cka(StringBuilder page, IReadOnlyList<RunReport> runs)
    {
        var withCka = runs.Where(r => r.Evaluation.Cka is { Length: > 0 }).ToList();
        if (withCka.Count == 0)
        {
            page.Append("<p class=\"absent\">These reports carry no CKA (made with --below-logits none or without cka, or before it was added).</p>\n");
            return;
        }
        page.Append("<p class=\"note\">Linear CKA of each stage's output (1: the same representation up to rotation and scale), on the Comparator's splits. "
            + "A model that forgot the class as retraining does is as far from the base model on the forget images as the retrained model is (dotted grey).</p>\n<div class=\"grid\">\n");
        // The seeds of one method, class and setting are one chart pair: each curve the mean over the seeds (stage by stage).
        foreach (var group in withCka.GroupBy(Seeds.SeedGroups.KeyOf))
        {
            var runsOfGroup = group.ToList();
            var r = runsOfGroup[0];
            string role = r.Evaluation.Role;
            Probes.LayerCka? Pair(string a, string b, IEnumerable<Probes.LayerCka>? pairs) =>
                pairs?.FirstOrDefault(c => (c.Model == a && c.Reference == b) || (c.Model == b && c.Reference == a));
            var toBase = runsOfGroup.Select(x => Pair(role, "base", x.Evaluation.Cka)).ToList();
            var toRetrained = runsOfGroup.Select(x => Pair(role, "retrained", x.Evaluation.Cka)).ToList();
            var reference = runsOfGroup.Select(x => Pair("retrained", "base", (x.Base?.Cka ?? []).Concat(x.Retrained?.Cka ?? []))).ToList();
            var layers = (toBase[0] ?? toRetrained[0] ?? r.Evaluation.Cka![0]).Layers.ToList();
            var seeds = runsOfGroup.Select(x => x.Seed).Distinct().Order().ToList();
            string who = runsOfGroup.Count == 1 ? $"{r.Method} ({r.ModelName})" : $"{r.Method}, mean over {runsOfGroup.Count} seeds ({string.Join(",", seeds)})";
            foreach (var split in new[] { "train", "test" })
            {
                var series = new List<ChartSeries>();
                void Add(List<Probes.LayerCka?> pairs, string name, string part, string colour, bool dashed)
                {
                    var rows = pairs.Where(p => p is not null).Select(p => p!.Of($"{split}-{part}")).ToList();
                    if (rows.Count == 0) return;
                    // Stage by stage, the mean of the seeds that have a value there (NaN where none has).
                    var mean = Enumerable.Range(0, rows.Max(x => x.Length)).Select(i =>
                    {
                        var present = rows.Where(x => i < x.Length && x[i] is not null).Select(x => x[i]!.Value).ToList();
                        return present.Count == 0 ? double.NaN : present.Average();
                    }).ToArray();
                    series.Add(new ChartSeries(name, colour, mean, dashed));
                }
                Add(toBase, "to base, forget images", "forget", "#4e79a7", false);
                Add(toBase, "to base, other classes", "other", "#4e79a7", true);
                Add(toRetrained, "to retrained, forget images", "forget", RetrainedColour, false);
                Add(toRetrained, "to retrained, other classes", "other", RetrainedColour, true);
                Add(reference, "retrained to base, forget images", "forget", "#777777", true);
                Figure(page, $"{who}, {split} split",
                    ReportCharts.Lines($"{r.Method}: CKA per stage, {split} split", layers, series, 0, 1, "linear CKA"));
            }
        }
        page.Append("</div>\n");
    }

    static double[] Pad(double[] values, int length) => [.. values, .. Enumerable.Repeat(double.NaN, length - values.Length)];

    static void Section(StringBuilder page, string id, string heading, Action body)
    {
        page.Append($"<section id=\"{id}\">\n<h{(id == "summary" ? 1 : 2)}>{Esc(heading)}</h{(id == "summary" ? 1 : 2)}>\n");
        body();
        page.Append("</section>\n");
    }

    static void Figure(StringBuilder page, string caption, string svg, bool wide = false) =>
        page.Append($"<figure{(wide ? " class=\"wide\"" : "")}>{StripDeclaration(svg)}<figcaption>{Esc(caption)}</figcaption></figure>\n");

    /// <summary>An SVG document without its XML declaration, to sit inside HTML.</summary>
    static string StripDeclaration(string svg) => svg.StartsWith("<?xml", StringComparison.Ordinal) ? svg[(svg.IndexOf("?>", StringComparison.Ordinal) + 2)..].TrimStart() : svg;

    static string Num(double? v) => v is double d && !double.IsNaN(d) ? d.ToString("F2", CultureInfo.InvariantCulture) : "-";

    static string Plural(int n) => n == 1 ? "" : "s";

    static string Esc(string? s) => WebUtility.HtmlEncode(s ?? "");

    static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    const string Css = """
        body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1280px; padding: 0 16px; color: #222; }
        h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 32px; }
        table { border-collapse: collapse; font-size: 12px; } th, td { border: 1px solid #ddd; padding: 3px 5px; text-align: right; vertical-align: top; }
        table.methods { font-size: 11.5px; } table.methods th, table.methods td { padding: 2px 4px; }
        thead th { background: #f4f4f4; text-align: center; } tbody th { text-align: left; white-space: nowrap; }
        tr.reference { background: #eef7ee; } tr.base { background: #f6f6f6; }
        td span { display: block; } .v { font-weight: 600; } .ci { color: #555; font-size: 10px; } .d { color: #666; font-size: 10px; }
        td.far .d { color: #c0392b; font-weight: bold; }
        .scroll { overflow-x: auto; }
        .note { color: #555; font-size: 12px; } .absent { color: #777; font-style: italic; } .warning { color: #b35900; font-weight: bold; }
        .ci.zero { color: #b00020; font-weight: bold; }
        .units { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 12px; }
        .unit { display: flex; gap: 8px; border: 1px solid #e5e5e5; padding: 6px; } .unit figure { flex: 1 1 0; min-width: 0; max-width: none; border: none; padding: 0; }
        .grid { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
        figure { margin: 0; border: 1px solid #e5e5e5; padding: 6px; background: white; max-width: 420px; }
        figure.wide { max-width: 100%; } figure.half { max-width: calc(50% - 20px); }
        figure svg { max-width: 100%; height: auto; display: block; }
        figcaption { font-size: 11px; color: #555; margin-top: 4px; }
        ul.verdicts { font-size: 13px; padding-left: 18px; } ul.verdicts li { margin-bottom: 8px; }
        .tag { display: inline-block; border-radius: 3px; padding: 0 5px; font-size: 11px; color: white; }
        .tag.under { background: #c0392b; } .tag.over { background: #8e44ad; } .tag.damage { background: #d35400; } .tag.ok { background: #2e7d32; } .tag.none { background: #777; }
        footer { margin-top: 32px; font-size: 11px; color: #888; }

        """;
}
