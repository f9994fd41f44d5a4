using System.Globalization;
using System.Net;
using System.Text;

namespace IlgpuUnlearn.Evaluation;

/// <summary>One line or bar series of a chart: its legend name, colour (#rrggbb), values (NaN or null: no point), dashed or not.</summary>
public sealed record ChartSeries(string Name, string Colour, double[] Values, bool Dashed = false);

/// <summary>
/// The small SVG charts of the HTML report, each a standalone &lt;svg&gt; element with a viewBox (so CSS can scale it) and a
/// &lt;title&gt; per bar or point (the value on hover): grouped bars over categories, histograms of counts as shares,
/// and lines over categories. Text is escaped; numbers are written with the invariant culture.
/// </summary>
public static class ReportCharts
{
    const int Left = 46, Right = 12, Top = 34, Bottom = 46, LegendRow = 16;
    const double CharWidth = 6.2; // an upper bound of a sans-serif character's advance at font size 10, in pixels

    /// <summary>
    /// Grouped bars: one group per category, one bar per series, on a 0..<paramref name="yMax"/> axis; the category
    /// <paramref name="highlight"/> (the forget class) is labelled in red and bold.
    /// </summary>
    public static string GroupedBars(string title, IReadOnlyList<string> categories, IReadOnlyList<ChartSeries> series, double yMax, string yLabel,
        int? highlight = null, string? valueFormat = "F1")
    {
        ArgumentNullException.ThrowIfNull(categories);
        ArgumentNullException.ThrowIfNull(series);
        int bar = series.Count > 6 ? 8 : series.Count > 4 ? 10 : 14;
        int group = Math.Max(series.Count * bar + 8, (int)(categories.Max(c => c.Length) * CharWidth * 0.75) + 6);
        int plotWidth = categories.Count * group, plotHeight = 170;
        var (svg, width, height) = Open(title, plotWidth, plotHeight, series.Select(x => x.Name).ToList());
        Axis(svg, plotWidth, plotHeight, 0, yMax, yLabel);
        for (int c = 0; c < categories.Count; c++)
        {
            double x0 = Left + c * group + (group - series.Count * bar) / 2.0;
            for (int s = 0; s < series.Count; s++)
            {
                double v = series[s].Values[c];
                if (double.IsNaN(v)) continue;
                double h = Math.Clamp(v, 0, yMax) / yMax * plotHeight;
                svg.Append(Inv($"<rect x=\"{x0 + s * bar:F1}\" y=\"{Top + plotHeight - h:F1}\" width=\"{bar - 1}\" height=\"{h:F1}\" fill=\"{series[s].Colour}\"><title>{Esc(series[s].Name)}, {Esc(categories[c])}: {v.ToString(valueFormat, CultureInfo.InvariantCulture)}</title></rect>"));
            }
            bool red = c == highlight;
            svg.Append(Inv($"<text x=\"{Left + c * group + group / 2.0:F1}\" y=\"{Top + plotHeight + 13}\" text-anchor=\"middle\" font-size=\"9\"{(red ? " fill=\"#c0392b\" font-weight=\"bold\"" : "")}>{Esc(categories[c])}</text>"));
        }
        Legend(svg, series, plotHeight);
        return Close(svg);
    }

    /// <summary>
    /// Histograms of counts over bins (equal-width on the chart whatever the edges), each series drawn as its share of its
    /// own total per bin (a step line, the first series filled), with the edges written under the axis.
    /// </summary>
    public static string Histogram(string title, IReadOnlyList<double> edges, IReadOnlyList<(string Name, string Colour, int[] Counts, bool Dashed)> series, string xLabel)
    {
        ArgumentNullException.ThrowIfNull(edges);
        ArgumentNullException.ThrowIfNull(series);
        int bins = edges.Count - 1, binWidth = Math.Max(12, 300 / Math.Max(1, bins)), plotWidth = bins * binWidth, plotHeight = 130;
        var shares = series.Select(s => { double total = s.Counts.Sum(); return s.Counts.Select(c => total == 0 ? double.NaN : c / total).ToArray(); }).ToList();
        double yMax = Math.Max(0.05, shares.SelectMany(v => v).Where(v => !double.IsNaN(v)).DefaultIfEmpty(0).Max());
        yMax = Math.Ceiling(yMax * 10) / 10;
        var chartSeries = series.Select(s => new ChartSeries($"{s.Name} ({s.Counts.Sum():N0})", s.Colour, [], s.Dashed)).ToList();
        var (svg, width, height) = Open(title, plotWidth, plotHeight, chartSeries.Select(x => x.Name).ToList());
        Axis(svg, plotWidth, plotHeight, 0, yMax, "share");
        for (int s = 0; s < series.Count; s++)
        {
            if (shares[s].All(double.IsNaN)) continue;
            var points = new StringBuilder();
            for (int b = 0; b < bins; b++)
            {
                double y = Top + plotHeight - (double.IsNaN(shares[s][b]) ? 0 : shares[s][b]) / yMax * plotHeight;
                points.Append(Inv($"{Left + b * binWidth},{y:F1} {Left + (b + 1) * binWidth},{y:F1} "));
            }
            string fill = s == 0 ? $" fill=\"{series[s].Colour}\" fill-opacity=\"0.25\"" : " fill=\"none\"";
            string closed = s == 0 ? Inv($"{Left},{Top + plotHeight} ") + points + Inv($"{Left + plotWidth},{Top + plotHeight}") : points.ToString();
            svg.Append(Inv($"<polyline points=\"{closed.Trim()}\" stroke=\"{series[s].Colour}\" stroke-width=\"1.6\"{fill}{Dash(series[s].Dashed)}/>"));
            for (int b = 0; b < bins; b++)
                svg.Append(Inv($"<rect x=\"{Left + b * binWidth}\" y=\"{Top}\" width=\"{binWidth}\" height=\"{plotHeight}\" fill=\"transparent\"><title>{Esc(series[s].Name)}, [{Edge(edges[b])}, {Edge(edges[b + 1])}): {series[s].Counts[b]:N0} ({shares[s][b]:P1})</title></rect>"));
        }
        int every = Math.Max(1, (int)Math.Ceiling(bins / (plotWidth / 34.0)));
        for (int b = 0; b <= bins; b += every)
            svg.Append(Inv($"<text x=\"{Left + b * binWidth}\" y=\"{Top + plotHeight + 12}\" text-anchor=\"middle\" font-size=\"9\">{Edge(edges[b])}</text>"));
        svg.Append(Inv($"<text x=\"{Left + plotWidth / 2.0:F1}\" y=\"{Top + plotHeight + 25}\" text-anchor=\"middle\" font-size=\"10\">{Esc(xLabel)}</text>"));
        Legend(svg, chartSeries, plotHeight + 10);
        return Close(svg);
    }

    /// <summary>Lines over categories (CKA per stage, accuracy per step): a point per value, gaps where NaN, y from <paramref name="yMin"/> to <paramref name="yMax"/>.</summary>
    public static string Lines(string title, IReadOnlyList<string> categories, IReadOnlyList<ChartSeries> series, double yMin, double yMax, string yLabel,
        string? xLabel = null, string valueFormat = "F3")
    {
        ArgumentNullException.ThrowIfNull(categories);
        ArgumentNullException.ThrowIfNull(series);
        int step = Math.Max(categories.Count > 20 ? 8 : 30, (int)(categories.Max(c => c.Length) * CharWidth) + 4), plotWidth = Math.Max(200, (categories.Count - 1) * step + 20), plotHeight = 150;
        double X(int i) => Left + 10 + (categories.Count == 1 ? 0 : i * (plotWidth - 20.0) / (categories.Count - 1));
        var (svg, width, height) = Open(title, plotWidth, plotHeight, series.Select(x => x.Name).ToList());
        Axis(svg, plotWidth, plotHeight, yMin, yMax, yLabel);
        foreach (var s in series)
        {
            double Y(double v) => Top + plotHeight - (Math.Clamp(v, yMin, yMax) - yMin) / (yMax - yMin) * plotHeight;
            var segment = new StringBuilder();
            void Flush()
            {
                if (segment.Length > 0) svg.Append(Inv($"<polyline points=\"{segment.ToString().Trim()}\" fill=\"none\" stroke=\"{s.Colour}\" stroke-width=\"1.6\"{Dash(s.Dashed)}/>"));
                segment.Clear();
            }
            for (int i = 0; i < s.Values.Length && i < categories.Count; i++)
            {
                if (double.IsNaN(s.Values[i])) { Flush(); continue; }
                segment.Append(Inv($"{X(i):F1},{Y(s.Values[i]):F1} "));
                svg.Append(Inv($"<circle cx=\"{X(i):F1}\" cy=\"{Y(s.Values[i]):F1}\" r=\"2.2\" fill=\"{s.Colour}\"><title>{Esc(s.Name)}, {Esc(categories[i])}: {s.Values[i].ToString(valueFormat, CultureInfo.InvariantCulture)}</title></circle>"));
            }
            Flush();
        }
        int every = Math.Max(1, (int)Math.Ceiling(categories.Count / (plotWidth / 34.0)));
        for (int i = 0; i < categories.Count; i += every)
            svg.Append(Inv($"<text x=\"{X(i):F1}\" y=\"{Top + plotHeight + 12}\" text-anchor=\"middle\" font-size=\"9\">{Esc(categories[i])}</text>"));
        if (xLabel is not null) svg.Append(Inv($"<text x=\"{Left + plotWidth / 2.0:F1}\" y=\"{Top + plotHeight + 25}\" text-anchor=\"middle\" font-size=\"10\">{Esc(xLabel)}</text>"));
        Legend(svg, series, plotHeight + (xLabel is null ? 0 : 10));
        return Close(svg);
    }

    /// <summary>The picture, wide enough for the plot, the title and the longest legend name (a legend row is never cut off).</summary>
    static (StringBuilder Svg, int Width, int Height) Open(string title, int plotWidth, int plotHeight, IReadOnlyList<string> legend)
    {
        int width = (int)Math.Max(Math.Max(Left + plotWidth + Right, title.Length * 7.2 + 16), Left + 24 + legend.Select(n => n.Length).DefaultIfEmpty(0).Max() * CharWidth + 8);
        int height = Top + plotHeight + Bottom + 10 + LegendRow * legend.Count;
        var svg = new StringBuilder(Inv($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"10\">"));
        svg.Append(Inv($"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>"));
        svg.Append(Inv($"<text x=\"8\" y=\"16\" font-size=\"12\" font-weight=\"bold\">{Esc(title)}</text>"));
        return (svg, width, height);
    }

    static void Axis(StringBuilder svg, int plotWidth, int plotHeight, double yMin, double yMax, string yLabel)
    {
        for (int t = 0; t <= 4; t++)
        {
            double v = yMin + (yMax - yMin) * t / 4, y = Top + plotHeight - t / 4.0 * plotHeight;
            string label = Math.Abs(yMax - yMin) >= 10 ? v.ToString("0", CultureInfo.InvariantCulture) : v.ToString("0.##", CultureInfo.InvariantCulture);
            svg.Append(Inv($"<line x1=\"{Left}\" y1=\"{y:F1}\" x2=\"{Left + plotWidth}\" y2=\"{y:F1}\" stroke=\"#e3e3e3\"/><text x=\"{Left - 4}\" y=\"{y + 3:F1}\" text-anchor=\"end\" font-size=\"9\">{label}</text>"));
        }
        svg.Append(Inv($"<text x=\"10\" y=\"{Top + plotHeight / 2.0:F1}\" text-anchor=\"middle\" font-size=\"9\" transform=\"rotate(-90 10 {Top + plotHeight / 2.0:F1})\">{Esc(yLabel)}</text>"));
        svg.Append(Inv($"<line x1=\"{Left}\" y1=\"{Top + plotHeight}\" x2=\"{Left + plotWidth}\" y2=\"{Top + plotHeight}\" stroke=\"#888\"/>"));
    }

    static void Legend(StringBuilder svg, IReadOnlyList<ChartSeries> series, int plotHeight)
    {
        for (int s = 0; s < series.Count; s++)
        {
            double y = Top + plotHeight + 34 + LegendRow * s;
            svg.Append(Inv($"<line x1=\"{Left}\" y1=\"{y - 4:F1}\" x2=\"{Left + 18}\" y2=\"{y - 4:F1}\" stroke=\"{series[s].Colour}\" stroke-width=\"{(series[s].Values.Length == 0 || series[s].Dashed ? 2 : 6)}\"{Dash(series[s].Dashed)}/>"));
            svg.Append(Inv($"<text x=\"{Left + 24}\" y=\"{y:F1}\">{Esc(series[s].Name)}</text>"));
        }
    }

    static string Close(StringBuilder svg) => svg.Append("</svg>").ToString();

    static string Dash(bool dashed) => dashed ? " stroke-dasharray=\"4 3\"" : "";

    static string Edge(double e) => e.ToString("0.###", CultureInfo.InvariantCulture);

    static string Esc(string s) => WebUtility.HtmlEncode(s);

    static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
