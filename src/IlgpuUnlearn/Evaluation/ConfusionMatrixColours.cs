namespace IlgpuUnlearn.Evaluation;

/// <summary>The heat-map colours the SVG and PNG pictures share: white for 0, deep blue for a whole row.</summary>
internal static class ConfusionMatrixColours
{
    /// <summary>Colour of a cell holding <paramref name="fraction"/> (0..1) of its row.</summary>
    public static (byte R, byte G, byte B) Cell(double fraction)
    {
        double f = double.IsNaN(fraction) ? 0 : Math.Clamp(fraction, 0, 1);
        // A square root stretches the small off-diagonal fractions, where the interesting confusions are.
        f = Math.Sqrt(f);
        return (Mix(255, 8, f), Mix(255, 48, f), Mix(255, 107, f));
    }

    /// <summary>Whether text on a cell of this fraction should be white (dark cell) rather than black.</summary>
    public static bool DarkCell(double fraction) => !double.IsNaN(fraction) && Math.Sqrt(Math.Clamp(fraction, 0, 1)) > 0.55;

    public static (byte R, byte G, byte B) Highlight => (214, 39, 40);

    /// <summary>Row-normalised fraction of cell (t, p); NaN for an empty row.</summary>
    public static double Fraction(long[][] matrix, int t, int p)
    {
        long total = matrix[t].Sum();
        return total == 0 ? double.NaN : (double)matrix[t][p] / total;
    }

    private static byte Mix(int from, int to, double f) => (byte)Math.Round(from + (to - from) * f);
}
