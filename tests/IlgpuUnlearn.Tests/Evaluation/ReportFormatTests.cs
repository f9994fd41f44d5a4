using System.Text.Json;
using IlgpuUnlearn.Evaluation;

namespace IlgpuUnlearn.Tests.Evaluation;

public class ReportFormatTests
{
    private static UnlearningReport CardLike(double forgetAccuracy, double forgetLoss, double retainAccuracy, double retainLoss, int forgetClass = 3) => new()
    {
        ForgetClass = forgetClass,
        ClassNames = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
        ForgetAccuracy = forgetAccuracy,
        ForgetLoss = forgetLoss,
        RetainAccuracy = retainAccuracy,
        RetainLoss = retainLoss,
        PerClassAccuracy = new double[10],
        ConfusionMatrix = [.. Enumerable.Range(0, 10).Select(_ => new long[10])],
    };

    [Fact]
    public void RowMatchesTheModelCard()
    {
        Assert.Equal("| cifar10_resnet18_AdvNegGrad_3.pth | Cat | 0.0 (26.171) | 92.44 (0.512) |",
            ModelCardTable.Row(CardLike(0, 26.1714, 92.4444, 0.51249)));
        Assert.Equal("| cifar10_resnet18_AdvNegGrad_0.pth | Airplane | 0.0 (28.448) | 90.52 (0.631) |",
            ModelCardTable.Row(CardLike(0, 28.448, 90.52, 0.631, forgetClass: 0)));
        Assert.Equal("| mine.pth | Cat | 0.10 (5.000) | 90.00 (0.400) |", ModelCardTable.Row(CardLike(0.1, 5, 90, 0.4), "mine.pth"));
        Assert.Equal("| Model | Forget Class | Forget class acc(loss) | Retain class acc(loss) |", ModelCardTable.HeaderLine);
        string table = ModelCardTable.Table([(CardLike(0, 1, 2, 3), null)]);
        Assert.Equal(3, table.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    /// <summary>
    /// Every row of the model card's table (jaeunglee/resnet18-cifar10-unlearning on Hugging Face: forget class k, forget and
    /// retain accuracy with their losses), written back from its figures character for character.
    /// </summary>
    [Theory]
    [InlineData(0, 0.0, 28.448, 90.52, 0.631, "| cifar10_resnet18_AdvNegGrad_0.pth | Airplane | 0.0 (28.448) | 90.52 (0.631) |")]
    [InlineData(1, 0.0, 31.394, 91.27, 0.516, "| cifar10_resnet18_AdvNegGrad_1.pth | Automobile | 0.0 (31.394) | 91.27 (0.516) |")]
    [InlineData(2, 0.0, 30.110, 92.72, 0.475, "| cifar10_resnet18_AdvNegGrad_2.pth | Bird | 0.0 (30.110) | 92.72 (0.475) |")]
    [InlineData(3, 0.0, 26.171, 92.44, 0.512, "| cifar10_resnet18_AdvNegGrad_3.pth | Cat | 0.0 (26.171) | 92.44 (0.512) |")]
    [InlineData(4, 0.0, 27.805, 91.19, 0.561, "| cifar10_resnet18_AdvNegGrad_4.pth | Deer | 0.0 (27.805) | 91.19 (0.561) |")]
    [InlineData(5, 0.0, 28.574, 92.81, 0.456, "| cifar10_resnet18_AdvNegGrad_5.pth | Dog | 0.0 (28.574) | 92.81 (0.456) |")]
    [InlineData(6, 0.0, 28.360, 92.18, 0.486, "| cifar10_resnet18_AdvNegGrad_6.pth | Frog | 0.0 (28.360) | 92.18 (0.486) |")]
    [InlineData(7, 0.0, 32.505, 92.89, 0.401, "| cifar10_resnet18_AdvNegGrad_7.pth | Horse | 0.0 (32.505) | 92.89 (0.401) |")]
    [InlineData(8, 0.0, 29.307, 91.34, 0.543, "| cifar10_resnet18_AdvNegGrad_8.pth | Ship | 0.0 (29.307) | 91.34 (0.543) |")]
    [InlineData(9, 0.0, 28.959, 92.47, 0.474, "| cifar10_resnet18_AdvNegGrad_9.pth | Truck | 0.0 (28.959) | 92.47 (0.474) |")]
    public void WritesEveryRowOfTheCardAsTheCardDoes(int forgetClass, double forgetAccuracy, double forgetLoss, double retainAccuracy, double retainLoss, string cardRow)
        => Assert.Equal(cardRow, ModelCardTable.Row(CardLike(forgetAccuracy, forgetLoss, retainAccuracy, retainLoss, forgetClass)));

    [Fact]
    public void TablesRuleLineIsTheCards()
        // The card's rule line, as the card writes it: dashes as wide as its four header cells.
        => Assert.Equal("|--------------------------------|--------------|-------------------------|-------------------------|",
            ModelCardTable.Table([(CardLike(0, 1, 2, 3), null)]).Split('\n')[1]);

    [Fact]
    public void JsonHasTheReportFieldNamesAndRoundTrips()
    {
        var report = EvaluationTestReports.Report(forgetClass: 2);
        string json = UnlearningReportJson.Serialize(report);
        using var document = JsonDocument.Parse(json);
        var names = document.RootElement.EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(["forget_class", "forget_accuracy", "forget_loss", "retain_accuracy", "retain_loss",
            "per_class_accuracy", "confusion_matrix", "class_names"], names);
        Assert.Equal(2, document.RootElement.GetProperty("forget_class").GetInt32());
        Assert.Equal(50.0, document.RootElement.GetProperty("forget_accuracy").GetDouble());
        Assert.Equal(1, document.RootElement.GetProperty("confusion_matrix")[2][1].GetInt64());

        var back = UnlearningReportJson.Deserialize(json);
        Assert.Equal(report.ForgetLoss, back.ForgetLoss);     // doubles round-trip exactly
        Assert.Equal(report.RetainLoss, back.RetainLoss);
        Assert.Equal(report.PerClassAccuracy, back.PerClassAccuracy);
        Assert.Equal(report.ConfusionMatrix, back.ConfusionMatrix);
        Assert.Equal(report.ClassNames, back.ClassNames);
    }

    [Fact]
    public void WritesFilesAtomically()
    {
        string folder = Path.Combine(Path.GetTempPath(), "ilgpu-unlearn-eval-" + Guid.NewGuid().ToString("N"));
        try
        {
            var report = EvaluationTestReports.Report();
            string json = Path.Combine(folder, "sub", "report.json");
            UnlearningReportJson.Write(json, report);
            UnlearningReportJson.Write(json, report);   // replacing an existing file
            Assert.Equal(report.RetainLoss, UnlearningReportJson.Read(json).RetainLoss);
            ConfusionMatrixSvg.Write(Path.Combine(folder, "m.svg"), report);
            ConfusionMatrixPng.Write(Path.Combine(folder, "m.png"), report);
            var files = Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Select(f => Path.GetFileName(f)!).Order().ToArray();
            Assert.Equal(["m.png", "m.svg", "report.json"], files);   // no temporary files left
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, true);
        }
    }

    [Fact]
    public void TextMatrixShowsCountsAndMarksTheForgetClass()
    {
        string text = ConfusionMatrixText.Format(EvaluationTestReports.Report(forgetClass: 1));
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(5, lines.Length);
        Assert.StartsWith("dog*", lines[3], StringComparison.Ordinal);
        Assert.EndsWith("0.00", lines[3], StringComparison.Ordinal);
        Assert.Contains("(dog)", lines[0], StringComparison.Ordinal);
        Assert.Contains(" dog*", lines[1], StringComparison.Ordinal);
    }
}
