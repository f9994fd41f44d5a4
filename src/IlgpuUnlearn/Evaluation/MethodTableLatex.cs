using System.Text;

namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// The method x metric table as a LaTeX table for papers, booktabs style (\toprule, \midrule, \bottomrule; no vertical
/// rules): one row per method, the base and retrained models first and last as in the other tables, each cell the mean
/// with, as SalUn's tables do, the distance to the retrained model in parentheses (signed here: value - retrained), and the
/// interval after it in small type where the table has one. Needs \usepackage{booktabs}. Text from the reports (method names, the title)
/// is escaped (<see cref="Escape"/>).
/// </summary>
public static class MethodTableLatex
{
    public static string Render(MethodTable table, string caption)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(caption);
        var text = new StringBuilder();
        text.Append("% Made by ilgpu-unlearn report. Needs \\usepackage{booktabs}; a wide table fits the page inside \\resizebox{\\textwidth}{!}{...} (graphicx).\n");
        text.Append("\\begin{table}[t]\n\\centering\n");
        text.Append("\\caption{").Append(Escape(caption)).Append(table.Retrained is null ? "" : " In parentheses: the distance to the retrained model (value $-$ retrained).")
            .Append(table.IntervalName is null ? "" : " In brackets: the " + Escape(table.IntervalName) + ".").Append("}\n");
        text.Append("\\begin{tabular}{l r ").Append(string.Join(" ", table.Figures.Select(_ => "r"))).Append("}\n\\toprule\n");
        text.Append("Method & Runs & ").Append(string.Join(" & ", table.Figures.Select(Escape))).Append(" \\\\\n\\midrule\n");
        foreach (var row in table.Rows)
        {
            text.Append(Escape(row.Method)).Append(" & ").Append(row.Runs);
            foreach (var f in table.Figures)
            {
                var v = row[f];
                text.Append(" & ");
                if (double.IsNaN(v.Value)) { text.Append("--"); continue; }
                text.Append(v.AtLeast ? "$\\geq$" : "").Append(MethodTable.Number(v.Value, f));
                double d = table.Distance(row, f);
                if (!double.IsNaN(d)) text.Append(" (").Append(d >= 0 ? "+" : "$-$").Append(MethodTable.Number(Math.Abs(d), f)).Append(')');
                if (v.HasInterval) text.Append(" {\\scriptsize [").Append(MethodTable.Number(v.Low, f)).Append(", ").Append(MethodTable.Number(v.High, f)).Append("]}");
            }
            text.Append(" \\\\\n");
        }
        text.Append("\\bottomrule\n\\end{tabular}\n\\end{table}\n");
        return text.ToString();
    }

    /// <summary>
    /// <paramref name="text"/> as LaTeX typesets it literally in text mode: the ten special characters # $ % &amp; _ { } ~ ^ \
    /// become \# \$ \% \&amp; \_ \{ \} \textasciitilde{} \textasciicircum{} \textbackslash{}, and &lt; &gt; | (which the default OT1 font encoding would print as other glyphs)
    /// become \textless{} \textgreater{} \textbar{}; a line break becomes a space.
    /// </summary>
    public static string Escape(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var s = new StringBuilder(text.Length + 8);
        foreach (char c in text)
            s.Append(c switch
            {
                '#' or '$' or '%' or '&' or '_' or '{' or '}' => "\\" + c,
                '~' => "\\textasciitilde{}",
                '^' => "\\textasciicircum{}",
                '\\' => "\\textbackslash{}",
                '<' => "\\textless{}",
                '>' => "\\textgreater{}",
                '|' => "\\textbar{}",
                '\r' or '\n' => " ",
                _ => c.ToString(),
            });
        return s.ToString();
    }
}
