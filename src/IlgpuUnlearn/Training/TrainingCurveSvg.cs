using System.Globalization;
using IlgpuUnlearn.Evaluation;

namespace IlgpuUnlearn.Training;

/// <summary>
/// The curves of a training log as an SVG picture (<see cref="ReportCharts.Lines"/>, two charts side by side): on the left
/// the training and test loss (mean NLL) per epoch, on the right the test accuracy (%) per epoch (and, for a run without a
/// class, the accuracy on that class and on the rest). Epochs a log has no value for are gaps.
/// </summary>
public static class TrainingCurveSvg
{
    /// <summary>Each chart's plot width in pixels, whatever the number of epochs.</summary>
    const int PlotWidth = 340;

    /// <summary>
    /// The picture of <paramref name="history"/> (epochs numbered from 1, in any order; the x axis runs from 1 to the last
    /// epoch) under <paramref name="title"/>.
    /// </summary>
    public static string Render(IReadOnlyList<EpochRecord> history, string title)
    {
        ArgumentNullException.ThrowIfNull(history);
        int epochs = Math.Max(1, history.Select(h => h.Epoch).DefaultIfEmpty(1).Max());
        var categories = Enumerable.Range(1, epochs).Select(e => e.ToString(CultureInfo.InvariantCulture)).ToList();
        var ticks = EpochTicks(epochs).Select(e => e - 1).ToList();
        // One value per epoch, NaN where the log has none.
        double[] PerEpoch(Func<EpochRecord, double?> value)
        {
            var values = Enumerable.Repeat(double.NaN, epochs).ToArray();
            foreach (var h in history) if (h.Epoch >= 1 && value(h) is double v) values[h.Epoch - 1] = v;
            return values;
        }

        var losses = new List<ChartSeries>
        {
            new("train loss", "#1f77b4", PerEpoch(h => h.TrainLoss)),
            new("test loss", "#d62728", PerEpoch(h => h.TestLoss)),
        };
        double maxLoss = losses.SelectMany(l => l.Values).Where(double.IsFinite).DefaultIfEmpty(1).Max();
        string loss = ReportCharts.Lines("loss (mean NLL)", categories, losses, 0, maxLoss <= 0 ? 1 : maxLoss * 1.05, "mean NLL", "epoch", "F4", ticks, PlotWidth);

        var accuracies = new List<ChartSeries>
        {
            new("test accuracy", "#2ca02c", PerEpoch(h => h.TestAccuracy)),
            new("excluded class", "#d62728", PerEpoch(h => h.ExcludedClassTestAccuracy)),
            new("other classes", "#1f77b4", PerEpoch(h => h.OtherClassesTestAccuracy)),
        };
        string accuracy = ReportCharts.Lines("test accuracy (%)", categories, accuracies.Where(a => a.Values.Any(v => !double.IsNaN(v))).ToList(),
            0, 100, "accuracy (%)", "epoch", "F2", ticks, PlotWidth);
        return ReportCharts.SideBySide(title, [loss, accuracy]);
    }

    /// <summary>
    /// The epochs labelled on the x axis: every epoch up to 10; beyond, 1 and the multiples of a step of 1, 2 or 5 times a
    /// power of ten that gives at most 10 labels, and the last epoch unless a label is already near it. Evenly spaced, none skipped.
    /// </summary>
    public static IReadOnlyList<int> EpochTicks(int epochs)
    {
        if (epochs <= 10) return Enumerable.Range(1, Math.Max(1, epochs)).ToList();
        int step = 1;
        for (int scale = 1; ; scale *= 10)
        {
            step = new[] { 1, 2, 5 }.Select(m => m * scale).FirstOrDefault(s => epochs / s <= 9);
            if (step > 0) break;
        }
        var ticks = new List<int> { 1 };
        for (int e = step; e <= epochs; e += step) ticks.Add(e);
        if (epochs - ticks[^1] >= step / 2.0) ticks.Add(epochs);
        return ticks;
    }
}
