using System.Xml.Linq;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Tests.Support;
using IlgpuUnlearn.Training;

namespace IlgpuUnlearn.Tests.Evaluation;

/// <summary>
/// Every picture the tool draws, rendered by librsvg (rsvg-convert) as a viewer would: nothing is cut at the picture's edge
/// (the ink keeps a margin on every side), and what each picture must show is there: every epoch tick of a short run, the
/// multi-run chart's title naming the data and the class, and its UA, RA, FQS and Avg. Gap groups.
/// </summary>
public sealed class PictureRenderTests
{
    /// <summary>Ink closer than this to an edge is taken as cut: a stroke or glyph drawn to the edge has its anti-aliased half outside.</summary>
    const int MinimumMargin = 3;

    static void AssertNothingCut(string svg, string what)
    {
        var picture = RenderedPicture.Render(svg);
        var (left, top, right, bottom) = picture.InkBounds();
        Assert.True(right > left && bottom > top, $"{what}: nothing drawn");
        Assert.True(left >= MinimumMargin && top >= MinimumMargin && right <= picture.Width - 1 - MinimumMargin && bottom <= picture.Height - 1 - MinimumMargin,
            $"{what}: ink at ({left}, {top})-({right}, {bottom}) of a {picture.Width}x{picture.Height} picture reaches the edge");
    }

    static EpochRecord Epoch(int e, bool excluded) =>
        new(e, 0.1, 2.0 / e, 2.2 / e, 50 + 10 * e, excluded ? 0 : null, excluded ? 60 + 10 * e : null, 12.5);

    [Theory]
    [InlineData(4, false)]
    [InlineData(4, true)]
    [InlineData(1, false)]
    [InlineData(200, true)]
    public void TrainingCurvesAreWholeWithEveryEpochTick(int epochs, bool excluded)
    {
        var history = Enumerable.Range(1, epochs).Select(e => Epoch(e, excluded)).ToList();
        string svg = TrainingCurveSvg.Render(history, "ResNet18 (width 16) on fashion-mnist train without class 3 (Dress)");
        AssertNothingCut(svg, $"training curves, {epochs} epochs");
        // The x labels of each panel (the charts' category labels, font size 9): every epoch of a short run; evenly spaced multiples past ten.
        var document = XDocument.Parse(svg);
        var ticks = document.Descendants().Where(e => e.Name.LocalName == "text" && e.Attribute("text-anchor")?.Value == "middle"
            && int.TryParse(e.Value, out _) && e.Attribute("font-size")?.Value == "9").Select(e => int.Parse(e.Value)).ToList();
        int[] expected = epochs switch { 4 => [1, 2, 3, 4], 1 => [1], _ => [1, 50, 100, 150, 200] };
        Assert.Equal([.. expected, .. expected], ticks);   // both panels
    }

    /// <summary>Fashion-MNIST outputs: class c has 20 images, of which the first <paramref name="correct"/>(c) are predicted right.</summary>
    static SampleOutputs Outputs(Func<int, int> correct)
    {
        var labels = new List<int>();
        var logits = new List<float>();
        for (int c = 0; c < 10; c++)
            for (int i = 0; i < 20; i++)
            {
                labels.Add(c);
                int predicted = i < correct(c) ? c : (c + 1) % 10;
                for (int j = 0; j < 10; j++) logits.Add(j == predicted ? 4f + i % 3 : 0f);
            }
        return new SampleOutputs([.. labels], [.. logits], 10);
    }

    [Fact]
    public void TheMultiRunChartIsWholeAndNamesDataClassAndEveryMetric()
    {
        var names = FashionMnist.ClassNames.ToArray();
        var settings = new EvaluationSettings { BootstrapReplicates = 0 };
        var retrainedTrain = Outputs(c => c == 3 ? 0 : 18);
        ModelEvaluation Evaluate(string model, string role, Func<int, int> correct) =>
            ModelEvaluation.Compute(model, role, Outputs(correct), Outputs(correct), 3, retrainedTrain, settings);
        RunReport Run(string method, int forgetCorrect) => RunReport.Create(method, $"{method}_3.pth", 3, names, Outputs(c => c == 3 ? forgetCorrect : 17).CardReport(3, names),
            Evaluate($"{method}_3.pth", "unlearned", c => c == 3 ? forgetCorrect : 17), Evaluate("base.pth", "base", _ => 19),
            Evaluate("retrained.pth", "retrained", c => c == 3 ? 0 : 18), settings);
        var comparison = new RunComparison([Run("AdvNegGrad", 2), Run("RL", 1), Run("FT", 6), Run("SalUn", 9), Run("SCRUB", 12), Run("GA", 14)]);
        string svg = comparison.Svg();
        AssertNothingCut(svg, "multi-run chart");

        var document = XDocument.Parse(svg);
        var texts = document.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value).ToList();
        Assert.Equal("Unlearning on Fashion-MNIST, forget class 3 (Dress)", texts[0]);
        foreach (string group in new[] { "UA", "RA", "TUA", "TRA", "SalUn_UA", "SalUn_RA", "SalUn_TA", "MIA_efficacy", "loss_MIA", "FQS x100", "Avg. Gap" })
            Assert.Contains(group, texts);
        Assert.Equal(RunComparison.PictureMetrics, comparison.ShownMetrics());
        // The group labels do not overlap: each label's centre is at least its estimated width (7 px a character) from the next.
        var labels = document.Descendants().Where(e => e.Name.LocalName == "text" && RunComparison.PictureMetrics.Select(m => m == "FQS" ? "FQS x100" : m).Contains(e.Value))
            .Select(e => (Text: e.Value, X: double.Parse(e.Attribute("x")!.Value, System.Globalization.CultureInfo.InvariantCulture))).ToList();
        for (int i = 1; i < labels.Count; i++)
            Assert.True(labels[i].X - labels[i - 1].X >= (labels[i].Text.Length + labels[i - 1].Text.Length) * 7 / 2.0, $"{labels[i - 1].Text} and {labels[i].Text} overlap");
    }

    [Fact]
    public void TheConfusionMatrixIsWhole()
    {
        var names = FashionMnist.ClassNames.ToArray();
        var outputs = Outputs(c => 10 + c);
        AssertNothingCut(ConfusionMatrixSvg.Render(outputs.CardReport(3, names)), "confusion matrix");
    }
}
