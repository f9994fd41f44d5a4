using IlgpuUnlearn.IO;
using System.Globalization;
using System.Xml.Linq;

namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// The confusion matrix as an SVG picture: cells coloured by the fraction of their row (true class), counts
/// written in the cells, class names on both axes, the forget class's row and column outlined in red, the
/// per-class accuracy to the right, and a title with the card's four numbers.
/// </summary>
public static class ConfusionMatrixSvg
{
    private const int Cell = 56;
    private const int Left = 150;
    private const int Top = 150;
    private const int AccuracyColumn = 76;
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    public static string Render(UnlearningReport report, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(report);
        int k = report.ClassCount;
        int gridSize = k * Cell;
        int width = Left + gridSize + AccuracyColumn + 20;
        int height = Top + gridSize + 70;
        string red = Hex(ConfusionMatrixColours.Highlight);

        var root = new XElement(Svg + "svg",
            new XAttribute("width", width), new XAttribute("height", height),
            new XAttribute("viewBox", $"0 0 {width} {height}"),
            new XAttribute("font-family", "DejaVu Sans, Helvetica, Arial, sans-serif"));
        root.Add(new XElement(Svg + "rect", new XAttribute("width", width), new XAttribute("height", height), new XAttribute("fill", "white")));

        root.Add(Text(width / 2, 26, title ?? $"Confusion matrix, forget class: {report.ForgetClassName}", 17, "middle", weight: "bold"));
        root.Add(Text(width / 2, 48, Inv($"forget acc {ModelCardTable.Accuracy(report.ForgetAccuracy)}% (loss {ModelCardTable.Loss(report.ForgetLoss)})   ") +
            Inv($"retain acc {ModelCardTable.Accuracy(report.RetainAccuracy)}% (loss {ModelCardTable.Loss(report.RetainLoss)})"), 13, "middle"));

        for (int t = 0; t < k; t++)
        {
            for (int p = 0; p < k; p++)
            {
                double fraction = ConfusionMatrixColours.Fraction(report.ConfusionMatrix, t, p);
                int x = Left + p * Cell, y = Top + t * Cell;
                root.Add(new XElement(Svg + "rect",
                    new XAttribute("x", x), new XAttribute("y", y), new XAttribute("width", Cell), new XAttribute("height", Cell),
                    new XAttribute("fill", Hex(ConfusionMatrixColours.Cell(fraction))), new XAttribute("stroke", "#dddddd"),
                    new XElement(Svg + "title", Inv($"true {report.ClassNames[t]}, predicted {report.ClassNames[p]}: {report.ConfusionMatrix[t][p]}"))));
                root.Add(Text(x + Cell / 2, y + Cell / 2 + 5, report.ConfusionMatrix[t][p].ToString(CultureInfo.InvariantCulture), 13, "middle",
                    fill: ConfusionMatrixColours.DarkCell(fraction) ? "white" : "black"));
            }
        }

        // Class names: rows on the left, columns rotated above the grid; the forget class in red and bold.
        for (int i = 0; i < k; i++)
        {
            bool forget = i == report.ForgetClass;
            string fill = forget ? red : "black";
            string weight = forget ? "bold" : "normal";
            root.Add(Text(Left - 8, Top + i * Cell + Cell / 2 + 5, report.ClassNames[i], 13, "end", fill, weight));
            int cx = Left + i * Cell + Cell / 2;
            var column = Text(cx, Top - 8, report.ClassNames[i], 13, "start", fill, weight);
            column.Add(new XAttribute("transform", $"rotate(-45 {cx} {Top - 8})"));
            root.Add(column);
            root.Add(Text(Left + gridSize + AccuracyColumn / 2 + 4, Top + i * Cell + Cell / 2 + 5,
                double.IsNaN(report.PerClassAccuracy[i]) ? "-" : report.PerClassAccuracy[i].ToString("F1", CultureInfo.InvariantCulture) + "%",
                12, "middle", fill, weight));
        }
        root.Add(Text(Left + gridSize + AccuracyColumn / 2 + 4, Top - 8, "acc", 12, "middle", weight: "bold"));

        // The forget class's row (how its images are now classified) and column (what is still called it).
        root.Add(Outline(Left, Top + report.ForgetClass * Cell, gridSize, Cell, red));
        root.Add(Outline(Left + report.ForgetClass * Cell, Top, Cell, gridSize, red));

        root.Add(Text(Left + gridSize / 2, Top + gridSize + 30, "predicted class", 14, "middle", weight: "bold"));
        var axis = Text(24, Top + gridSize / 2, "true class", 14, "middle", weight: "bold");
        axis.Add(new XAttribute("transform", $"rotate(-90 24 {Top + gridSize / 2})"));
        root.Add(axis);
        root.Add(Text(Left, Top + gridSize + 55, "cell colour: fraction of the row (true class); red outline: forget class", 11, "start", "#555555"));

        var document = new XDocument(new XDeclaration("1.0", "utf-8", null), root);
        return document.Declaration + "\n" + document.Root!.ToString() + "\n";
    }

    /// <summary>Writes the picture to <paramref name="path"/> atomically.</summary>
    public static void Write(string path, UnlearningReport report, string? title = null) => AtomicFile.WriteAllText(path, Render(report, title));

    private static XElement Text(int x, int y, string content, int size, string anchor, string fill = "black", string weight = "normal") =>
        new(Svg + "text",
            new XAttribute("x", x), new XAttribute("y", y), new XAttribute("font-size", size),
            new XAttribute("text-anchor", anchor), new XAttribute("fill", fill), new XAttribute("font-weight", weight),
            content);

    private static XElement Outline(int x, int y, int w, int h, string colour) =>
        new(Svg + "rect",
            new XAttribute("x", x), new XAttribute("y", y), new XAttribute("width", w), new XAttribute("height", h),
            new XAttribute("fill", "none"), new XAttribute("stroke", colour), new XAttribute("stroke-width", 3));

    private static string Hex((byte R, byte G, byte B) c) => $"#{c.R:x2}{c.G:x2}{c.B:x2}";

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
