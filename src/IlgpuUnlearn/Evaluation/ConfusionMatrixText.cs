using System.Globalization;
using System.Text;

namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// The confusion matrix as aligned text for a terminal: rows are true classes, columns predictions, the
/// forget class marked with '*', each row ending with its accuracy.
/// </summary>
public static class ConfusionMatrixText
{
    public static string Format(UnlearningReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        int k = report.ClassCount;
        var names = report.ClassNames.Select((n, i) => i == report.ForgetClass ? n + "*" : n).ToArray();
        int rowLabelWidth = Math.Max(10, names.Max(n => n.Length));
        long largest = report.ConfusionMatrix.SelectMany(r => r).DefaultIfEmpty(0).Max();
        int cellWidth = Math.Max(6, largest.ToString(CultureInfo.InvariantCulture).Length + 1);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture,
            $"Confusion matrix (rows: true class, columns: predicted); * = forget class {report.ForgetClass} ({report.ForgetClassName})\n");
        text.Append(' ', rowLabelWidth);
        for (int p = 0; p < k; p++) text.Append(Abbreviate(names[p], cellWidth - 1).PadLeft(cellWidth));
        text.Append("   acc %\n");
        for (int t = 0; t < k; t++)
        {
            text.Append(names[t].PadRight(rowLabelWidth));
            for (int p = 0; p < k; p++)
                text.Append(report.ConfusionMatrix[t][p].ToString(CultureInfo.InvariantCulture).PadLeft(cellWidth));
            text.Append(report.PerClassAccuracy[t].ToString("F2", CultureInfo.InvariantCulture).PadLeft(8)).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>The first characters of a name, keeping a trailing '*' mark.</summary>
    private static string Abbreviate(string name, int width)
    {
        if (name.Length <= width) return name;
        bool marked = name.EndsWith('*');
        return marked ? name[..(width - 1)] + "*" : name[..width];
    }
}
