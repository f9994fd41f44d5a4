using System.Text;

namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// The method x metric table as a LaTeX table for papers, booktabs style (\toprule, \midrule, \bottomrule; no vertical
/// rules): one row per method, the base and retrained models first and last as in the other tables, each cell the mean
/// with, as SalUn's tables do, the distance to the retrained model in parentheses (signed here: value - retrained), and the
/// interval after it in small type where the table has one. Negative numbers carry a real minus ($-$), not a hyphen. An
/// interval of zero width (every seed gave the same value) is marked $^\dagger$ and explained in the caption.
/// Needs \usepackage{booktabs} and \usepackage{graphicx}. Text from the reports (method names, the title) is escaped
/// (<see cref="Escape"/>).
/// </summary>
/// <remarks>
/// Width: a full table (15 figures, each with a distance and an interval) is about 3.4 times a default article's text
/// width. The tabular is set in a box first and scaled down to \linewidth only when it is wider (a narrow table keeps its
/// size): every column stays (a paper compares all figures side by side, and dropping columns would hide some), and the
/// table fits any page or column (\linewidth, so also in two-column layouts). The price is small type for a wide table;
/// a reader who wants it larger can drop columns from the source or use a landscape page.
/// </remarks>
public static class MethodTableLatex
{
    public static string Render(MethodTable table, string caption)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(caption);
        bool zeroWidth = table.Rows.Any(r => table.Figures.Any(f => r[f].IsZeroWidth));
        var text = new StringBuilder();
        text.Append("% Made by ilgpu-unlearn report. Needs \\usepackage{booktabs} and \\usepackage{graphicx}; a table wider than the line is scaled down to \\linewidth.\n");
        text.Append("\\begin{table}[t]\n\\centering\n");
        text.Append("\\caption{").Append(Escape(caption)).Append(table.Retrained is null ? "" : " In parentheses: the distance to the retrained model (value $-$ retrained).")
            .Append(table.IntervalName is null ? "" : " In brackets: the " + Escape(table.IntervalName) + ".")
            .Append(zeroWidth ? " $^\\dagger$ Zero-width interval: every seed gave the same value, so the seeds varied nothing (not a certain figure)." : "").Append("}\n");
        // The tabular in box 0 (no % at line ends: spaces after } in vertical mode are ignored), scaled only when too wide.
        text.Append("\\sbox0{\\begin{tabular}{l r ").Append(string.Join(" ", table.Figures.Select(_ => "r"))).Append("}\n\\toprule\n");
        text.Append("Method & Runs & ").Append(string.Join(" & ", table.Figures.Select(Escape))).Append(" \\\\\n\\midrule\n");
        foreach (var row in table.Rows)
        {
            text.Append(Escape(row.Method)).Append(" & ").Append(row.Runs);
            foreach (var f in table.Figures)
            {
                var v = row[f];
                text.Append(" & ");
                if (double.IsNaN(v.Value)) { text.Append("--"); continue; }
                text.Append(v.AtLeast ? "$\\geq$" : "").Append(Number(v.Value, f));
                double d = table.Distance(row, f);
                if (!double.IsNaN(d)) text.Append(" (").Append(d >= 0 ? "+" : "$-$").Append(MethodTable.Number(Math.Abs(d), f)).Append(')');
                if (v.HasInterval) text.Append(" {\\scriptsize [").Append(Number(v.Low, f)).Append(", ").Append(Number(v.High, f)).Append("]}");
                if (v.IsZeroWidth) text.Append("$^\\dagger$");
            }
            text.Append(" \\\\\n");
        }
        text.Append("\\bottomrule\n\\end{tabular}}\n");
        text.Append("\\ifdim\\wd0>\\linewidth\\resizebox{\\linewidth}{!}{\\usebox0}\\else\\usebox0\\fi\n");
        text.Append("\\end{table}\n");
        return text.ToString();
    }

    /// <summary><see cref="MethodTable.Number"/> with a typeset minus ($-$0.10) for a negative number instead of a hyphen.</summary>
    public static string Number(double value, string figure)
    {
        string s = MethodTable.Number(value, figure);
        return s.StartsWith('-') ? "$-$" + s[1..] : s;
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
