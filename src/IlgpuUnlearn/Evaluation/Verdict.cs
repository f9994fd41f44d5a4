using System.Globalization;
using System.Text.Json.Serialization;
using IlgpuUnlearn.Evaluation.Probes;

namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// When a distance to the retrained model counts as far. The target of every figure is the retrained model's value, not 0
/// or 100 (the field's answer to users asking what value a metric should have: OPTML-Group/Unlearn-Saliency issues 7 and 10,
/// locuslab/open-unlearning 111 and 167, unlearning-challenge/starting-kit 9).
/// </summary>
public sealed record VerdictThresholds
{
    /// <summary>
    /// Accuracy points (also MIA-efficacy and the probe's accuracies, all percentages). 5: above the sampling noise of one
    /// class's test images (a CIFAR-10 or Fashion-MNIST test class holds 1,000 images, whose accuracy near 50% has a 95%
    /// binomial half-width of 1.96 sqrt(0.25 / 1000) = 3.1 points) and half the collapse guard's 10 points
    /// (<see cref="RunReport.DefaultCollapseThreshold"/>).
    /// </summary>
    public double AccuracyPoints { get; init; } = 5;

    /// <summary>
    /// Forget-class test loss over the retrained model's. 2: the AdvNegGrad card's forget-class loss (26-33) is 5-7 times
    /// what CF-k reaches on the same base model (4.5-5.2; Yurim0507's model cards), while a model that never saw the class
    /// (retraining) lies near the latter; twice the retrained model's loss is pushed well past it.
    /// </summary>
    public double LossRatio { get; init; } = 2;

    /// <summary>
    /// The balanced accuracy (%) on its own fitting data that the SVC attack (MIA_efficacy) must exceed, for the model and for
    /// the retrained model, before MIA_efficacy is judged. Below it the attack cannot tell the model's training images from
    /// unseen ones, its decision regions are arbitrary, and so is the share of forget images it calls unseen (a model that
    /// barely overfits gets anything from 0 to 100%). 55: (1) above sampling noise at the sizes used: the balanced accuracy
    /// of an attack that guesses, over n members and n non-members, has a standard deviation of sqrt(0.125 / n), a 95%
    /// half-width of 0.7 points at SalUn's 9,000 + 9,000 (full CIFAR-10 / Fashion-MNIST) and 1.6 at 1,800 + 1,800
    /// (--limit 2000), though 5.2 at 180 + 180, where 5 points no longer cover it; (2) above the SVC's own optimism, since
    /// it is scored on the points it was fitted on: on samples drawn from one distribution for both sides, scikit-learn's
    /// SVC(C=3, gamma="auto") scored at most 50.6% at 9,000 + 9,000, 51.6% at 1,800 + 1,800 and 54.8% at 200 + 200
    /// (bench/svc_attack_null.py); (3) 55% is a membership advantage TPR - FPR of 0.10 (Yeom et al., "Privacy risk in
    /// machine learning: analyzing the connection to overfitting", CSF 2018: advantage = 2 x balanced accuracy - 1), where the
    /// unlearning benchmarks read an attack accuracy near 50% as no membership signal (the NeurIPS 2023 starting kit's loss
    /// attack, whose ideal is 50%). No published threshold exists for this; 55 is ours.
    /// </summary>
    public double InformativeAttackBalancedAccuracy { get; init; } = 55;
}

/// <summary>One figure of a model beside the retrained model's: the distance and its direction.</summary>
/// <param name="Distance">value - retrained (points, or nats for the loss).</param>
/// <param name="Direction">"above", "below" or "at" the retrained model's value.</param>
/// <param name="Reading">"under-forgotten", "over-forgotten", "retain damage" when far in that figure's telling direction, else "".</param>
public sealed record JudgedFigure(
    [property: JsonPropertyName("figure")] string Figure,
    [property: JsonPropertyName("value")] double Value,
    [property: JsonPropertyName("retrained")] double Retrained,
    [property: JsonPropertyName("distance")] double Distance,
    [property: JsonPropertyName("direction")] string Direction,
    [property: JsonPropertyName("far")] bool Far,
    [property: JsonPropertyName("reading")] string Reading);

/// <summary>
/// A model judged against the retrained model in both directions: every figure's distance to the retrained model's value,
/// and a one-line verdict naming what stands out.
/// <list type="bullet">
/// <item>Under-forgotten: the forget class's accuracy (UA, TUA), or the linear probe's forget accuracy, more than
/// <see cref="VerdictThresholds.AccuracyPoints"/> above the retrained model's; or MIA-efficacy that many points below it
/// (more forget images look like training members). MIA-efficacy is judged (in either direction) only where both this
/// model's and the retrained model's attacks separate their own members from non-members
/// (<see cref="VerdictThresholds.InformativeAttackBalancedAccuracy"/>); otherwise it is in <see cref="NotJudged"/>.</item>
/// <item>Over-forgotten: the forget-class test loss more than <see cref="VerdictThresholds.LossRatio"/> times the retrained
/// model's; or MIA-efficacy far above it.</item>
/// <item>Retain damage: a retain figure (RA, TRA, SalUn_RA, SalUn_TA, the probe's retain accuracy) more than
/// <see cref="VerdictThresholds.AccuracyPoints"/> below the retrained model's, or a retain class collapsed against the base
/// model (<see cref="RunReport.CollapsedClasses"/>).</item>
/// </list>
/// Without a retrained model only the collapse guard can be judged; <see cref="NotJudged"/> says so.
/// </summary>
public sealed record Verdict
{
    [JsonPropertyName("line")] public string Line { get; init; } = "";
    [JsonPropertyName("under_forgotten")] public bool UnderForgotten { get; init; }
    [JsonPropertyName("over_forgotten")] public bool OverForgotten { get; init; }
    [JsonPropertyName("retain_damage")] public bool RetainDamage { get; init; }
    [JsonPropertyName("figures")] public JudgedFigure[] Figures { get; init; } = [];
    /// <summary>What could not be judged and why (empty when everything was).</summary>
    [JsonPropertyName("not_judged")] public string[] NotJudged { get; init; } = [];
    [JsonPropertyName("accuracy_threshold_points")] public double AccuracyThreshold { get; init; }
    [JsonPropertyName("loss_threshold_ratio")] public double LossThreshold { get; init; }
    /// <summary>The SVC attack's balanced accuracy (%) on its fitting data above which MIA_efficacy is judged (<see cref="VerdictThresholds.InformativeAttackBalancedAccuracy"/>).</summary>
    [JsonPropertyName("mia_attack_threshold_percent")] public double MiaAttackThreshold { get; init; }

    /// <summary>Judges <paramref name="model"/> (with its probe, where computed) against the retrained model's figures.</summary>
    public static Verdict Judge(ModelEvaluation model, ModelEvaluation? retrained, LinearProbe? probe, LinearProbe? retrainedProbe,
        IReadOnlyList<CollapsedClass> collapsed, VerdictThresholds? thresholds = null, RelearnTime? relearn = null, RelearnTime? retrainedRelearn = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(collapsed);
        var t = thresholds ?? new VerdictThresholds();
        var figures = new List<JudgedFigure>();
        var notJudged = new List<string>();
        if (retrained is null)
        {
            notJudged.Add("no retrained model: under- and over-forgetting cannot be judged (every figure's target is the retrained model's value); give --retrained");
        }
        else
        {
            // (figure, its value, the retrained value, the reading when far above, when far below)
            void Points(string name, double value, double reference, string above, string below) =>
                Add(name, value, reference, Math.Abs(value - reference) > t.AccuracyPoints, above, below);
            void Add(string name, double value, double reference, bool far, string above, string below)
            {
                if (double.IsNaN(value) || double.IsNaN(reference)) { notJudged.Add($"{name}: not available for both models"); return; }
                double distance = value - reference;
                string direction = distance > 0 ? "above" : distance < 0 ? "below" : "at";
                figures.Add(new JudgedFigure(name, value, reference, distance, direction, far, far ? (distance > 0 ? above : below) : ""));
            }
            const string under = "under-forgotten", over = "over-forgotten", damage = "retain damage";
            foreach (var name in new[] { ModelEvaluation.UA, ModelEvaluation.TUA })
                if (model.Metrics.TryGetValue(name, out var m) && retrained.Metrics.TryGetValue(name, out var r))
                    Points(name, m.Value, r.Value, under, "");
            foreach (var name in new[] { ModelEvaluation.RA, ModelEvaluation.TRA, ModelEvaluation.SalUnRA, ModelEvaluation.SalUnTA })
                if (model.Metrics.TryGetValue(name, out var m) && retrained.Metrics.TryGetValue(name, out var r))
                    Points(name, m.Value, r.Value, "", damage);
            if (model.Metrics.TryGetValue(ModelEvaluation.MiaEfficacy, out var mia) && retrained.Metrics.TryGetValue(ModelEvaluation.MiaEfficacy, out var rmia))
            {
                if (UninformativeAttack(model.MiaAttackBalancedAccuracy, retrained.MiaAttackBalancedAccuracy, t) is string why)
                    notJudged.Add(ModelEvaluation.MiaEfficacy + ": " + why);
                else Points(ModelEvaluation.MiaEfficacy, mia.Value, rmia.Value, over, under);
            }
            double loss = model.Test.ForgetLoss, reference = retrained.Test.ForgetLoss;
            Add("forget_test_loss", loss, reference, loss > t.LossRatio * reference, over, "");
            if (probe is not null && retrainedProbe is not null)
            {
                Points("probe_forget_accuracy", probe.ForgetAccuracy, retrainedProbe.ForgetAccuracy, under, "");
                Points("probe_retain_accuracy", probe.RetainAccuracy, retrainedProbe.RetainAccuracy, "", damage);
            }
            else notJudged.Add("linear probe: not computed for both this and the retrained model");
            // Relearn steps are shown beside the retrained model's, not judged: no published threshold says how many fewer
            // steps mean a hidden class.
            if (relearn?.Steps is int steps && retrainedRelearn?.Steps is int retrainedSteps)
                Add("relearn_steps", steps, retrainedSteps, false, "", "");
            else if (relearn is not null || retrainedRelearn is not null)
                notJudged.Add("relearn_steps: not reached (or not measured) for both this and the retrained model within their step limits");
        }

        bool underForgotten = figures.Any(f => f.Reading == "under-forgotten");
        bool overForgotten = figures.Any(f => f.Reading == "over-forgotten");
        bool retainDamage = figures.Any(f => f.Reading == "retain damage") || collapsed.Count > 0;
        return new Verdict
        {
            Line = Summarise(figures, collapsed, retrained is not null, t),
            UnderForgotten = underForgotten, OverForgotten = overForgotten, RetainDamage = retainDamage,
            Figures = [.. figures], NotJudged = [.. notJudged],
            AccuracyThreshold = t.AccuracyPoints, LossThreshold = t.LossRatio, MiaAttackThreshold = t.InformativeAttackBalancedAccuracy,
        };
    }

    /// <summary>
    /// Why MIA_efficacy cannot be judged (one line naming both attacks' balanced accuracies), or null when both attacks separate
    /// their fitting data better than <see cref="VerdictThresholds.InformativeAttackBalancedAccuracy"/>. Accuracies in %; null
    /// where not recorded (a report written before they were), which cannot show the attack informative.
    /// </summary>
    static string? UninformativeAttack(double? model, double? retrained, VerdictThresholds t)
    {
        static string Show(double? v) => v is double x && !double.IsNaN(x) ? Inv($"{x:F1}%") : "not recorded";
        bool Informative(double? v) => v is double x && x > t.InformativeAttackBalancedAccuracy;
        if (Informative(model) && Informative(retrained)) return null;
        return Inv($"the SVC attack does not separate members from non-members on its fitting data (balanced accuracy: this model {Show(model)}, retrained {Show(retrained)}; judged only above {t.InformativeAttackBalancedAccuracy:G}% for both), so its efficacy is arbitrary");
    }

    /// <summary>The one line: each reading with its most telling figure, or "close to retraining".</summary>
    static string Summarise(List<JudgedFigure> figures, IReadOnlyList<CollapsedClass> collapsed, bool judged, VerdictThresholds t)
    {
        var parts = new List<string>();
        foreach (var reading in new[] { "under-forgotten", "over-forgotten", "retain damage" })
        {
            var telling = figures.Where(f => f.Reading == reading).ToList();
            if (telling.Count == 0) continue;
            parts.Add(reading + ": " + string.Join(", ", telling.Select(Describe)));
        }
        if (collapsed.Count > 0)
            parts.Add("collapsed: " + string.Join(", ", collapsed.Select(c => Inv($"{c.Name} {c.Accuracy:F1}% ({c.Drop:F1} points below base)"))));
        if (parts.Count > 0) return string.Join("; ", parts);
        return judged
            ? Inv($"close to retraining: every figure within {t.AccuracyPoints:G} points (forget loss within {t.LossRatio:G}x) of the retrained model's")
            : "not judged against retraining (no retrained model); no retain class collapsed against the base model";
    }

    static string Describe(JudgedFigure f) => f.Figure == "forget_test_loss"
        ? Inv($"forget test loss {f.Value:F2} is {f.Value / f.Retrained:F1}x the retrained model's {f.Retrained:F2}")
        : Inv($"{f.Figure} {f.Value:F1}% is {Math.Abs(f.Distance):F1} points {f.Direction} the retrained model's {f.Retrained:F1}%");

    static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
