using IlgpuUnlearn.IO;
using System.Globalization;

namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// The confusion matrix as a PNG: the same heat-map cells as the SVG with the counts written in a small
/// built-in digit font, class indices (0..k-1) along both axes, and the forget class's row and column outlined
/// in red. It has no letters; the SVG carries the class names and title.
/// </summary>
public static class ConfusionMatrixPng
{
    private const int Cell = 44;
    private const int Margin = 34;
    private const int Border = 12;

    // 3x5 digit glyphs, one row of 3 bits per entry, top row first.
    private static readonly int[][] Digits =
    [
        [7, 5, 5, 5, 7], [2, 6, 2, 2, 7], [7, 1, 7, 4, 7], [7, 1, 7, 1, 7], [5, 5, 7, 1, 1],
        [7, 4, 7, 1, 7], [7, 4, 7, 5, 7], [7, 1, 1, 2, 2], [7, 5, 7, 5, 7], [7, 5, 7, 1, 7],
    ];

    public static byte[] Render(UnlearningReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        int k = report.ClassCount;
        int width = Margin + k * Cell + Border;
        int height = Margin + k * Cell + Border;
        var canvas = new Canvas(width, height);
        canvas.Fill(0, 0, width, height, (255, 255, 255));

        for (int t = 0; t < k; t++)
        {
            for (int p = 0; p < k; p++)
            {
                double fraction = ConfusionMatrixColours.Fraction(report.ConfusionMatrix, t, p);
                int x = Margin + p * Cell, y = Margin + t * Cell;
                canvas.Fill(x, y, Cell, Cell, ConfusionMatrixColours.Cell(fraction));
                canvas.Fill(x, y, Cell, 1, (221, 221, 221));
                canvas.Fill(x, y, 1, Cell, (221, 221, 221));
                var ink = ConfusionMatrixColours.DarkCell(fraction) ? ((byte)255, (byte)255, (byte)255) : ((byte)0, (byte)0, (byte)0);
                canvas.Number(x + Cell / 2, y + Cell / 2, report.ConfusionMatrix[t][p], ink, Cell - 4);
            }
        }
        for (int i = 0; i < k; i++)
        {
            var ink = i == report.ForgetClass ? ConfusionMatrixColours.Highlight : ((byte)0, (byte)0, (byte)0);
            canvas.Number(Margin / 2, Margin + i * Cell + Cell / 2, i, ink, Margin - 4);
            canvas.Number(Margin + i * Cell + Cell / 2, Margin / 2, i, ink, Cell - 4);
        }
        int f = report.ForgetClass;
        canvas.Outline(Margin, Margin + f * Cell, k * Cell, Cell, ConfusionMatrixColours.Highlight, 3);
        canvas.Outline(Margin + f * Cell, Margin, Cell, k * Cell, ConfusionMatrixColours.Highlight, 3);
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

        /// <summary>Writes <paramref name="value"/> centred on (cx, cy), at scale 2 when it fits in <paramref name="maxWidth"/>.</summary>
        public void Number(int cx, int cy, long value, (byte, byte, byte) c, int maxWidth)
        {
            string digits = value.ToString(CultureInfo.InvariantCulture);
            int scale = digits.Length * 4 * 2 - 2 <= maxWidth ? 2 : 1;
            int advance = 4 * scale;
            int textWidth = digits.Length * advance - scale;
            int x0 = cx - textWidth / 2, y0 = cy - 5 * scale / 2;
            for (int d = 0; d < digits.Length; d++)
            {
                if (digits[d] is < '0' or > '9') continue;
                int[] glyph = Digits[digits[d] - '0'];
                for (int row = 0; row < 5; row++)
                    for (int col = 0; col < 3; col++)
                        if ((glyph[row] >> (2 - col) & 1) != 0)
                            Fill(x0 + d * advance + col * scale, y0 + row * scale, scale, scale, c);
            }
        }
    }
}
