using System.Globalization;
using System.Text;

namespace IlgpuUnlearn.Evaluation.Probes;

/// <summary>The linear probes and CKA of a run as the terminal shows them (markdown tables).</summary>
public static class BelowLogitsText
{
    /// <summary>
    /// The probe and relearn table (one row per model with either) and the CKA table (one row per pair of models and split,
    /// one column per stage, three decimals as the Comparator rounds them); empty when there is none of them.
    /// </summary>
    public static string Format(IReadOnlyList<(string Role, string Model, LinearProbe? Probe, RelearnTime? Relearn)> models, IReadOnlyList<LayerCka> cka)
    {
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(cka);
        var text = new StringBuilder();
        if (models.Any(m => m.Probe is not null || m.Relearn is not null))
        {
            text.Append("linear probe: multinomial logistic regression (L2, C = 1, standardised) on the frozen penultimate features, fitted on the training split, test accuracy %; ");
            text.Append("relearn: SGD steps on a few forget-class training images until the forget-class test accuracy reaches the target\n\n");
            text.Append("| model | role | probe forget | probe retain | relearn steps |\n|---|---|---|---|---|\n");
            foreach (var (role, model, probe, relearn) in models)
            {
                if (probe is null && relearn is null) continue;
                string forget = probe is null ? "-" : ModelCardTable.Accuracy(probe.ForgetAccuracy) + (probe.Converged ? "" : " (fit not converged)");
                string retain = probe is null ? "-" : ModelCardTable.Accuracy(probe.RetainAccuracy);
                string steps = relearn is null ? "-" : relearn.Steps is int s
                    ? Inv($"{s} (to {relearn.TargetAccuracy:F1}%, {relearn.Images} image{(relearn.Images == 1 ? "" : "s")})")
                    : Inv($"> {relearn.MaxSteps} (never {relearn.TargetAccuracy:F1}%)");
                text.Append($"| {model} | {role} | {forget} | {retain} | {steps} |\n");
            }
            text.Append('\n');
        }
        if (cka.Count > 0)
        {
            var layers = cka[0].Layers;
            text.Append("linear CKA per stage (pytorch-cka's minibatch estimator on the Comparator's splits; 1: the same representation)\n\n");
            text.Append("| models | split | images | " + string.Join(" | ", layers) + " |\n");
            text.Append("|---|---|---|" + string.Concat(layers.Select(_ => "---|")) + "\n");
            string[] splits = ["train-forget", "train-other", "test-forget", "test-other"];
            foreach (var pair in cka)
                for (int s = 0; s < splits.Length; s++)
                    text.Append($"| {pair.Model} / {pair.Reference} | {splits[s]} | {(s < pair.Images.Length ? pair.Images[s] : 0)} | ")
                        .Append(string.Join(" | ", pair.Of(splits[s]).Select(v => v is double d ? d.ToString("F3", CultureInfo.InvariantCulture) : "-")))
                        .Append(" |\n");
            text.Append('\n');
        }
        return text.ToString();
    }

    static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
