using IlgpuUnlearn.IO;
using System.Globalization;

namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// The confusion matrix as a PNG, laid out as the SVG is: the same title and line of the card's numbers, heat-map cells
/// with their counts, class names on both axes (columns written upwards), the per-class accuracy to the right, the axis
/// labels "true class" and "predicted class", the forget class's name, row and column in red, and the colour legend;
/// the letters come from the built-in <see cref="PixelFont"/>.
/// </summary>
public static class ConfusionMatrixPng
{
    private const int Cell = 56;
    private const int Left = 150;
    private const int Top = 150;
    private const int AccuracyColumn = 76;
    /// <summary>Column names stay below this line (the title's two lines are above it).</summary>
    private const int ColumnNamesTop = 58;
    private static readonly (byte, byte, byte) Black = (0, 0, 0);
    private static readonly (byte, byte, byte) White = (255, 255, 255);

    /// <param name="title">Default: "Confusion matrix, forget class: NAME", as the SVG's.</param>
    public static byte[] Render(UnlearningReport report, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(report);
        int k = report.ClassCount;
        int gridSize = k * Cell;
        int width = Left + gridSize + AccuracyColumn + 20;
        int height = Top + gridSize + 70;
        var canvas = new Canvas(width, height);
        canvas.Fill(0, 0, width, height, White);
        var red = ConfusionMatrixColours.Highlight;

        canvas.Text(width / 2, 26, title ?? $"Confusion matrix, forget class: {report.ForgetClassName}", Black, 2, Anchor.Middle, width - 8);
        canvas.Text(width / 2, 48, Inv($"forget acc {ModelCardTable.Accuracy(report.ForgetAccuracy)}% (loss {ModelCardTable.Loss(report.ForgetLoss)})   ") +
            Inv($"retain acc {ModelCardTable.Accuracy(report.RetainAccuracy)}% (loss {ModelCardTable.Loss(report.RetainLoss)})"), Black, 1, Anchor.Middle, width - 8);

        for (int t = 0; t < k; t++)
        {
            for (int p = 0; p < k; p++)
            {
                double fraction = ConfusionMatrixColours.Fraction(report.ConfusionMatrix, t, p);
                int x = Left + p * Cell, y = Top + t * Cell;
                canvas.Fill(x, y, Cell, Cell, ConfusionMatrixColours.Cell(fraction));
                canvas.Fill(x, y, Cell, 1, (221, 221, 221));
                canvas.Fill(x, y, 1, Cell, (221, 221, 221));
                var ink = ConfusionMatrixColours.DarkCell(fraction) ? White : Black;
                canvas.Text(x + Cell / 2, y + Cell / 2, report.ConfusionMatrix[t][p].ToString(CultureInfo.InvariantCulture), ink, 2, Anchor.Middle, Cell - 4);
            }
        }

        // Class names: rows on the left, columns upwards above the grid (below the title lines), one size for each axis;
        // the forget class in red.
        int longest = report.ClassNames.Max(n => PixelFont.Width(n, 2));
        int rowScale = longest <= Left - 12 ? 2 : 1, columnScale = longest <= Top - 8 - ColumnNamesTop ? 2 : 1;
        for (int i = 0; i < k; i++)
        {
            var ink = i == report.ForgetClass ? red : Black;
            canvas.Text(Left - 8, Top + i * Cell + Cell / 2, report.ClassNames[i], ink, rowScale, Anchor.End, Left - 12);
            canvas.TextUpwards(Left + i * Cell + Cell / 2, Top - 8, report.ClassNames[i], ink, columnScale, Top - 8 - ColumnNamesTop);
            string accuracy = double.IsNaN(report.PerClassAccuracy[i]) ? "-" : report.PerClassAccuracy[i].ToString("F1", CultureInfo.InvariantCulture) + "%";
            canvas.Text(Left + gridSize + AccuracyColumn / 2 + 4, Top + i * Cell + Cell / 2, accuracy, ink, 2, Anchor.Middle, AccuracyColumn - 4);
        }
        canvas.Text(Left + gridSize + AccuracyColumn / 2 + 4, Top - 12, "acc", Black, 2, Anchor.Middle, AccuracyColumn);

        canvas.Outline(Left, Top + report.ForgetClass * Cell, gridSize, Cell, red, 3);
        canvas.Outline(Left + report.ForgetClass * Cell, Top, Cell, gridSize, red, 3);

        canvas.Text(Left + gridSize / 2, Top + gridSize + 26, "predicted class", Black, 2, Anchor.Middle, gridSize);
        canvas.TextUpwards(24, Top + gridSize / 2 + PixelFont.Width("true class", 2) / 2, "true class", Black, 2, gridSize);
        canvas.Text(Left, Top + gridSize + 52, "cell colour: fraction of the row (true class); red outline: forget class", (85, 85, 85), 1, Anchor.Start, width - Left);
        return PngEncoder.Encode(width, height, canvas.Pixels);
    }

    /// <summary>Writes the picture to <paramref name="path"/> atomically.</summary>
    public static void Write(string path, UnlearningReport report) => AtomicFile.WriteAllBytes(path, Render(report));

    /// <summary>An RGB raster with the few drawing operations the picture needs.</summary>
    private sealed class Canvas(int width, int height)
    {
        public byte[] Pixels { get; } = new byte[width * height * 3];

        public void Fill(int x, int y, int w, int h, (byte R, byte G, byte B) c)
        {
            for (int yy = Math.Max(0, y); yy < Math.Min(height, y + h); yy++)
            {
                for (int xx = Math.Max(0, x); xx < Math.Min(width, x + w); xx++)
                {
                    int at = (yy * width + xx) * 3;
                    Pixels[at] = c.R;
                    Pixels[at + 1] = c.G;
                    Pixels[at + 2] = c.B;
                }
            }
        }

        public void Outline(int x, int y, int w, int h, (byte, byte, byte) c, int thickness)
        {
            Fill(x, y, w, thickness, c);
            Fill(x, y + h - thickness, w, thickness, c);
            Fill(x, y, thickness, h, c);
            Fill(x + w - thickness, y, thickness, h, c);
        }

        /// <summary>
        /// Writes <paramref name="text"/> on one line, vertically centred on <paramref name="y"/>, at <paramref name="scale"/>
        /// or, when that is wider than <paramref name="maxWidth"/>, at scale 1.
        /// </summary>
        public void Text(int x, int y, string text, (byte, byte, byte) c, int scale, Anchor anchor, int maxWidth)
        {
            if (PixelFont.Width(text, scale) > maxWidth) scale = 1;
            int textWidth = PixelFont.Width(text, scale);
            int x0 = anchor switch { Anchor.Start => x, Anchor.Middle => x - textWidth / 2, _ => x - textWidth };
            int y0 = y - PixelFont.GlyphHeight * scale / 2;
            for (int i = 0; i < text.Length; i++)
                for (int row = 0; row < PixelFont.GlyphHeight; row++)
                    for (int col = 0; col < PixelFont.GlyphWidth; col++)
                        if (PixelFont.IsSet(text[i], col, row))
                            Fill(x0 + (i * PixelFont.Advance + col) * scale, y0 + row * scale, scale, scale, c);
        }

        /// <summary>Writes <paramref name="text"/> turned a quarter left (read upwards), horizontally centred on x, starting at y.</summary>
        public void TextUpwards(int x, int y, string text, (byte, byte, byte) c, int scale, int maxLength)
        {
            if (PixelFont.Width(text, scale) > maxLength) scale = 1;
            int x0 = x - PixelFont.GlyphHeight * scale / 2;
            for (int i = 0; i < text.Length; i++)
                for (int row = 0; row < PixelFont.GlyphHeight; row++)
                    for (int col = 0; col < PixelFont.GlyphWidth; col++)
                        if (PixelFont.IsSet(text[i], col, row))
                            Fill(x0 + row * scale, y - (i * PixelFont.Advance + col + 1) * scale, scale, scale, c);
        }
    }

    private enum Anchor { Start, Middle, End }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
