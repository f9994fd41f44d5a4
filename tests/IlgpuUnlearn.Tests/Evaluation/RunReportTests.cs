using System.Text.Json;
using System.Xml.Linq;
using IlgpuUnlearn.Evaluation;

namespace IlgpuUnlearn.Tests.Evaluation;

/// <summary>The run report's figures on hand-made outputs whose every count is known: names, intervals, gaps, the collapse guard, merging, the Comparator's schema.</summary>
public sealed class RunReportTests
{
    static readonly string[] Names = ["a", "b", "c"];

    /// <summary>Outputs whose prediction for each image is given: logits 5 at the predicted class, 0 elsewhere.</summary>
    static SampleOutputs Made(params (int Label, int Count, int Correct)[] groups)
    {
        var labels = new List<int>();
        var logits = new List<float>();
        foreach (var (label, count, correct) in groups)
            for (int i = 0; i < count; i++)
            {
                labels.Add(label);
                int predicted = i < correct ? label : (label + 1) % 3;
                for (int j = 0; j < 3; j++) logits.Add(j == predicted ? 5f : 0f);
            }
        return new SampleOutputs([.. labels], [.. logits], 3);
    }

    // Train: class 0 (forget) 40 images, 10 right; class 1 100 images, 90 right; class 2 300 images, 150 right.
    static SampleOutputs Train() => Made((0, 40, 10), (1, 100, 90), (2, 300, 150));
    // Test: class 0 20 images, 2 right; class 1 50 images, 40 right; class 2 50 images, 45 right.
    static SampleOutputs Test() => Made((0, 20, 2), (1, 50, 40), (2, 50, 45));

    static ModelEvaluation Evaluate(SampleOutputs train, SampleOutputs test, string role = "unlearned", int bootstrap = 0, SampleOutputs? retrained = null) =>
        ModelEvaluation.Compute("m.pth", role, train, test, 0, retrained, new EvaluationSettings { BootstrapReplicates = bootstrap });

    [Fact]
    public void ComparatorAndSalUnNamesOnBothSplits()
    {
        var e = Evaluate(Train(), Test());
        Assert.Equal(25.0, e.Metrics[ModelEvaluation.UA].Value, 12);                // 10/40
        Assert.Equal((90.0 + 50.0) / 2, e.Metrics[ModelEvaluation.RA].Value, 12);   // mean of the retain classes' accuracies
        Assert.Equal(10.0, e.Metrics[ModelEvaluation.TUA].Value, 12);               // 2/20
        Assert.Equal((80.0 + 90.0) / 2, e.Metrics[ModelEvaluation.TRA].Value, 12);
        Assert.Equal(75.0, e.Metrics[ModelEvaluation.SalUnUA].Value, 12);           // 100 - UA
        Assert.Equal(100.0 * 240 / 400, e.Metrics[ModelEvaluation.SalUnRA].Value, 12); // pooled: differs from RA with unequal classes
        Assert.Equal(100.0 * 85 / 100, e.Metrics[ModelEvaluation.SalUnTA].Value, 12);
        Assert.Equal(25.0, e.Train.ForgetAccuracy, 12);
        Assert.Equal(60.0, e.Train.RetainAccuracy, 12);
        Assert.Equal(85.0, e.Test.RetainAccuracy, 12);
        Assert.Equal([40, 100, 300], e.Train.PerClassCount);
        // Mean loss per class: right images lose log(1 + 2e^-5), wrong ones 5 + log(1 + 2e^-5).
        double right = Math.Log(1 + 2 * Math.Exp(-5)), wrong = 5 + right;
        Assert.Equal((10 * right + 30 * wrong) / 40, e.Train.PerClassLoss[0], 12);
        Assert.Equal((240 * right + 160 * wrong) / 400, e.Train.RetainLoss, 12);
        Assert.False(e.Metrics.ContainsKey(ModelEvaluation.Fqs)); // no retrained outputs
        Assert.True(e.Metrics.ContainsKey(ModelEvaluation.MiaEfficacy) && e.Metrics.ContainsKey(ModelEvaluation.LossMia));

        // The card's row is what it always was.
        var card = Test().CardReport(0, Names);
        Assert.Equal("| m.pth | A | 10.00 (" + ModelCardTable.Loss((2 * right + 18 * wrong) / 20) + ") | 85.00 (" + ModelCardTable.Loss((85 * right + 15 * wrong) / 100) + ") |",
            ModelCardTable.Row(card, "m.pth"));
    }

    [Fact]
    public void WithoutAForgetClassOnlyPerClassFigures()
    {
        var e = ModelEvaluation.Compute("m.pth", "evaluated", Train(), Test(), null, null, new EvaluationSettings());
        Assert.Empty(e.Metrics);
        Assert.Equal([25.0, 90.0, 50.0], e.Train.PerClassAccuracy);
        Assert.True(double.IsNaN(e.Train.ForgetAccuracy) && double.IsNaN(e.Test.RetainAccuracy));
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void BootstrapIntervalsHaveTheBinomialWidthAndAreSeeded()
    {
        // 2000 forget training images, 90% right: the normal approximation's 95% half-width is 1.96 sqrt(0.9 0.1 / 2000) = 1.31 points.
        var train = Made((0, 2000, 1800), (1, 500, 450), (2, 500, 450));
        var test = Made((0, 500, 400), (1, 500, 450), (2, 500, 450));
        var e = Evaluate(train, test, bootstrap: 1000);
        var ua = e.Metrics[ModelEvaluation.UA];
        double half = (ua.High - ua.Low) / 2, expected = 1.96 * Math.Sqrt(0.9 * 0.1 / 2000) * 100;
        // 1000 resamples estimate the 2.5% and 97.5% quantiles to about 10% of the width.
        Assert.InRange(half, 0.85 * expected, 1.15 * expected);
        Assert.InRange(ua.Value, ua.Low, ua.High);
        var again = Evaluate(train, test, bootstrap: 1000);
        Assert.Equal(ua, again.Metrics[ModelEvaluation.UA]);
        var other = ModelEvaluation.Compute("m.pth", "unlearned", train, test, 0, null, new EvaluationSettings { BootstrapReplicates = 1000, Seed = 7 });
        Assert.NotEqual(ua, other.Metrics[ModelEvaluation.UA]);
        Assert.True(e.Metrics[ModelEvaluation.LossMia].HasInterval && e.Metrics[ModelEvaluation.MiaEfficacy].HasInterval);
    }

    [Fact]
    public void GapsAvgGapAndTheCollapseGuard()
    {
        var settings = new EvaluationSettings { BootstrapReplicates = 0 };
        var model = Evaluate(Train(), Test());
        // Base: class 1's test accuracy 100 (now 80: a 20-point drop), class 2's 94 (now 90: 4 points), the forget class 100 (ignored).
        var baseEvaluation = Evaluate(Made((0, 40, 40), (1, 100, 100), (2, 300, 300)), Made((0, 20, 20), (1, 50, 50), (2, 50, 47)), "base");
        var retrained = Evaluate(Made((0, 40, 0), (1, 100, 95), (2, 300, 280)), Made((0, 20, 0), (1, 50, 45), (2, 50, 46)), "retrained");
        var report = RunReport.Create("AdvNegGrad", "m.pth", 0, Names, null, model, baseEvaluation, retrained, settings);
        Assert.Equal(Math.Abs(75.0 - 100.0), report.Gap[ModelEvaluation.SalUnUA], 12);
        Assert.Equal(ModelEvaluation.AvgGapMetrics.Average(n => Math.Abs(model.Metrics[n].Value - retrained.Metrics[n].Value)), report.AvgGap, 12);
        var collapsed = Assert.Single(report.CollapsedClasses);
        Assert.Equal((1, 100.0, 80.0, 20.0), (collapsed.Class, collapsed.BaseAccuracy, collapsed.Accuracy, collapsed.Drop));
        Assert.Contains("WARNING: collapse: b test accuracy 80.00% is 20.00 points below", RunReportText.Format(report));
        Assert.Equal(2, RunReport.Create("AdvNegGrad", "m.pth", 0, Names, null, model, baseEvaluation, retrained, settings, collapseThreshold: 3.5).CollapsedClasses.Length);

        // JSON round trip keeps every figure.
        var back = RunReportJson.ReadAll(WriteTemp(RunReportJson.Serialize([report])))[0];
        Assert.Equal(report.AvgGap, back.AvgGap);
        Assert.Equal(report.Evaluation.Metrics[ModelEvaluation.RA], back.Evaluation.Metrics[ModelEvaluation.RA]);
        Assert.Equal(report.Retrained!.Test.PerClassAccuracy, back.Retrained!.Test.PerClassAccuracy);
    }

    [Fact]
    public void ManyRunsMergeIntoOneTableCsvAndPicture()
    {
        var settings = new EvaluationSettings { BootstrapReplicates = 0 };
        RunReport Run(string method, int k, int correctForget) =>
            RunReport.Create(method, $"{method}_{k}.pth", k, Names, Test().CardReport(k, Names),
                ModelEvaluation.Compute($"{method}_{k}.pth", "unlearned", Made((0, 40, correctForget), (1, 100, 90), (2, 300, 150)), Test(), k, null, settings),
                null, null, settings);
        var runs = new[] { Run("AdvNegGrad", 0, 10), Run("AdvNegGrad", 1, 20), Run("Other", 0, 30) };
        var comparison = new RunComparison(runs);
        var rows = comparison.MethodRows();
        Assert.Equal(["AdvNegGrad", "Other"], rows.Select(r => r.Method));
        Assert.Equal((25.0 + 90.0) / 2, rows[0].Means[ModelEvaluation.UA], 12); // class 0 forgotten: 10/40; class 1: 90/100
        Assert.Equal(2, rows[0].Runs);
        Assert.Equal(2 + 3, comparison.CardTable().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length); // header, rule, a row per run
        string csv = comparison.Csv();
        var lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1 + 3 + 2, lines.Length);
        Assert.StartsWith("method,forget_class,model,UA,RA,", lines[0]);
        Assert.StartsWith("AdvNegGrad,0,AdvNegGrad_0.pth,25,", lines[1]);
        var svg = XDocument.Parse(comparison.Svg());
        int bars = svg.Descendants().Count(e => e.Name.LocalName == "rect" && e.Element(e.Name.Namespace + "title") is not null);
        // Two methods, a bar each for the nine metrics these runs have (no retrained model: no FQS, no Avg. Gap).
        Assert.Equal([ModelEvaluation.UA, ModelEvaluation.RA, ModelEvaluation.TUA, ModelEvaluation.TRA, ModelEvaluation.SalUnUA, ModelEvaluation.SalUnRA,
            ModelEvaluation.SalUnTA, ModelEvaluation.MiaEfficacy, ModelEvaluation.LossMia], comparison.ShownMetrics());
        Assert.Equal(2 * 9, bars);
        Assert.Contains("| AdvNegGrad | 2 | 57.50 |", comparison.MethodTableMarkdown());
    }

    /// <summary>
    /// The base model is evaluated again by every run: it counts once per forget class (here classes 0 and 1, three
    /// runs), even when its figures for two classes are equal (the same evaluation is given to both).
    /// </summary>
    [Fact]
    public void TheBaseModelCountsOncePerForgetClass()
    {
        var settings = new EvaluationSettings { BootstrapReplicates = 0 };
        var baseEvaluation = ModelEvaluation.Compute("base.pth", "base", Made((0, 40, 40), (1, 100, 100), (2, 300, 300)), Test(), 0, null, settings);
        RunReport Run(string method, int k) =>
            RunReport.Create(method, $"{method}_{k}.pth", k, Names, Test().CardReport(k, Names),
                ModelEvaluation.Compute($"{method}_{k}.pth", "unlearned", Made((0, 40, 10), (1, 100, 90), (2, 300, 150)), Test(), k, null, settings),
                baseEvaluation, null, settings);
        var rows = new RunComparison([Run("AdvNegGrad", 0), Run("Other", 0), Run("AdvNegGrad", 1)]).MethodRows();
        Assert.Equal(["base", "AdvNegGrad", "Other"], rows.Select(r => r.Method));
        Assert.Equal([2, 2, 1], rows.Select(r => r.Runs));
    }

    [Fact]
    public void ComparatorSchemaFields()
    {
        var train = Train();
        var test = Test();
        var report = RunReport.Create("AdvNegGrad", "m.pth", 0, Names, test.CardReport(0, Names), Evaluate(train, test), null, null, new EvaluationSettings());
        using var json = JsonDocument.Parse(ComparatorResultJson.Serialize(report, train, test, 12.34));
        var root = json.RootElement;
        Assert.Equal(0.25, root.GetProperty("UA").GetDouble());
        Assert.Equal(0.7, root.GetProperty("RA").GetDouble());
        Assert.Equal(0.1, root.GetProperty("TUA").GetDouble());
        Assert.Equal(0.85, root.GetProperty("TRA").GetDouble());
        Assert.Equal(12.3, root.GetProperty("RTE").GetDouble());
        Assert.Equal("N/A", root.GetProperty("FQS").GetString());
        Assert.Equal([0.25, 0.9, 0.5], root.GetProperty("accs").EnumerateArray().Select(e => e.GetDouble()));
        // label_dist: class 0's 40 train images, 10 predicted 0, 30 predicted 1.
        Assert.Equal([0.25, 0.75, 0.0], root.GetProperty("label_dist").GetProperty("gt_0").EnumerateArray().Select(e => e.GetDouble()));
        // conf_dist: mean softmax; a right image gives its class e^5 / (e^5 + 2).
        double p = Math.Exp(5) / (Math.Exp(5) + 2), q = 1 / (Math.Exp(5) + 2);
        var conf = root.GetProperty("t_conf_dist").GetProperty("gt_2").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(Math.Round((45 * q + 5 * p) / 50, 3), conf[0]);
        Assert.Equal(Math.Round((45 * p + 5 * q) / 50, 3), conf[2]);
        foreach (var key in new[] { "t_accs", "t_label_dist", "conf_dist", "PA", "ID", "FC", "Method" }) Assert.True(root.TryGetProperty(key, out _), key);
    }

    static string WriteTemp(string text)
    {
        string path = Path.Combine(Path.GetTempPath(), $"run-report-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, text);
        return path;
    }
}
