using System.Globalization;
using System.Xml.Linq;

namespace IlgpuUnlearn.Training;

/// <summary>
/// The curves of a training log as an SVG picture: on the left the training and test loss (mean NLL) per epoch, on the
/// right the test accuracy (%) per epoch (and, for a run without a class, the accuracy on that class and on the rest).
/// </summary>
public static class TrainingCurveSvg
{
    /// <summary>Panel size; the left margin of each panel (its y labels); the gap right of the last panel (half its last x label and more).</summary>
    const int PanelWidth = 420, PanelHeight = 280, Margin = 56, Top = 50, RightMargin = 30, PanelGap = 20;
    static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    public static string Render(IReadOnlyList<EpochRecord> history, string title)
    {
        double rightPanel = 2 * Margin + PanelWidth + PanelGap;
        int width = (int)rightPanel + PanelWidth + RightMargin, height = Top + PanelHeight + 70;
        var root = new XElement(Svg + "svg", new XAttribute("width", width), new XAttribute("height", height),
            new XAttribute("viewBox", $"0 0 {width} {height}"), new XAttribute("font-family", "DejaVu Sans, Helvetica, Arial, sans-serif"));
        root.Add(new XElement(Svg + "rect", new XAttribute("width", width), new XAttribute("height", height), new XAttribute("fill", "white")));
        root.Add(Text(width / 2.0, 24, title, 16, "middle", "bold"));
        int epochs = Math.Max(1, history.Count == 0 ? 1 : history[^1].Epoch);

        var losses = new List<(string, string, IReadOnlyList<(int, double)>)>
        {
            ("train loss", "#1f77b4", history.Select(h => (h.Epoch, h.TrainLoss)).ToList()),
            ("test loss", "#d62728", history.Where(h => h.TestLoss.HasValue).Select(h => (h.Epoch, h.TestLoss!.Value)).ToList()),
        };
        double maxLoss = losses.SelectMany(l => l.Item3).Select(p => p.Item2).Where(double.IsFinite).DefaultIfEmpty(1).Max();
        Panel(root, Margin, "loss (mean NLL)", epochs, 0, maxLoss <= 0 ? 1 : maxLoss * 1.05, losses);

        var accuracies = new List<(string, string, IReadOnlyList<(int, double)>)>
        {
            ("test accuracy", "#2ca02c", history.Where(h => h.TestAccuracy.HasValue).Select(h => (h.Epoch, h.TestAccuracy!.Value)).ToList()),
            ("excluded class", "#d62728", history.Where(h => h.ExcludedClassTestAccuracy.HasValue).Select(h => (h.Epoch, h.ExcludedClassTestAccuracy!.Value)).ToList()),
            ("other classes", "#1f77b4", history.Where(h => h.OtherClassesTestAccuracy.HasValue).Select(h => (h.Epoch, h.OtherClassesTestAccuracy!.Value)).ToList()),
        };
        Panel(root, rightPanel, "test accuracy (%)", epochs, 0, 100, accuracies.Where(a => a.Item3.Count > 0).ToList());
        return new XDocument(root).ToString();
    }

    static void Panel(XElement root, double left, string label, int epochs, double yMin, double yMax,
        IReadOnlyList<(string Name, string Colour, IReadOnlyList<(int Epoch, double Value)> Points)> series)
    {
        double X(double epoch) => left + PanelWidth * (epochs == 1 ? 0.5 : (epoch - 1) / (epochs - 1));
        double Y(double v) => Top + PanelHeight * (1 - (Math.Clamp(v, yMin, yMax) - yMin) / (yMax - yMin));
        root.Add(new XElement(Svg + "rect", new XAttribute("x", F(left)), new XAttribute("y", Top), new XAttribute("width", PanelWidth),
            new XAttribute("height", PanelHeight), new XAttribute("fill", "none"), new XAttribute("stroke", "#888888")));
        for (int t = 0; t <= 4; t++)
        {
            double v = yMin + (yMax - yMin) * t / 4;
            root.Add(Text(left - 6, Y(v) + 4, v.ToString(yMax >= 10 ? "F0" : "F2", CultureInfo.InvariantCulture), 11, "end"));
        }
        foreach (int e in EpochTicks(epochs))
            root.Add(Text(X(e), Top + PanelHeight + 16, e.ToString(CultureInfo.InvariantCulture), 11, "middle"));
        root.Add(Text(left + PanelWidth / 2.0, Top + PanelHeight + 34, "epoch", 12, "middle"));
        root.Add(Text(left + PanelWidth / 2.0, Top - 8, label, 13, "middle"));
        for (int i = 0; i < series.Count; i++)
        {
            var (name, colour, points) = series[i];
            if (points.Count == 0) continue;
            root.Add(new XElement(Svg + "polyline", new XAttribute("fill", "none"), new XAttribute("stroke", colour), new XAttribute("stroke-width", 2),
                new XAttribute("points", string.Join(" ", points.Select(p => $"{F(X(p.Epoch))},{F(Y(p.Value))}")))));
            double ly = Top + PanelHeight + 52;
            double lx = left + i * 140;
            root.Add(new XElement(Svg + "line", new XAttribute("x1", F(lx)), new XAttribute("y1", F(ly - 4)), new XAttribute("x2", F(lx + 20)),
                new XAttribute("y2", F(ly - 4)), new XAttribute("stroke", colour), new XAttribute("stroke-width", 2)));
            root.Add(Text(lx + 26, ly, name, 11, "start"));
        }
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

    static XElement Text(double x, double y, string text, int size, string anchor, string weight = "normal") =>
        new(Svg + "text", new XAttribute("x", F(x)), new XAttribute("y", F(y)), new XAttribute("font-size", size),
            new XAttribute("text-anchor", anchor), new XAttribute("font-weight", weight), text);

    static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
}
