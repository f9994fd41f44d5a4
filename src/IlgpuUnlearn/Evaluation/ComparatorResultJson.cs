using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using IlgpuUnlearn.IO;

namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// An evaluation in the result schema of the Unlearning Comparator (gnueaj/Machine-Unlearning-Comparator: the JSON its
/// backend writes per unlearned model), so that a model made here can be loaded next to the Comparator's own. Filled:
/// ID, FC, Type, Method, Model, UA, RA, TUA, TRA, PA, RTE, FQS (fractions rounded to 3 decimals as the Comparator does;
/// RTE in seconds, rounded to 0.1), accs and t_accs (per-class accuracy, fractions), label_dist and t_label_dist
/// ({"gt_i": share of class-i images predicted as each class}), conf_dist and t_conf_dist ({"gt_i": mean softmax
/// probability of each class over class-i images}). A figure that cannot be filled (FQS without a retrained model, RTE
/// when unknown, a figure that is not available: see <see cref="MetricValue.Unavailable"/>) is "N/A", as the Comparator
/// writes it; a per-class entry of a class with no image in that split is null, never 0. cka and cka_retrain (the judged
/// model against the base and the retrained model, where the run computed them; null otherwise, as the Comparator writes
/// cka_retrain without a retrained model) in its layout: {"layers": [conv1 ... fc], "train": {"forget_class": M,
/// "other_classes": M}, "test": {...}}, M a stage x stage matrix rounded to 3 decimals as its format_cka_results rounds;
/// its viewer reads only the diagonal (getCkaData: layer[idx]), and the diagonal is what is computed here
/// (<see cref="Probes.LayerCka"/>), so the other entries are null. Its UMAP points and attack histograms are not produced.
/// </summary>
public static class ComparatorResultJson
{
    public static string Serialize(RunReport report, SampleOutputs train, SampleOutputs test, double? runtimeSeconds)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (report.ForgetClass is not int k) throw new ArgumentException("the Comparator's schema needs a forget class");
        var m = report.Evaluation.Metrics;
        double ua = m[ModelEvaluation.UA].Value / 100, ra = m[ModelEvaluation.RA].Value / 100;
        double tua = m[ModelEvaluation.TUA].Value / 100, tra = m[ModelEvaluation.TRA].Value / 100;
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("ID", Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(report.ModelName)))[..4]);
            w.WriteNumber("FC", k);
            w.WriteString("Type", "Unlearned");
            w.WriteString("Model", report.ModelName);
            w.WriteString("Method", report.Method);
            WriteFigure(w, "UA", ua);
            WriteFigure(w, "RA", ra);
            WriteFigure(w, "TUA", tua);
            WriteFigure(w, "TRA", tra);
            WriteFigure(w, "PA", ((1 - ua) + (1 - tua) + ra + tra) / 4);
            if (runtimeSeconds is double rte) w.WriteNumber("RTE", Math.Round(rte, 1)); else w.WriteString("RTE", "N/A");
            WriteFigure(w, "FQS", m.TryGetValue(ModelEvaluation.Fqs, out var fqs) ? fqs.Value : double.NaN);
            WriteArray(w, "accs", report.Evaluation.Train.PerClassAccuracy.Select(a => a / 100));
            WriteArray(w, "t_accs", report.Evaluation.Test.PerClassAccuracy.Select(a => a / 100));
            var (labelDist, confDist) = Distributions(train);
            var (tLabelDist, tConfDist) = Distributions(test);
            WriteDistribution(w, "label_dist", labelDist);
            WriteDistribution(w, "t_label_dist", tLabelDist);
            WriteDistribution(w, "conf_dist", confDist);
            WriteDistribution(w, "t_conf_dist", tConfDist);
            WriteCka(w, "cka", CkaPair(report.Evaluation, "base"));
            WriteCka(w, "cka_retrain", CkaPair(report.Evaluation, "retrained"));
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public static void Write(string path, RunReport report, SampleOutputs train, SampleOutputs test, double? runtimeSeconds) =>
        AtomicFile.WriteAllText(path, Serialize(report, train, test, runtimeSeconds) + "\n");

    /// <summary>Per true class: the share predicted as each class, and the mean softmax probability of each class (NaN for a class with no image).</summary>
    public static (double[][] Labels, double[][] Confidence) Distributions(SampleOutputs outputs)
    {
        int c = outputs.ClassCount;
        var labels = Enumerable.Range(0, c).Select(_ => new double[c]).ToArray();
        var confidence = Enumerable.Range(0, c).Select(_ => new double[c]).ToArray();
        var count = new int[c];
        var p = new double[c];
        for (int i = 0; i < outputs.Count; i++)
        {
            int y = outputs.Label(i);
            count[y]++;
            labels[y][outputs.Predicted[i]]++;
            outputs.Softmax(i, 1.0, p);
            for (int j = 0; j < c; j++) confidence[y][j] += p[j];
        }
        for (int y = 0; y < c; y++)
            for (int j = 0; j < c; j++)
            {
                labels[y][j] = count[y] == 0 ? double.NaN : labels[y][j] / count[y];
                confidence[y][j] = count[y] == 0 ? double.NaN : confidence[y][j] / count[y];
            }
        return (labels, confidence);
    }

    /// <summary>The CKA pair of <paramref name="model"/> and the model of role <paramref name="reference"/>, null where not computed.</summary>
    private static Probes.LayerCka? CkaPair(ModelEvaluation model, string reference) =>
        model.Cka?.FirstOrDefault(c => (c.Model == model.Role && c.Reference == reference) || (c.Model == reference && c.Reference == model.Role));

    /// <summary>The Comparator's CKA object (see the class comment), or null.</summary>
    private static void WriteCka(Utf8JsonWriter w, string name, Probes.LayerCka? pair)
    {
        if (pair is null) { w.WriteNull(name); return; }
        w.WriteStartObject(name);
        w.WriteStartArray("layers");
        foreach (var layer in pair.Layers) w.WriteStringValue(layer);
        w.WriteEndArray();
        foreach (var split in new[] { "train", "test" })
        {
            w.WriteStartObject(split);
            foreach (var (key, part) in new[] { ("forget_class", "forget"), ("other_classes", "other") })
            {
                var diagonal = pair.Of($"{split}-{part}");
                w.WriteStartArray(key);
                for (int row = 0; row < pair.Layers.Count; row++)
                {
                    w.WriteStartArray();
                    for (int column = 0; column < pair.Layers.Count; column++)
                    {
                        if (row == column && row < diagonal.Length && diagonal[row] is double v && double.IsFinite(v)) w.WriteNumberValue(Round3(v));
                        else w.WriteNullValue();
                    }
                    w.WriteEndArray();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    private static double Round3(double v) => Math.Round(v, 3, MidpointRounding.ToEven);

    /// <summary>A headline figure rounded to 3 decimals, or "N/A" when it cannot be computed.</summary>
    private static void WriteFigure(Utf8JsonWriter w, string name, double v)
    {
        if (double.IsFinite(v)) w.WriteNumber(name, Round3(v));
        else w.WriteString(name, "N/A");
    }

    /// <summary>Per-class values rounded to 3 decimals; null for a class with no image.</summary>
    private static void WriteArray(Utf8JsonWriter w, string name, IEnumerable<double> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values)
        {
            if (double.IsFinite(v)) w.WriteNumberValue(Round3(v));
            else w.WriteNullValue();
        }
        w.WriteEndArray();
    }

    private static void WriteDistribution(Utf8JsonWriter w, string name, double[][] rows)
    {
        w.WriteStartObject(name);
        for (int y = 0; y < rows.Length; y++) WriteArray(w, string.Create(CultureInfo.InvariantCulture, $"gt_{y}"), rows[y]);
        w.WriteEndObject();
    }
}
