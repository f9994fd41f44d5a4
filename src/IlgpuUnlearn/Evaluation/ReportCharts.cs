using System.Globalization;
using System.Net;
using System.Text;
using System.Xml.Linq;

namespace IlgpuUnlearn.Evaluation;

/// <summary>One line or bar series of a chart: its legend name, colour (#rrggbb), values (NaN or null: no point), dashed or not.</summary>
public sealed record ChartSeries(string Name, string Colour, double[] Values, bool Dashed = false);

/// <summary>
/// The small SVG charts of the HTML report, each a standalone &lt;svg&gt; element with a viewBox (so CSS can scale it) and a
/// &lt;title&gt; per bar or point (the value on hover): grouped bars over categories (per-class accuracy, the methods'
/// means), histograms of counts as shares, lines over categories (CKA, relearning, training curves), and charts side by
/// side. The tool's one writer of bar and line charts (the HTML report's, report --svg's, train's curves; the confusion
/// matrix has its own, <see cref="ConfusionMatrixSvg"/>). Sizes are in pixels (user units of the viewBox). Text is
/// escaped; numbers are written with the invariant culture.
/// </summary>
public static class ReportCharts
{
    const int Left = 46, Right = 12, Top = 34, Bottom = 46, LegendRow = 16, SubtitleRow = 14;
    const double CharWidth = 6.2; // an upper bound of a sans-serif character's advance at font size 10, in pixels

    /// <summary>
    /// Grouped bars: one group per category, one bar per series (<see cref="ChartSeries.Values"/>: one value per category,
    /// in <paramref name="yLabel"/>'s unit), on a 0..<paramref name="yMax"/> axis (values outside are drawn at its ends);
    /// each bar's &lt;title&gt; is "series, category: value" in <paramref name="valueFormat"/>. The category
    /// <paramref name="highlight"/> (the forget class) is labelled in red and bold; <paramref name="subtitle"/>, if given, is a
    /// line under the title (e.g. the units of each group).
    /// </summary>
    public static string GroupedBars(string title, IReadOnlyList<string> categories, IReadOnlyList<ChartSeries> series, double yMax, string yLabel,
        int? highlight = null, string? valueFormat = "F1", string? subtitle = null)
    {
        ArgumentNullException.ThrowIfNull(categories);
        ArgumentNullException.ThrowIfNull(series);
        int bar = series.Count > 6 ? 8 : series.Count > 4 ? 10 : 14;
        // Each group is as wide as its bars and its label (at font size 9, 0.9 of the size-10 bound), and a gap between labels.
        int group = (int)Math.Ceiling(Math.Max(series.Count * bar + 8, categories.Max(c => c.Length) * CharWidth * 0.9 + 6));
        int plotWidth = categories.Count * group, plotHeight = 170;
        var svg = Open(title, plotWidth, plotHeight, series.Select(x => x.Name).ToList(), subtitle);
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
        Legend(svg, series, plotHeight, lines: false);
        return Close(svg, subtitle);
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
        var svg = Open(title, plotWidth, plotHeight, chartSeries.Select(x => x.Name).ToList());
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
        Legend(svg, chartSeries, plotHeight + 10, lines: true);
        return Close(svg);
    }

    /// <summary>
    /// Lines over categories (CKA per stage, accuracy per step, loss per epoch): a point per value (its &lt;title&gt;
    /// "series, category: value" in <paramref name="valueFormat"/>), gaps where NaN, y from <paramref name="yMin"/> to
    /// <paramref name="yMax"/> (values outside drawn at the ends). Categories are evenly spaced; <paramref name="xTicks"/>
    /// (indices into <paramref name="categories"/>) are the ones labelled under the axis, by default as many as fit.
    /// <paramref name="plotWidth"/> (pixels) is by default wide enough for every category's label.
    /// </summary>
    public static string Lines(string title, IReadOnlyList<string> categories, IReadOnlyList<ChartSeries> series, double yMin, double yMax, string yLabel,
        string? xLabel = null, string valueFormat = "F3", IReadOnlyList<int>? xTicks = null, int? plotWidth = null)
    {
        ArgumentNullException.ThrowIfNull(categories);
        ArgumentNullException.ThrowIfNull(series);
        int step = Math.Max(categories.Count > 20 ? 8 : 30, (int)(categories.Max(c => c.Length) * CharWidth) + 4), plotHeight = 150;
        int width = plotWidth ?? Math.Max(200, (categories.Count - 1) * step + 20);
        double X(int i) => Left + 10 + (categories.Count == 1 ? (width - 20) / 2.0 : i * (width - 20.0) / (categories.Count - 1));
        // Points closer than a marker's width are drawn as the line alone; their markers stay, unpainted, for the values on hover.
        bool markers = categories.Count == 1 || (width - 20.0) / (categories.Count - 1) >= 6;
        var svg = Open(title, width, plotHeight, series.Select(x => x.Name).ToList());
        Axis(svg, width, plotHeight, yMin, yMax, yLabel);
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
                svg.Append(Inv($"<circle cx=\"{X(i):F1}\" cy=\"{Y(s.Values[i]):F1}\" r=\"2.2\" fill=\"{s.Colour}\"{(markers ? "" : " fill-opacity=\"0\"")}><title>{Esc(s.Name)}, {Esc(categories[i])}: {s.Values[i].ToString(valueFormat, CultureInfo.InvariantCulture)}</title></circle>"));
            }
            Flush();
        }
        int every = Math.Max(1, (int)Math.Ceiling(categories.Count / (width / 34.0)));
        foreach (int i in xTicks ?? Enumerable.Range(0, categories.Count).Where(i => i % every == 0).ToList())
            svg.Append(Inv($"<text x=\"{X(i):F1}\" y=\"{Top + plotHeight + 12}\" text-anchor=\"middle\" font-size=\"9\">{Esc(categories[i])}</text>"));
        if (xLabel is not null) svg.Append(Inv($"<text x=\"{Left + width / 2.0:F1}\" y=\"{Top + plotHeight + 25}\" text-anchor=\"middle\" font-size=\"10\">{Esc(xLabel)}</text>"));
        Legend(svg, series, plotHeight + (xLabel is null ? 0 : 10), lines: true);
        return Close(svg);
    }

    /// <summary>
    /// Charts of this class (each a whole &lt;svg&gt;, as the methods above return it) side by side under one title, their
    /// tops aligned, as one picture as wide and as tall as they need.
    /// </summary>
    /// <exception cref="ArgumentException">A chart is not an &lt;svg&gt; element with a width and a height.</exception>
    public static string SideBySide(string title, IReadOnlyList<string> charts)
    {
        ArgumentNullException.ThrowIfNull(charts);
        const int gap = 8, titleHeight = 28;
        var parsed = charts.Select(c =>
        {
            var e = XElement.Parse(c);
            if (e.Name.LocalName != "svg" || !int.TryParse((string?)e.Attribute("width"), CultureInfo.InvariantCulture, out int w) ||
                !int.TryParse((string?)e.Attribute("height"), CultureInfo.InvariantCulture, out int h))
                throw new ArgumentException("a chart to place side by side is not an <svg> with a whole-pixel width and height", nameof(charts));
            return (Svg: e, Width: w, Height: h);
        }).ToList();
        int width = (int)Math.Max(parsed.Sum(p => p.Width) + gap * Math.Max(0, parsed.Count - 1), title.Length * 9.0 + 16); // 9 px: 7.2 at size 12, scaled to 15
        int height = titleHeight + parsed.Select(p => p.Height).DefaultIfEmpty(0).Max();
        var svg = new StringBuilder(Inv($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"10\">"));
        svg.Append(Inv($"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>"));
        svg.Append(Inv($"<text x=\"8\" y=\"20\" font-size=\"15\" font-weight=\"bold\">{Esc(title)}</text>"));
        int x = 0;
        foreach (var (chart, w, _) in parsed)
        {
            chart.SetAttributeValue("x", x);
            chart.SetAttributeValue("y", titleHeight);
            svg.Append(chart.ToString(SaveOptions.DisableFormatting));
            x += w + gap;
        }
        return svg.Append("</svg>").ToString();
    }

    /// <summary>
    /// The picture, wide enough for the plot, the title, the subtitle and the longest legend name (a legend row is never cut
    /// off); with a subtitle, everything under it is moved down a line (a group that <see cref="Close"/> ends).
    /// </summary>
    static StringBuilder Open(string title, int plotWidth, int plotHeight, IReadOnlyList<string> legend, string? subtitle = null)
    {
        int width = (int)Math.Max(Math.Max(Left + plotWidth + Right, title.Length * 7.2 + 16), Left + 24 + legend.Select(n => n.Length).DefaultIfEmpty(0).Max() * CharWidth + 8);
        if (subtitle is not null) width = Math.Max(width, (int)Math.Ceiling(subtitle.Length * CharWidth + 16));
        int height = Top + plotHeight + Bottom + 10 + LegendRow * legend.Count + (subtitle is null ? 0 : SubtitleRow);
        var svg = new StringBuilder(Inv($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"10\">"));
        svg.Append(Inv($"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>"));
        svg.Append(Inv($"<text x=\"8\" y=\"16\" font-size=\"12\" font-weight=\"bold\">{Esc(title)}</text>"));
        if (subtitle is not null) svg.Append(Inv($"<text x=\"8\" y=\"31\">{Esc(subtitle)}</text><g transform=\"translate(0 {SubtitleRow})\">"));
        return svg;
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

    /// <summary>A row per series under the plot: a swatch (a thin line where <paramref name="lines"/> or dashed, else a bar's thick one) and its name.</summary>
    static void Legend(StringBuilder svg, IReadOnlyList<ChartSeries> series, int plotHeight, bool lines)
    {
        for (int s = 0; s < series.Count; s++)
        {
            double y = Top + plotHeight + 34 + LegendRow * s;
            svg.Append(Inv($"<line x1=\"{Left}\" y1=\"{y - 4:F1}\" x2=\"{Left + 18}\" y2=\"{y - 4:F1}\" stroke=\"{series[s].Colour}\" stroke-width=\"{(lines || series[s].Dashed ? 2 : 6)}\"{Dash(series[s].Dashed)}/>"));
            svg.Append(Inv($"<text x=\"{Left + 24}\" y=\"{y:F1}\">{Esc(series[s].Name)}</text>"));
        }
    }

    /// <summary>Ends the picture (and the group under a subtitle, where <paramref name="subtitle"/> is given as to <see cref="Open"/>).</summary>
    static string Close(StringBuilder svg, string? subtitle = null) => svg.Append(subtitle is null ? "</svg>" : "</g></svg>").ToString();

    static string Dash(bool dashed) => dashed ? " stroke-dasharray=\"4 3\"" : "";

    static string Edge(double e) => e.ToString("0.###", CultureInfo.InvariantCulture);

    static string Esc(string s) => WebUtility.HtmlEncode(s);

    static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
