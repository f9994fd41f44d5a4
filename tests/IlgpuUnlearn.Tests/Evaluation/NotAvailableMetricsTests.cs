using System.Text.Json;
using IlgpuUnlearn.Evaluation;

namespace IlgpuUnlearn.Tests.Evaluation;

/// <summary>
/// Figures that cannot be computed (one forget image, a class with no test image) are reported as not available with the
/// reason, in the text and in both JSON forms, never as a number and never as 0.
/// </summary>
public sealed class NotAvailableMetricsTests
{
    /// <summary>Three classes; training: 1 image of class 0 (the forget class), 3 of classes 1 and 2; test: none of class 2.</summary>
    static (SampleOutputs Train, SampleOutputs Test) Outputs()
    {
        int[] trainLabels = [0, 1, 1, 1, 2, 2, 2];
        int[] testLabels = [0, 0, 1, 1];
        var random = new Random(1);
        float[] Logits(int[] labels) => labels.SelectMany(y => Enumerable.Range(0, 3).Select(c => (float)(random.NextDouble() + (c == y ? 2 : 0)))).ToArray();
        return (new SampleOutputs(trainLabels, Logits(trainLabels), 3), new SampleOutputs(testLabels, Logits(testLabels), 3));
    }

    [Fact]
    public void TooFewImagesGiveNotAvailableWithTheReason()
    {
        var (train, test) = Outputs();
        var settings = new EvaluationSettings { BootstrapReplicates = 20, AttackBootstrapReplicates = 5 };
        var evaluation = ModelEvaluation.Compute("m.safetensors", "unlearned", train, test, 0, train, settings);
        var m = evaluation.Metrics;
        foreach (var name in new[] { ModelEvaluation.UA, ModelEvaluation.SalUnUA, ModelEvaluation.MiaEfficacy, ModelEvaluation.LossMia, ModelEvaluation.Fqs })
        {
            Assert.False(m[name].IsAvailable, name);
            Assert.True(double.IsNaN(m[name].Value), name);
            Assert.Contains("1 training image of the forget class", m[name].NotAvailable);
        }
        Assert.Contains("retain class 2 without a test image", m[ModelEvaluation.TRA].NotAvailable);
        // Computable figures stay numbers: TUA over the 2 test images of class 0, RA over classes 1 and 2, SalUn_TA pooled.
        Assert.True(m[ModelEvaluation.TUA].IsAvailable && m[ModelEvaluation.RA].IsAvailable && m[ModelEvaluation.SalUnTA].IsAvailable);

        var report = RunReport.Create("GA", "m.safetensors", 0, ["a", "b", "c"], null, evaluation, null, evaluation, settings);
        string text = RunReportText.Format(report);
        Assert.Contains("| MIA_efficacy |", text);
        Assert.Contains("n/a: MIA_efficacy of the unlearned model: 1 training image of the forget class", text);
        Assert.Contains("n/a: TRA of the unlearned model: retain class 2 without a test image", text);

        var json = JsonDocument.Parse(RunReportJson.Serialize(report)).RootElement;
        var mia = json.GetProperty("evaluation").GetProperty("metrics").GetProperty(ModelEvaluation.MiaEfficacy);
        Assert.Contains("1 training image", mia.GetProperty("not_available").GetString());
        Assert.NotEqual(JsonValueKind.Number, mia.GetProperty("value").ValueKind);
        // Read back, the reason survives (report reads these files).
        string file = Path.GetTempFileName();
        try
        {
            RunReportJson.Write(file, [report]);
            var back = RunReportJson.ReadAll(file)[0];
            Assert.Contains("1 training image", back.Evaluation.Metrics[ModelEvaluation.MiaEfficacy].NotAvailable);
        }
        finally { File.Delete(file); }

        var comparator = JsonDocument.Parse(ComparatorResultJson.Serialize(report, train, test, null)).RootElement;
        Assert.Equal("N/A", comparator.GetProperty("TRA").GetString());
        Assert.Equal("N/A", comparator.GetProperty("FQS").GetString());
        Assert.Equal(JsonValueKind.Null, comparator.GetProperty("t_accs")[2].ValueKind);
        Assert.Equal(JsonValueKind.Null, comparator.GetProperty("t_label_dist").GetProperty("gt_2")[0].ValueKind);
        Assert.Equal(JsonValueKind.Number, comparator.GetProperty("t_accs")[1].ValueKind);
    }
}
