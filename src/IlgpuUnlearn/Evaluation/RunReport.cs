using System.Text.Json.Serialization;

namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// The whole report of one run (after <c>unlearn</c>, or of <c>eval</c>): the card's row (test set), the judged model's
/// figures on both splits, the base and retrained models' where known, the gap |model - retrained| of every named metric
/// with SalUn's "Avg. Gap" (the mean gap over SalUn_UA, SalUn_RA, SalUn_TA and MIA_efficacy), and the collapse guard:
/// every retain class whose test accuracy fell more than <see cref="CollapseThreshold"/> points below the base model's.
/// </summary>
public sealed class RunReport
{
    /// <summary>Default of the collapse guard, in accuracy points.</summary>
    public const double DefaultCollapseThreshold = 10;

    /// <summary>The unlearning method (AdvNegGrad for unlearn's models; for eval, what --method says, else "evaluated").</summary>
    [JsonPropertyName("method")]
    public string Method { get; init; } = "";

    /// <summary>The judged model's file name.</summary>
    [JsonPropertyName("model")]
    public string ModelName { get; init; } = "";

    /// <summary>The forgotten class; null for an evaluation without one (per-class figures only).</summary>
    [JsonPropertyName("forget_class")]
    public int? ForgetClass { get; init; }

    [JsonPropertyName("class_names")]
    public string[] ClassNames { get; init; } = [];

    /// <summary>The card's figures on the test set, exactly as before (null without a forget class).</summary>
    [JsonPropertyName("card")]
    public UnlearningReport? Card { get; init; }

    [JsonPropertyName("evaluation")]
    public ModelEvaluation Evaluation { get; init; } = new();

    [JsonPropertyName("base")]
    public ModelEvaluation? Base { get; init; }

    [JsonPropertyName("retrained")]
    public ModelEvaluation? Retrained { get; init; }

    /// <summary>|model - retrained| per named metric (empty without a retrained reference).</summary>
    [JsonPropertyName("gap")]
    public Dictionary<string, double> Gap { get; init; } = [];

    /// <summary>SalUn's Avg. Gap; NaN without a retrained reference.</summary>
    [JsonPropertyName("avg_gap")]
    public double AvgGap { get; init; } = double.NaN;

    [JsonPropertyName("collapse_threshold")]
    public double CollapseThreshold { get; init; } = DefaultCollapseThreshold;

    [JsonPropertyName("collapsed_classes")]
    public CollapsedClass[] CollapsedClasses { get; init; } = [];

    [JsonPropertyName("bootstrap_replicates")]
    public int BootstrapReplicates { get; init; }

    [JsonPropertyName("seed")]
    public int Seed { get; init; }

    /// <summary>The SVC attack's split: "salun" (retain-class test images as non-members) or "whole-test"; see <see cref="Evaluation.MiaSplit"/>.</summary>
    [JsonPropertyName("mia_split")]
    public string MiaSplit { get; init; } = "";

    /// <summary>
    /// The method's settings as the run manifest records them (method, lr, epochs, seed ...), where the run recorded them
    /// (unlearn); empty for eval and for reports written before. <c>report</c> merges over seeds only runs whose settings
    /// differ in nothing but the seed (Seeds/SeedGroups).
    /// </summary>
    [JsonPropertyName("settings")]
    public SortedDictionary<string, string> Settings { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Puts the parts together and computes the gaps, the collapse guard and, with a forget class, each model's verdict
    /// against the retrained model. <paramref name="below"/>: the probes, relearn times and CKA of the run's models, keyed by
    /// their <see cref="ModelEvaluation.Role"/>; they are attached to each model's evaluation.
    /// </summary>
    public static RunReport Create(string method, string modelName, int? forgetClass, IReadOnlyList<string> classNames, UnlearningReport? card,
        ModelEvaluation evaluation, ModelEvaluation? baseEvaluation, ModelEvaluation? retrained, EvaluationSettings settings,
        double collapseThreshold = DefaultCollapseThreshold, Probes.BelowLogits? below = null)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        ArgumentNullException.ThrowIfNull(settings);
        var gap = new Dictionary<string, double>();
        double avgGap = double.NaN;
        if (retrained is not null)
        {
            foreach (var name in ModelEvaluation.MetricOrder)
                if (evaluation.Metrics.TryGetValue(name, out var m) && retrained.Metrics.TryGetValue(name, out var r))
                    gap[name] = Math.Abs(m.Value - r.Value);
            if (ModelEvaluation.AvgGapMetrics.All(gap.ContainsKey)) avgGap = ModelEvaluation.AvgGapMetrics.Average(n => gap[n]);
        }
        var collapsed = new List<CollapsedClass>();
        if (baseEvaluation is not null)
        {
            var now = evaluation.Test.PerClassAccuracy;
            var before = baseEvaluation.Test.PerClassAccuracy;
            for (int c = 0; c < Math.Min(now.Length, before.Length); c++)
            {
                if (c == forgetClass) continue;
                if (before[c] - now[c] > collapseThreshold)
                    collapsed.Add(new CollapsedClass(c, classNames[c], before[c], now[c], before[c] - now[c]));
            }
        }
        AttachBelowLogits(below, evaluation, baseEvaluation, retrained);
        if (forgetClass is not null)
        {
            evaluation.Verdict = Verdict.Judge(evaluation, retrained, evaluation.LinearProbe, retrained?.LinearProbe, collapsed,
                relearn: evaluation.Relearn, retrainedRelearn: retrained?.Relearn);
            if (baseEvaluation is not null)
                baseEvaluation.Verdict = Verdict.Judge(baseEvaluation, retrained, baseEvaluation.LinearProbe, retrained?.LinearProbe, [],
                    relearn: baseEvaluation.Relearn, retrainedRelearn: retrained?.Relearn);
        }
        return new RunReport
        {
            Method = method, ModelName = modelName, ForgetClass = forgetClass, ClassNames = [.. classNames], Card = card,
            Evaluation = evaluation, Base = baseEvaluation, Retrained = retrained, Gap = gap, AvgGap = avgGap,
            CollapseThreshold = collapseThreshold, CollapsedClasses = [.. collapsed],
            BootstrapReplicates = settings.BootstrapReplicates, Seed = settings.Seed, MiaSplit = MiaSplitNames.Name(settings.MiaSplit),
        };
    }

    /// <summary>Each model's probe, relearn time and the CKA pairs it is part of, by role.</summary>
    static void AttachBelowLogits(Probes.BelowLogits? below, params ModelEvaluation?[] models)
    {
        if (below is null) return;
        foreach (var m in models)
        {
            if (m is null) continue;
            if (below.Probes.TryGetValue(m.Role, out var probe)) m.LinearProbe = probe;
            if (below.Relearn.TryGetValue(m.Role, out var relearn)) m.Relearn = relearn;
            var pairs = below.Cka.Where(c => c.Model == m.Role || c.Reference == m.Role).ToArray();
            if (pairs.Length > 0) m.Cka = pairs;
        }
    }
}

/// <summary>A retain class whose test accuracy (%) fell more than the threshold below the base model's.</summary>
public sealed record CollapsedClass(
    [property: JsonPropertyName("class")] int Class,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("base_test_accuracy")] double BaseAccuracy,
    [property: JsonPropertyName("test_accuracy")] double Accuracy,
    [property: JsonPropertyName("drop")] double Drop);

/// <summary>The names of <see cref="MiaSplit"/> on the command line and in the JSON.</summary>
public static class MiaSplitNames
{
    public const string Help = "Non-members of the SVC attack (MIA_efficacy): salun (the retain-class test images, as SalUn's class-wise runs remove the forget class from the test set) or whole-test (every test image).";

    public static string Name(MiaSplit split) => split == Evaluation.MiaSplit.SalUn ? "salun" : "whole-test";

    /// <summary>The split named <paramref name="name"/>, or null when there is none.</summary>
    public static MiaSplit? Parse(string name) => name switch { "salun" => Evaluation.MiaSplit.SalUn, "whole-test" => Evaluation.MiaSplit.WholeTest, _ => null };
}
